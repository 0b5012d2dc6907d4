"""Runs the web server, a Celery worker and Celery beat together; Ctrl-C stops all three.

Used by `make run`. Each process gets its own process group so that stopping reaches the
worker's children too.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local")}
    commands = {
        "web": [sys.executable, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"],
        "worker": [str(BIN / "celery"), "-A", "config", "worker", "-l", "INFO", "-Q", "celery,notices", "--concurrency", "2"],
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "-l", "INFO"],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, cmd in commands.items():
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)

    url = f"http://{args.host}:{args.port}/"
    print(
        f"""
==========================================================================
 Victim support centre is running at {url}
 Sign in as: caseworker, supervisor, analyst, admin or auditor
             (also caseworker2, busan-caseworker, busan-supervisor)
 Password:   demo-password-2026
 Code:       every sign-in needs a 6-digit authenticator code; in another
             terminal run:  {BIN / "python"} manage.py demo_totp caseworker
 Stop:       Ctrl-C stops the web server, the worker and beat.
==========================================================================
""",
        flush=True,
    )

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} stopped (exit {proc.returncode}); stopping the others.", flush=True)
                exit_code = proc.returncode or 1
                stopping = True
        time.sleep(0.5)
    # SIGTERM to each leader lets Celery shut down warmly (finishing the task in hand); whatever
    # is left after the grace period is killed with its whole process group.
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    print("All processes stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
