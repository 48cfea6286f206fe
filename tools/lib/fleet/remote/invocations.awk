# systemctl show blocks (Id=, InvocationID=, a blank line) to "<unit> <invocation id>" lines
# (the id may be empty). No single quote here: the scripts embed this program in one.
/^Id=/ { id = substr($0, 4) }
/^InvocationID=/ { inv = substr($0, 14) }
/^$/ { if (id != "") print id, inv; id = ""; inv = "" }
END { if (id != "") print id, inv }
