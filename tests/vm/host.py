# Test script of vm-<host> (tests/vm/default.nix), run by the NixOS test driver. The Nix
# side puts before it: `facts` (what the host declares, from its own evaluation) and `host`
# (the host's machine); `probe` is the second machine, on both of the host's networks.
# Only driver calls listed in tests/vm/driver-methods.tsv may be used
# (tools/vm_tests_test.ts checks it).

lan = facts["addresses"]["lan"]
monitoring = facts["addresses"]["monitoring"]
ssh_opts = (
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10"
)


def lines(text):
    return sorted(line for line in text.splitlines() if line.strip() != "")


start_all()
host.wait_for_unit("multi-user.target")
probe.wait_for_unit("multi-user.target")
host.wait_for_unit("sshd.service")
host.wait_for_open_port(facts["sshPort"])

with subtest("no unit failed"):
    failed = host.succeed("systemctl list-units --failed --plain --no-legend")
    assert failed.strip() == "", f"failed units on {facts['host']}:\n{failed}"

with subtest("sshd takes keys only, root by key only"):
    settings = host.succeed("sshd -T").lower().splitlines()
    assert "passwordauthentication no" in settings, settings
    assert "kbdinteractiveauthentication no" in settings, settings
    assert (
        "permitrootlogin without-password" in settings
        or "permitrootlogin prohibit-password" in settings
    ), settings

with subtest("the people with keys log in over SSH"):
    probe.succeed(
        "install -D -m 0600 " + facts["probeKey"] + " /root/.ssh/id_ed25519"
    )
    for user in facts["keyUsers"]:
        probe.succeed(
            f"ssh {ssh_opts} -o BatchMode=yes -p {facts['sshPort']} {user}@{lan['host']} true"
        )

with subtest("nobody else can log in"):
    with_password = lines(
        host.succeed(
            "getent shadow | awk -F: '$2 !~ /^[!*]/ {print $1}'"
        )
    )
    expected = sorted(entry["user"] for entry in facts["passwordUsers"])
    assert with_password == expected, f"usable passwords: {with_password}, declared: {expected}"
    with_keys = lines(host.succeed("ls /etc/ssh/authorized_keys.d"))
    assert with_keys == sorted(facts["keyUsers"]), f"authorised keys for {with_keys}"

with subtest("the people with passwords log in at the console"):
    for tty, entry in enumerate(facts["passwordUsers"], start=2):
        user = entry["user"]
        host.send_key(f"ctrl-alt-f{tty}")
        host.wait_until_succeeds(f"[ $(fgconsole) = {tty} ]")
        host.wait_for_unit(f"getty@tty{tty}.service")
        host.wait_until_tty_matches(str(tty), "login: ")
        host.send_chars(user + "\n")
        host.wait_until_tty_matches(str(tty), "Password: ")
        host.send_chars(entry["password"] + "\n")
        host.wait_until_succeeds(f"pgrep -u {user} -t tty{tty}")

with subtest("sops-nix decrypted the test secrets with their owner and mode"):
    for secret in facts["secrets"]:
        stat = host.succeed(f"stat -L -c '%U %G %a' {secret['path']}").strip()
        expected = f"{secret['owner']} {secret['group']} {secret['mode']}"
        assert stat == expected, f"{secret['path']}: {stat}, declared {expected}"
        content = host.succeed(f"cat {secret['path']}")
        assert content == secret["value"], f"{secret['path']} holds {content!r}"
    for secret in facts["userSecrets"]:
        stat = host.succeed(f"stat -L -c '%U %a' {secret['path']}").strip()
        expected = f"{secret['owner']} {secret['mode']}"
        assert stat == expected, f"{secret['path']}: {stat}, declared {expected}"
        content = host.succeed(f"runuser -u {secret['owner']} -- cat {secret['path']}")
        assert content == secret["value"], f"{secret['path']} holds {content!r}"
        host.fail(f"runuser -u nobody -- cat {secret['path']}")
        for other in facts["keyUsers"]:
            if other not in ("root", secret["owner"]):
                host.fail(f"runuser -u {other} -- cat {secret['path']}")

with subtest("journald keeps the journal on disk, bounded"):
    config = host.succeed("systemd-analyze cat-config systemd/journald.conf")
    assert "Storage=persistent" in config, config
    assert "SystemMaxUse=" in config, config
    host.succeed("test -d /var/log/journal/$(cat /etc/machine-id)")

with subtest("the firewall drops undeclared ports"):
    port = facts["undeclaredPort"]
    assert port not in facts["openPorts"], f"port {port} is declared open"
    host.succeed(f"systemd-run --unit vm-test-undeclared $(command -v nc) -lk 0.0.0.0 {port}")
    host.wait_for_open_port(port)
    probe.fail(f"nc -z -w 5 {lan['host']} {port}")
    probe.fail(f"nc -z -w 5 {monitoring['host']} {port}")

if facts["monitored"]:
    with subtest("the node exporter answers on the monitoring interface only"):
        port = facts["exporterPort"]
        host.wait_for_unit("prometheus-node-exporter.service")
        host.wait_until_succeeds(f"nc -z {monitoring['host']} {port}")
        # Not `curl | grep -q`: grep quitting early fails curl, and the driver sets pipefail.
        probe.succeed(f"curl -sf -o /tmp/metrics http://{monitoring['host']}:{port}/metrics")
        probe.succeed("grep -q '^node_' /tmp/metrics")
        # A listener on the same port of the other interface: only the firewall stops it.
        host.succeed(
            f"systemd-run --unit vm-test-lan-listener $(command -v nc) -lk {lan['host']} {port}"
        )
        host.wait_until_succeeds(f"nc -z {lan['host']} {port}")
        probe.fail(f"nc -z -w 5 {lan['host']} {port}")

with subtest("sshd refuses passwords, for root too (last: fail2ban counts these)"):
    for user in ["root", "admin"]:
        refused = probe.fail(
            f"ssh {ssh_opts} -o BatchMode=yes -o PubkeyAuthentication=no "
            f"-o PreferredAuthentications=password,keyboard-interactive "
            f"-p {facts['sshPort']} {user}@{lan['host']} true 2>&1"
        )
        assert "Permission denied (publickey)" in refused, refused
