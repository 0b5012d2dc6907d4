"""Runs evidence/probe.py on one untrusted file in a separate, isolated and limited process.

The probe is where crafted media meet decoders (Pillow, libheif, FFmpeg), so it is the one place a
decoder bug would run an attacker's code. It therefore runs (docs/evidence.md, "The probe's sandbox"):

1. under resource limits set before it starts (`prlimit`: address space, CPU seconds, file size,
   no core dumps) and a wall-clock timeout here;
2. inside bubblewrap (`bwrap`), with new PID, network, IPC, UTS and cgroup namespaces: no network
   interface but a loopback that is down, and a /proc that shows only the sandbox's own processes,
   so the web or worker process's /proc/<pid>/environ and /proc/<pid>/mem cannot be named at all;
3. as another user id: when this process is root, bwrap sets up the mounts and `setpriv` drops to
   EVIDENCE_PROBE_UID (65534, "nobody") with no capabilities; otherwise bwrap maps a new user
   namespace (uid 65534 inside, this process's uid outside) and forbids nested ones;
4. on a read-only view of only what Python needs (/usr, the interpreter, the virtualenv, and the
   project's `evidence` and `hashing` packages); the one writable place is its own output folder;
5. with a seccomp filter (libseccomp through pyseccomp) that refuses sockets, ptrace, mounts, new
   namespaces, keyrings, BPF, io_uring and module loading;
6. with an environment of PATH only: the master key and every other secret of this process stay here.

The file itself goes in as standard input (an open descriptor), never by name: the sandbox uid
could not open the caller's private temporary file, and needs no path into it.

EVIDENCE_PROBE_ISOLATION decides what happens where bwrap cannot run (no user namespaces, the
package missing): `required` (production's default) refuses every file with a clear message and
fails `manage.py check --deploy`; `auto` (local, demo, tests) falls back to the plain limited child
process and logs a warning once; `off` never isolates.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext

from evidence.validation import Refused

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

MODES = ("required", "auto", "off")
# Inside the sandbox: the project's two packages the probe imports, and its one writable folder.
APP_DIR = "/app"
OUT_DIR = "/out"
_PACKAGES = ("evidence", "hashing")
_ENV_PATH = "/usr/bin:/bin"
# Namespace flags a sandboxed process may not pass to clone(): no new user namespace (a way into
# kernel code that needs capabilities) and no other namespace either.
_CLONE_NEW = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
_DENIED = (
    # network, even to 127.0.0.1 (the network namespace has no usable interface anyway)
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # other processes and the kernel's attack surface
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "pidfd_open",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_by_handle_at", "name_to_handle_at",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "fanotify_init", "quotactl", "syslog", "acct", "swapon", "swapoff", "reboot",
)  # fmt: skip
# Answered "not implemented", so C libraries take their ordinary fallback (glibc: clone3 -> clone).
_NOT_IMPLEMENTED = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")


class SandboxUnavailable(Refused):
    """Isolation is required but cannot run on this machine: the file is refused, nothing is stored."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int
    cpu_s: int
    file_mb: int = 256  # the largest file the process may write (previews are far smaller)


def mode() -> str:
    value = str(getattr(settings, "EVIDENCE_PROBE_ISOLATION", "auto")).strip().lower()
    return value if value in MODES else "required"


def sandbox_ids() -> tuple[int, int]:
    uid = int(getattr(settings, "EVIDENCE_PROBE_UID", 65534))
    return uid, int(getattr(settings, "EVIDENCE_PROBE_GID", uid))


