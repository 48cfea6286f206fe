// The shared library of the tools: command runner, errors, files, repository, nix, CLI.
export * from "./errors.ts";
export * from "./quote.ts";
export * from "./runner.ts";
export * from "./fs.ts";
export * from "./repo.ts";
export * from "./nix.ts";
export * from "./validate.ts";
export * from "./cli.ts";
export * from "./main.ts";
export * from "./host_name.ts";
