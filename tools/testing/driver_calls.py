"""Compiles a NixOS test script and lists the test driver's calls it makes that a list omits.

Usage: python3 driver_calls.py SCRIPT METHODS_TSV MACHINE...

Prints one JSON object: {"error": "<compile error>"} when the script does not compile (what
py_compile checks), else {"unknown": ["<line>: <call>", ...]}: every `<machine>.<method>(...)`
whose method is not a `machine` row of METHODS_TSV, every method called on a name that is no
machine and that the script does not define (a misspelt machine), and every call of a bare name
the script neither defines nor imports and Python does not provide whose name is not a `global`
row.
"""

import ast
import builtins
import json
import sys


def main() -> None:
    script, methods_tsv, *machines = sys.argv[1:]
    rows = [
        line.split("\t")
        for line in open(methods_tsv, encoding="utf-8").read().splitlines()
        if line and not line.startswith("#")
    ][1:]
    methods = {row[0] for row in rows if row[1] == "machine"}
    globals_ = {row[0] for row in rows if row[1] == "global"}
    source = open(script, encoding="utf-8").read()
    try:
        tree = ast.parse(compile(source, script, "exec", ast.PyCF_ONLY_AST))
        compile(tree, script, "exec")
    except SyntaxError as error:
        print(json.dumps({"error": f"{error.filename}:{error.lineno}: {error.msg}"}))
        return
    defined = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    unknown = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            receiver = func.value.id
            if receiver in machines and func.attr not in methods:
                unknown.append(f"{node.lineno}: {receiver}.{func.attr}")
            elif receiver not in machines and receiver not in defined and receiver not in globals_:
                # A misspelt machine: the driver would fail on the undefined name.
                unknown.append(f"{node.lineno}: {receiver}.{func.attr}")
        elif isinstance(func, ast.Name) and func.id not in defined and func.id not in globals_:
            unknown.append(f"{node.lineno}: {func.id}")
    print(json.dumps({"unknown": unknown}))


main()
