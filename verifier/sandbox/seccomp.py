"""A small seccomp filter for the bwrap backend (x86_64), written as classic BPF.

bubblewrap applies no syscall filter of its own; container engines do. This
one narrows the kernel surface a hostile repro can reach, in the spirit of
Docker's default profile but much shorter: it denies (EPERM) new user
namespaces (`clone`/`unshare` with CLONE_NEWUSER: the door to "root" inside
a fresh namespace), the kernel keyring, ptrace and process_vm_*, bpf,
perf_event_open, userfaultfd, io_uring, module/kexec/reboot/swap/acct,
every mount API, setns, open_by_handle_at, and the x32 ABI (whose syscall
numbers would slip past a filter by number); `clone3` gets ENOSYS so that
libc falls back to `clone`, whose flags we can inspect. Everything else is
allowed.

Threat model: defence in depth on top of the namespaces and the uid drop;
see https://docs.docker.com/engine/security/seccomp/ for the reasoning
behind the denied calls. No side effects: `program()` returns bytes.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K

# offsets in struct seccomp_data: nr, arch, ip, args[6] (little endian)
OFF_NR, OFF_ARCH, OFF_ARG0_LOW = 0, 4, 16

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl)
CLONE, UNSHARE, CLONE3 = 56, 272, 435
DENIED = {
    "ptrace": 101, "syslog": 103, "vhangup": 153, "pivot_root": 155, "acct": 163,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
    "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
    "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442,
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def supported() -> bool:
    """Whether this filter fits the machine (it is written for x86_64 only)."""
    return platform.machine() == "x86_64"


def program() -> bytes:
    """The filter as the array of `struct sock_filter` that `bwrap --seccomp FD` reads."""
    deny = RET_ERRNO | errno.EPERM
    denied = sorted(DENIED.values())
    body = [
        # (1): other architectures (i386 through int 0x80) and x32 are refused.
        _insn(LD_W_ABS, 0, 0, OFF_ARCH),
        _insn(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(RET_K, 0, 0, deny),
        _insn(LD_W_ABS, 0, 0, OFF_NR),
        _insn(JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(RET_K, 0, 0, deny),
        # (2): clone3 hides its flags in memory: make libc fall back to clone.
        _insn(JEQ_K, 0, 1, CLONE3),
        _insn(RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
    ]
    # (3): the denied list; each test jumps to the shared "deny" at the end.
    tail_after = 5  # instructions after the list: clone/unshare checks + returns
    for i, nr in enumerate(denied):
        to_deny = (len(denied) - i - 1) + tail_after
        body.append(_insn(JEQ_K, to_deny, 0, nr))
    body += [
        # (4): clone/unshare are allowed unless they ask for a new user namespace.
        _insn(JEQ_K, 1, 0, CLONE),
        _insn(JEQ_K, 0, 2, UNSHARE),
        _insn(LD_W_ABS, 0, 0, OFF_ARG0_LOW),
        _insn(JSET_K, 1, 0, CLONE_NEWUSER),
        _insn(RET_K, 0, 0, RET_ALLOW),
        _insn(RET_K, 0, 0, deny),
    ]
    return b"".join(body)
