# Kernel and sysctl hardening that keeps ordinary servers and desktops working.
{ lib, ... }:
{
  boot.kernel.sysctl = {
    # Hide kernel pointers and the kernel log from unprivileged users.
    "kernel.kptr_restrict" = lib.mkDefault 2;
    "kernel.dmesg_restrict" = lib.mkDefault 1;
    # eBPF only for root, with a hardened JIT.
    "kernel.unprivileged_bpf_disabled" = lib.mkDefault 1;
    "net.core.bpf_jit_harden" = lib.mkDefault 2;
    # ptrace only of one's own descendants.
    "kernel.yama.ptrace_scope" = lib.mkDefault 1;
    "fs.protected_fifos" = lib.mkDefault 2;
    "fs.protected_regular" = lib.mkDefault 2;
    "fs.suid_dumpable" = lib.mkDefault 0;
    # No ICMP redirects or source routing: routes come from configuration only.
    "net.ipv4.conf.all.accept_redirects" = lib.mkDefault 0;
    "net.ipv4.conf.default.accept_redirects" = lib.mkDefault 0;
    "net.ipv6.conf.all.accept_redirects" = lib.mkDefault 0;
    "net.ipv6.conf.default.accept_redirects" = lib.mkDefault 0;
    "net.ipv4.conf.all.send_redirects" = lib.mkDefault 0;
    "net.ipv4.conf.all.accept_source_route" = lib.mkDefault 0;
    "net.ipv6.conf.all.accept_source_route" = lib.mkDefault 0;
    "net.ipv4.tcp_syncookies" = lib.mkDefault 1;
    "net.ipv4.icmp_echo_ignore_broadcasts" = lib.mkDefault 1;
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
