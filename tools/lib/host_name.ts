// The one rule for host names, shared by index, rekey, secrets and deploy. A host's name is at
// once a folder under configurations/, a Nix attribute, a `.sops.yaml` anchor (`&host_<name>`),
// a secrets file name and the machine's hostname, so it must be valid as all of them.

/** What a host name may be, in words, for error messages. */
export const HOST_NAME_RULE =
  "a host name is 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'";

const HOST_NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** True when `name` follows the host name rule. */
export function isHostName(name: string): boolean {
  return HOST_NAME.test(name);
}

/** Why `name` is not a host name, or undefined when it is one. */
export function hostNameProblem(name: string): string | undefined {
  if (isHostName(name)) return undefined;
  return `"${name}" is not a valid host name: ${HOST_NAME_RULE}`;
}
