// The age identity and recipient of an OpenSSH ed25519 host key, as sops-nix derives them: the
// one conversion, kept in tools/rekey/age_keys.ts, reached through tools/lib so that other tools
// do not import a tool's internals.
export { sshPrivateKeyToAgeIdentity, sshPublicKeyToAge } from "../rekey/age_keys.ts";
