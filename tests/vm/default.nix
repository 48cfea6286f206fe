# The fleet's NixOS VM tests, as checks of one system: `vm-<host>` boots the host (its
# profile, mixins and services; not its disks or real keys) beside a probe machine and runs
# ./host.py; `vm-<host>-disks` installs the host's disko layout on empty disks with disko's
# own VM test (its `system.build.installTest`), boots it and runs ./disks.py. Installer hosts
# (tag "installer") get neither. Every test decrypts secrets made for it at build time with
# a throw-away age identity (never a host's or an admin's key). Only a machine with KVM
# builds and boots them (`nix flake check`); the offline evaluation (tools/nix_eval_test.ts)
# evaluates them against the stub's model of the test driver and tools/vm_tests_test.ts checks
# the scripts' driver calls against ./driver-methods.tsv.
{
  lib,
  pkgs,
  inputs,
  self,
  system,
}:
let
  facts = import ../../lib/hosts.nix;
  hostDirs = import ../../configurations/nixos-configurations.nix;
  tested = lib.filterAttrs (
    host: _: facts.${host}.system == system && !(lib.elem "installer" facts.${host}.tags)
  ) self.nixosConfigurations;

  # TEST ONLY: the SSH key the probe logs in with, added beside the admins' keys in the test
  # VMs only. Its private half is committed on purpose; it opens nothing but these VMs.
  testAdminKey = lib.removeSuffix "\n" (builtins.readFile ./TEST-ONLY-admin-ed25519.pub);
  testAdminPrivateKey = ./TEST-ONLY-admin-ed25519;

  # Where the test VMs find the throw-away age identity (sops.age.keyFile may not be a store
  # path: sops-nix types it pathNotInStore).
  ageKeyFile = "/var/lib/vm-test/age-identity.txt";
  password = user: "vm-test-password-${user}";
  # The disko test's passphrase of every LUKS device (disko's test writes it to /tmp/secret.key).
  luksPassphrase = "secretsecret";

  addresses = {
    lan = {
      host = "192.168.1.10";
      probe = "192.168.1.20";
    };
    monitoring = {
      host = "192.168.2.10";
      probe = "192.168.2.20";
    };
  };

  # A node on both test networks (vlan 1, the LAN; vlan 2, the monitoring network) at its
  # role's addresses.
  onBothNetworks =
    role:
    { lib, ... }:
    {
      virtualisation.vlans = [
        1
        2
      ];
      networking.interfaces.eth1.ipv4.addresses = lib.mkForce [
        {
          address = addresses.lan.${role};
          prefixLength = 24;
        }
      ];
      networking.interfaces.eth2.ipv4.addresses = lib.mkForce [
        {
          address = addresses.monitoring.${role};
          prefixLength = 24;
        }
      ];
    };

  # A node name that is a Python name (older drivers refuse others; newer ones rename them).
  pythonName = name: lib.replaceStrings [ "-" "." ] [ "_" "_" ] name;

  # The secrets of one host, from its own evaluation, and the test files that replace its sops
  # files: one per sops file the host reads, every key given a known test value, every
  # `passwords/<user>` key a hash of that user's test password.
  secretsOf =
    host: nixos:
    let
      cfg = nixos.config;
      secrets = lib.attrValues cfg.sops.secrets;
      files = lib.unique (map (secret: toString secret.sopsFile) secrets);
      fileIndex = secret: lib.lists.findFirstIndex (f: f == toString secret.sopsFile) null files;
      fileName = secret: "secrets-${toString (fileIndex secret)}.yaml";
      passwordUsers = cfg.devops.passwords.users ++ lib.optional cfg.devops.passwords.root "root";
      passwordUser = secret: lib.removePrefix "passwords/" secret.name;
      isPassword =
        secret:
        lib.hasPrefix "passwords/" secret.name && lib.elem (passwordUser secret) passwordUsers;
      inFile = file: builtins.filter (secret: toString secret.sopsFile == file) secrets;
      value = secret: "vm-test-value:${secret.name}";
      plan = lib.imap0 (i: file: {
        name = "secrets-${toString i}.yaml";
        tree = lib.foldl' lib.recursiveUpdate { } (
          map (secret: lib.setAttrByPath (lib.splitString "/" secret.key) (value secret)) (
            inFile file
          )
        );
        passwords = map (secret: {
          path = lib.splitString "/" secret.key;
          user = passwordUser secret;
        }) (builtins.filter isPassword (inFile file));
      }) files;
      keys =
        pkgs.runCommand "vm-test-${host}-keys"
          {
            nativeBuildInputs = [
              pkgs.age
              pkgs.jq
              pkgs.mkpasswd
              pkgs.sops
            ];
            plan = builtins.toJSON plan;
          }
          ''
            mkdir -p "$out"
            export HOME="$TMPDIR"
            # TEST ONLY: a throw-away age identity made for this test's VMs, never a host's key.
            age-keygen -o "$out/age-identity.txt" 2>/dev/null
            recipient=$(age-keygen -y "$out/age-identity.txt")
            printf '%s' "$plan" > plan.json
            count=$(jq length plan.json)
            for i in $(seq 0 $((count - 1))); do
              jq ".[$i].tree" plan.json > tree.json
              for j in $(jq -r ".[$i].passwords | keys[]" plan.json); do
                user=$(jq -r ".[$i].passwords[$j].user" plan.json)
                hash=$(mkpasswd --method=sha-512 "vm-test-password-$user")
                path=$(jq -c ".[$i].passwords[$j].path" plan.json)
                jq --argjson path "$path" --arg hash "$hash" 'setpath($path; $hash)' tree.json > next.json
                mv next.json tree.json
              done
              sops --encrypt --age "$recipient" --input-type json --output-type yaml tree.json \
                > "$out/$(jq -r ".[$i].name" plan.json)"
            done
          '';
    in
    {
      inherit
        keys
        passwordUsers
        secrets
        value
        isPassword
        ;
      fileOf = secret: "${keys}/${fileName secret}";
    };

  # NixOS configuration of a test VM of `host`: its secrets from the test files, decrypted with
  # the throw-away identity, which an activation script puts in place before sops-nix runs.
  testSecretsModule =
    host: nixos:
    let
      s = secretsOf host nixos;
      forUsers = builtins.filter (secret: secret.neededForUsers) s.secrets;
      regular = builtins.filter (secret: !secret.neededForUsers) s.secrets;
    in
    { lib, ... }:
    {
      sops = {
        age.keyFile = ageKeyFile;
        age.sshKeyPaths = lib.mkForce [ ];
        # The test files are built, not in the flake: nothing to check at evaluation.
        validateSopsFiles = false;
        secrets = lib.listToAttrs (
          map (
            secret: lib.nameValuePair secret.name { sopsFile = lib.mkForce (s.fileOf secret); }
          ) s.secrets
        );
      };
      system.activationScripts = {
        vm-test-age-identity = lib.stringAfter [ "specialfs" ] ''
          install -D -m 0400 ${s.keys}/age-identity.txt ${ageKeyFile}
        '';
        # sops-nix's own scripts (present only when it has such secrets) run after it.
        setupSecrets = lib.mkIf (regular != [ ]) { deps = [ "vm-test-age-identity" ]; };
        setupSecretsForUsers = lib.mkIf (forUsers != [ ]) { deps = [ "vm-test-age-identity" ]; };
      };
    };

  # The people who log in with SSH keys: every user with authorised keys on the host.
  keyUsersOf =
    nixos:
    builtins.attrNames (
      lib.filterAttrs (
        _: user:
        let
          keys = user.openssh.authorizedKeys;
        in
        keys.keys != [ ] || keys.keyFiles != [ ]
      ) nixos.config.users.users
    );

  # What ./host.py checks, from the host's own evaluation.
  hostFacts =
    host: nixos:
    let
      cfg = nixos.config;
      s = secretsOf host nixos;
      mode = secret: lib.removePrefix "0" secret.mode;
      isUserSecret = secret: lib.hasPrefix "users/" secret.name;
    in
    {
      inherit host addresses;
      sshPort = builtins.head cfg.services.openssh.ports;
      openPorts = cfg.networking.firewall.allowedTCPPorts;
      # A port no module declares: a listener on it must be unreachable from the probe.
      undeclaredPort = 4711;
      monitored = cfg.devops.monitoring.enable;
      exporterPort = cfg.devops.monitoring.port;
      probeKey = "${testAdminPrivateKey}";
      secrets = map (secret: {
        inherit (secret) path;
        owner = if secret.owner != null then secret.owner else "root";
        group = if secret.group != null then secret.group else "root";
        mode = mode secret;
        value = s.value secret;
      }) (builtins.filter (secret: !secret.neededForUsers && !(isUserSecret secret)) s.secrets);
      userSecrets = map (secret: {
        inherit (secret) path owner;
        mode = mode secret;
        value = s.value secret;
      }) (builtins.filter isUserSecret s.secrets);
      passwordUsers = map (user: {
        inherit user;
        password = password user;
      }) s.passwordUsers;
      keyUsers = keyUsersOf nixos;
    };

  # What the offline evaluation (tools/nix_eval_test.ts) checks beside the derivation: the
  # script the driver runs (compiled, its driver calls checked against ./driver-methods.tsv)
  # and, for a disk test, the system disko's test installs (without disko's instrumentation).
  inspectable =
    test: attrs:
    test
    // {
      vmTest = attrs;
    };

  hostTest =
    host: nixos:
    let
      script = ''
        import json
        facts = json.loads(${builtins.toJSON (builtins.toJSON (hostFacts host nixos))})
        host = ${pythonName host}
      ''
      + builtins.readFile ./host.py;
    in
    inspectable (pkgs.testers.runNixOSTest {
      name = "vm-${host}";
      node.specialArgs = { inherit inputs; };
      # A node name is a Python name in the test script: dev-vm's node is dev_vm.
      nodes.${pythonName host} =
        { lib, pkgs, ... }:
        {
          imports = [
            inputs.disko.nixosModules.disko
            inputs.sops-nix.nixosModules.sops
            hostDirs.${host}
            (testSecretsModule host nixos)
            (onBothNetworks "host")
          ];
          networking.hostName = host;
          # The test VM's own disk: the host's layout is vm-<host>-disks' test.
          disko.enableConfig = false;
          # vlan 2 stands for the host's monitoring interface.
          devops.monitoring = lib.mkIf nixos.config.devops.monitoring.enable {
            interface = lib.mkForce "eth2";
            address = lib.mkForce addresses.monitoring.host;
          };
          users.users = lib.genAttrs (keyUsersOf nixos) (_: {
            openssh.authorizedKeys.keys = [ testAdminKey ];
          });
          # The listeners ./host.py starts to probe the firewall.
          environment.systemPackages = [ pkgs.netcat ];
        };
      nodes.probe =
        { pkgs, ... }:
        {
          imports = [ (onBothNetworks "probe") ];
          environment.systemPackages = [
            pkgs.curl
            pkgs.netcat
          ];
        };
      testScript = script;
    }) {
      inherit script;
      inherit (secretsOf host nixos) keys;
      machines = [
        "host"
        "probe"
        (pythonName host)
      ];
    };

  # The LUKS devices of a disko layout (gpt partitions or whole disks), as overrides that give
  # each the test passphrase file, and their names.
  luksOf =
    content:
    if content == null then
      null
    else if (content.type or null) == "luks" then
      {
        override.passwordFile = lib.mkForce "/tmp/secret.key";
        names = [ content.name ];
      }
    else if (content.type or null) == "gpt" then
      let
        parts = lib.filterAttrs (_: found: found != null) (
          lib.mapAttrs (_: partition: luksOf (partition.content or null)) content.partitions
        );
      in
      if parts == { } then
        null
      else
        {
          override.partitions = lib.mapAttrs (_: found: { content = found.override; }) parts;
          names = lib.concatMap (found: found.names) (lib.attrValues parts);
        }
    else
      null;

  disksTest =
    host: nixos:
    let
      cfg = nixos.config;
      disks = lib.filterAttrs (_: found: found != null) (
        lib.mapAttrs (_: disk: luksOf (disk.content or null)) cfg.disko.devices.disk
      );
      luksNames = lib.concatMap (found: found.names) (lib.attrValues disks);
      diskFacts = {
        luks = luksNames;
        rootFsType = cfg.fileSystems."/".fsType;
        mountPoints = lib.sort lib.lessThan (builtins.attrNames cfg.fileSystems);
        pools = builtins.attrNames cfg.disko.devices.zpool;
      };
      tested = nixos.extendModules {
        modules = [
          {
            disko.devices.disk = lib.mapAttrs (_: found: { content = found.override; }) disks;
            disko.tests = {
              # The booted system is the host with the test's secrets.
              extraConfig.imports = [ (testSecretsModule host nixos) ];
              # systemd's initrd asks for the passphrase on the console (disko's dummy key file
              # is only written by a scripted initrd); systemd tries it on every device.
              bootCommands = lib.optionalString (luksNames != [ ]) ''
                machine.wait_for_console_text("[Pp]assphrase for")
                machine.send_console("${luksPassphrase}\n")
              '';
              extraChecks = ''
                import json
                facts = json.loads(${builtins.toJSON (builtins.toJSON diskFacts)})
              ''
              + builtins.readFile ./disks.py;
            };
          }
        ];
      };
    in
    inspectable tested.config.system.build.installTest {
      script = tested.config.disko.tests.bootCommands + tested.config.disko.tests.extraChecks;
      machines = [ "machine" ];
      installed =
        (tested.extendModules { modules = [ tested.config.disko.tests.extraConfig ]; })
        .config.system.build.toplevel;
    };

  hasDisks = nixos: (nixos.config.disko.devices.disk or { }) != { };
in
lib.mapAttrs' (host: nixos: lib.nameValuePair "vm-${host}" (hostTest host nixos)) tested
// lib.mapAttrs' (host: nixos: lib.nameValuePair "vm-${host}-disks" (disksTest host nixos)) (
  lib.filterAttrs (_: hasDisks) tested
)