@functools.cache
def seccomp_program() -> bytes:
    """The compiled BPF filter bwrap loads before it starts the probe (default: allow)."""
    import errno

    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in _DENIED:
        flt.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for name in _NOT_IMPLEMENTED:
        flt.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    for flag in _CLONE_NEW:
        flt.add_rule(seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    with tempfile.TemporaryFile() as fh:
        flt.export_bpf(fh)
        fh.seek(0)
        return fh.read()


def _readonly(source: Path, dest: str | None = None) -> list[str]:
    """A read-only bind, with every parent folder created world-searchable (bwrap's default is 0700)."""
    target = Path(dest or source)
    args: list[str] = []
    for parent in reversed(target.parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args + ["--ro-bind", str(source), str(target)]


def _system_dirs() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
    return args + ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def _python_dirs() -> list[str]:
    """The interpreter and the installed packages, at the same paths, wherever they live."""
    args: list[str] = []
    seen: list[Path] = [Path("/usr")]
    candidates = [Path(sys.base_prefix), Path(sys.prefix), Path(os.path.realpath(sys.executable)).parent.parent]
    for candidate in candidates:
        path = candidate.resolve()
        if any(path == s or s in path.parents for s in seen):
            continue
        seen.append(path)
        args += _readonly(path)
        if str(candidate) != str(path):  # a venv reached through a symlink keeps its written path
            args += _readonly(path, str(candidate))
    return args


def command(argv: Sequence[str], *, work: Path, limits: Limits, isolate: bool, seccomp_fd: int | None = None) -> list[str]:
    """The full command line that runs `python argv...` in the sandbox (or plainly, with isolate=False).

    The program sees its writable folder as OUT_DIR when isolated, as `work` when not; the tests run
    their own small programs through this same command."""
    prlimit = [
        "prlimit",
        f"--as={limits.memory_mb * 1024 * 1024}",
        f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",
        f"--fsize={limits.file_mb * 1024 * 1024}",
        "--core=0",
        "--",
    ]
    if not isolate:
        return [*prlimit, sys.executable, "-E", "-s", *argv]
    root = os.geteuid() == 0
    cmd = [*prlimit, "bwrap", "--die-with-parent", "--new-session", "--clearenv", "--setenv", "PATH", _ENV_PATH]
    cmd += ["--setenv", "HOME", OUT_DIR, "--setenv", "TMPDIR", OUT_DIR]
    if root:
        # Root sets up the mounts (it can read the interpreter wherever it is installed); setpriv
        # below then becomes the sandbox uid, which loses every capability.
        cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        uid, gid = sandbox_ids()
        cmd += ["--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(gid)]
    cmd += _system_dirs() + _python_dirs()
    for package in _PACKAGES:
        cmd += _readonly(ROOT / package, f"{APP_DIR}/{package}")
    cmd += ["--bind", str(work), OUT_DIR, "--proc", "/proc", "--dev", "/dev", "--chdir", APP_DIR]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    cmd.append("--")
    if root:
        uid, gid = sandbox_ids()
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        cmd += ["--no-new-privs", "--"]
    return [*cmd, sys.executable, "-E", "-s", *argv]


def _prepare(work: Path, isolate: bool) -> None:
    if isolate and os.geteuid() == 0:
        uid, gid = sandbox_ids()
        os.chown(work, uid, gid)  # the only folder the sandbox uid can write to
    work.chmod(0o700)


def run(
    argv: Sequence[str],
    *,
    work: Path,
    limits: Limits,
    timeout: float,
    stdin: IO[bytes] | None = None,
    isolate: bool | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Runs `python argv...` in the sandbox with `work` as its only writable folder.

    isolate=None follows EVIDENCE_PROBE_ISOLATION; raises SandboxUnavailable when isolation is
    required and cannot run here, and subprocess.TimeoutExpired after `timeout` seconds."""
    if isolate is None:
        isolate = use_isolation()
    _prepare(work, isolate)
    with contextlib.ExitStack() as stack:
        fds: tuple[int, ...] = ()
        seccomp_fd = None
        if isolate:
            seccomp_fd = os.memfd_create("probe-seccomp", 0)
            stack.callback(os.close, seccomp_fd)
            os.write(seccomp_fd, seccomp_program())
            os.lseek(seccomp_fd, 0, os.SEEK_SET)
            fds = (seccomp_fd,)
        cmd = command(argv, work=work, limits=limits, isolate=isolate, seccomp_fd=seccomp_fd)
        return subprocess.run(  # noqa: S603 - a fixed program; the file arrives on stdin
            cmd,
            cwd=ROOT,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            env={"PATH": _ENV_PATH},
            pass_fds=fds,
        )


@functools.cache
def isolation_problem() -> str | None:
    """None when the sandbox runs on this machine; else why not (checked once per process)."""
    if not shutil.which("bwrap"):
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    try:
        seccomp_program()
    except (ImportError, OSError, RuntimeError) as exc:
        return f"the seccomp filter cannot be built (pyseccomp and libseccomp2 are needed): {exc}"
    with tempfile.TemporaryDirectory(prefix="sandbox-check-") as tmp:
        try:
            done = run(["-c", "print('ok')"], work=Path(tmp), limits=Limits(512, 10), timeout=30, isolate=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not start: {exc}"
    if done.returncode != 0 or done.stdout.strip() != b"ok":
        detail = done.stderr.decode("utf-8", "replace").strip()[:300]
        return f"bwrap could not start the probe here (are user namespaces allowed?): {detail}"
    return None


_warned = False


def use_isolation() -> bool:
    global _warned  # one warning per process is enough
    current = mode()
    if current == "off":
        return False
    problem = isolation_problem()
    if problem is None:
        return True
    if current == "required":
        log.error("evidence probe sandbox unavailable; files are refused: %s", problem)
        raise SandboxUnavailable(
            gettext(
                "The file cannot be checked right now: the isolated checker is not available on this server. "
                "Nothing was stored. Please tell an administrator."
            ),
            503,
        )
    if not _warned:
        log.warning("evidence probe runs without its sandbox (EVIDENCE_PROBE_ISOLATION=auto): %s", problem)
        _warned = True
    return False


def _collect(work: Path, out_dir: Path) -> None:
    """Moves what the probe wrote into out_dir: plain files only, never a link a crafted file could
    have planted to make this process read something else."""
    for entry in work.iterdir():
        info = entry.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            os.replace(entry, out_dir / entry.name)


def probe(path: Path, kind: str, out_dir: Path, *, full: bool = False, timeout: float | None = None) -> dict[str, Any]:
    limits = settings.EVIDENCE_LIMITS
    factor = 8 if full else 1
    budget = Limits(memory_mb=limits["parse_memory_mb"], cpu_s=limits["parse_cpu_s"] * factor)
    isolate = use_isolation()
    argv = [
        "-m", "evidence.probe",
        "--kind", kind,
        "--max-pixels", str(limits["max_pixels"]),
        "--max-frames", str(limits["max_video_frames"] if kind == "video" else limits["max_image_frames"]),
        "--max-duration", str(limits["max_duration_s"]),
        "--memory-mb", str(budget.memory_mb),
        "--cpu-seconds", str(budget.cpu_s),
    ]  # fmt: skip
    if full:
        argv.append("--full")
    wall = timeout or limits["parse_timeout_s"] * factor
    work = Path(tempfile.mkdtemp(prefix="sandbox-", dir=out_dir))
    try:
        argv += ["--out", OUT_DIR if isolate else str(work), "-"]
        try:
            with path.open("rb") as media:
                done = run(argv, work=work, limits=budget, timeout=wall, stdin=media, isolate=isolate)
        except subprocess.TimeoutExpired as exc:
            raise Refused("The file took too long to check and was refused; it may be damaged or crafted.", 422) from exc
        if done.returncode == 0:
            _collect(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if done.returncode != 0 or not done.stdout.strip():
        # Killed by its limits (memory, CPU) or crashed in a decoder: the file is not accepted.
        raise Refused("The file could not be checked safely and was refused; it may be damaged or crafted.", 422)
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise Refused("The file could not be checked safely and was refused.", 422) from exc
    if not result.get("ok"):
        raise Refused(str(result.get("error", "The file was refused.")), 422)
    return result
