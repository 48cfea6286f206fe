# Kernel and sysctl hardening that keeps ordinary servers and desktops working.
{ lib, ... }:
let
  # nixpkgs sets some of these itself with mkDefault (config/sysctl.nix sets
  # kernel.kptr_restrict to 1): a second mkDefault with another value is a
  # conflict. Like nixpkgs' hardened profile, use a stronger priority; a host's
  # plain value (priority 100) still wins.
  harden = lib.mkOverride 900;
in
{
  boot.kernel.sysctl = {
    # Hide kernel pointers and the kernel log from unprivileged users.
    "kernel.kptr_restrict" = harden 2;
    "kernel.dmesg_restrict" = harden 1;
    # eBPF only for root, with a hardened JIT.
    "kernel.unprivileged_bpf_disabled" = harden 1;
    "net.core.bpf_jit_harden" = harden 2;
    # ptrace only of one's own descendants.
    "kernel.yama.ptrace_scope" = harden 1;
    "fs.protected_fifos" = harden 2;
    "fs.protected_regular" = harden 2;
    "fs.suid_dumpable" = harden 0;
    # No ICMP redirects or source routing: routes come from configuration only.
    "net.ipv4.conf.all.accept_redirects" = harden 0;
    "net.ipv4.conf.default.accept_redirects" = harden 0;
    "net.ipv6.conf.all.accept_redirects" = harden 0;
    "net.ipv6.conf.default.accept_redirects" = harden 0;
    "net.ipv4.conf.all.send_redirects" = harden 0;
    "net.ipv4.conf.all.accept_source_route" = harden 0;
    "net.ipv6.conf.all.accept_source_route" = harden 0;
    "net.ipv4.tcp_syncookies" = harden 1;
    "net.ipv4.icmp_echo_ignore_broadcasts" = harden 1;
  };

  boot.kernelParams = [
    # Separate slab caches and a randomised page allocator and kernel stack
    # make heap and stack exploits less reliable.
    "slab_nomerge"
    "page_alloc.shuffle=1"
    "randomize_kstack_offset=on"
    # Zero memory on allocation: no data leaks between allocations.
    "init_on_alloc=1"
    # No legacy vsyscall page at a fixed address.
    "vsyscall=none"
  ];

  # Rarely used network protocols and filesystems with a history of bugs.
  boot.blacklistedKernelModules = [
    "dccp"
    "sctp"
    "rds"
    "tipc"
    "cramfs"
    "freevxfs"
    "jffs2"
  ];
}
