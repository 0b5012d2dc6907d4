"""Threat: a crafted image or video exploits a decoder bug in the media probe and runs code there.

Control: evidence/sandbox.py runs the probe under bubblewrap with no network (and a seccomp filter
refusing socket()), in its own PID namespace with its own /proc, as another uid, on a read-only
view of the file system with one writable folder, with an environment of PATH only and its
resource limits kept (docs/evidence.md, "The probe's sandbox"). These tests run small programs
through the very command the probe runs in (sandbox.run), with EVIDENCE_PROBE_ISOLATION=required
so that a machine where the sandbox cannot start fails here instead of skipping.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from evidence import sandbox
from tests import media
from tests.conftest import wait_until

LIMITS = sandbox.Limits(memory_mb=512, cpu_s=10)


@pytest.fixture(autouse=True)
def _required(settings) -> None:
    settings.EVIDENCE_PROBE_ISOLATION = "required"


def _run(code: str, work: Path, *, limits: sandbox.Limits = LIMITS, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    return sandbox.run(["-c", code], work=work, limits=limits, timeout=timeout)


def _report(done: subprocess.CompletedProcess[bytes]) -> dict:
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def test_it_cannot_open_a_socket_even_to_a_local_listener(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    code = f"""
import json, socket
tries = {{}}
for name, family, address in (("tcp", socket.AF_INET, ("127.0.0.1", {port})), ("unix", socket.AF_UNIX, "/tmp/x")):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(address)
        tries[name] = "connected"
    except OSError as exc:
        tries[name] = type(exc).__name__
print(json.dumps(tries))
"""
    try:
        tries = _report(_run(code, tmp_path))
        # socket() itself is refused (seccomp), before the empty network namespace is even reached.
        assert tries == {"tcp": "PermissionError", "unix": "PermissionError"}
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    finally:
        listener.close()


def test_it_cannot_read_the_parent_environment(tmp_path: Path, monkeypatch) -> None:
    canary = "canary-" + os.urandom(8).hex()
    monkeypatch.setenv("PROBE_CANARY_SECRET", canary)
    # The program gets the canary reversed: its own command line must not hold the value it looks for.
    code = f"""
import glob, json, os
canary = "{canary[::-1]}"[::-1]
found, reachable = [], []
if any(canary in v for v in os.environ.values()):
    found.append("environ")
for pid in ({os.getpid()}, os.getppid()):
    for leaf in ("environ", "mem", "cmdline"):
        try:
            with open(f"/proc/{{pid}}/{{leaf}}", "rb") as fh:
                data = fh.read(1 << 20)
            reachable.append(f"{{pid}}/{{leaf}}")
            if canary.encode() in data:
                found.append(f"{{pid}}/{{leaf}}")
        except OSError:
            pass
for name in glob.glob("/proc/[0-9]*/environ"):
    try:
        if canary.encode() in open(name, "rb").read():
            found.append(name)
    except OSError:
        pass
print(json.dumps({{"found": found, "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "env": sorted(os.environ)}}))
"""
    seen = _report(_run(code, tmp_path))
    assert seen["found"] == []
    # A PID namespace of its own: the web or worker process (this test's pid) does not exist there.
    assert os.getpid() not in seen["pids"] or os.getpid() < 3
    assert max(seen["pids"]) < 10
    assert "PROBE_CANARY_SECRET" not in seen["env"]
    assert "EVIDENCE_ENCRYPTION_KEY" not in seen["env"]


def test_it_cannot_write_outside_its_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside.txt"
    project_file = sandbox.ROOT / "evidence" / f"planted-{os.getpid()}.py"
    code = f"""
import json
results = {{}}
for target in ({str(outside)!r}, {str(project_file)!r}, "/app/evidence/planted.py", "/usr/planted", "/planted", "/tmp/planted",
               "{sandbox.OUT_DIR}/allowed.txt"):
    try:
        with open(target, "w") as fh:
            fh.write("x")
        results[target] = "written"
    except OSError as exc:
        results[target] = type(exc).__name__
print(json.dumps(results))
"""
    try:
        results = _report(_run(code, work))
        planted = project_file.exists()
    finally:
        project_file.unlink(missing_ok=True)  # only an unisolated run could have written it
    written = [target for target, outcome in results.items() if outcome == "written"]
    assert written == [f"{sandbox.OUT_DIR}/allowed.txt"]
    assert not outside.exists()
    assert not planted
    assert (work / "allowed.txt").read_text() == "x"


def test_it_runs_as_another_user(tmp_path: Path, settings) -> None:
    code = f"""
import json, os
open("{sandbox.OUT_DIR}/mine", "w").close()
print(json.dumps({{"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups()}}))
"""
    ids = _report(_run(code, tmp_path))
    assert ids["uid"] == ids["euid"] == settings.EVIDENCE_PROBE_UID
    assert ids["uid"] != os.getuid()
    owner = (tmp_path / "mine").stat().st_uid
    if os.geteuid() == 0:
        # Root drops to the sandbox uid for real: on the host the file belongs to that uid.
        assert owner == settings.EVIDENCE_PROBE_UID != 0
    else:
        assert owner == os.getuid()  # a user namespace maps the sandbox uid onto ours


def test_its_limits_still_apply(tmp_path: Path) -> None:
    hog = _run(
        "data = bytearray(1024 * 1024 * 1024)\nprint('allocated')", tmp_path, limits=sandbox.Limits(memory_mb=256, cpu_s=10)
    )
    assert hog.returncode != 0
    assert b"allocated" not in hog.stdout
    assert b"MemoryError" in hog.stderr
    # Without the CPU limit the loop would run into the 30 s wall-clock timeout (TimeoutExpired).
    spin = _run("while True:\n    pass", tmp_path, limits=sandbox.Limits(memory_mb=256, cpu_s=1), timeout=30)
    assert spin.returncode != 0


def test_a_probe_past_its_time_leaves_no_process_behind(tmp_path: Path) -> None:
    marker = "sandbox-timeout-" + os.urandom(4).hex()
    with pytest.raises(subprocess.TimeoutExpired):
        _run(f"import time\ntime.sleep(120)  # {marker}", tmp_path, timeout=2)

    def alive() -> bool:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
        return False

    wait_until(lambda: not alive(), timeout=10)


def test_the_probe_still_reads_images_inside_the_sandbox(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(media.image_bytes("JPEG", seed=7))
    source.chmod(0o600)  # private to this process: the sandbox uid gets the file as a descriptor only
    out = tmp_path / "out"
    out.mkdir()
    result = sandbox.probe(source, "image", out)
    assert result["ok"] and result["width"] > 0
    assert {f["algorithm"] for f in result["fingerprints"]} >= {"pdq", "phash"}
    assert sorted(p.name for p in out.iterdir()) == ["preview.jpg", "preview_blurred.jpg"]


def test_required_isolation_refuses_files_where_the_sandbox_cannot_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "bubblewrap (bwrap) is not installed")
    source = tmp_path / "photo.jpg"
    source.write_bytes(media.image_bytes("JPEG", seed=8))
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.probe(source, "image", tmp_path)
    assert refused.value.status == 503
    assert "isolated checker is not available" in refused.value.message
