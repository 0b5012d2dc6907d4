"""Runs the whole demo: the web server, a Celery worker, Celery beat, the audit signer, the platform
simulator and the SMTP sink. Ctrl-C stops all of them.

Used by `make run`. Each process gets its own process group so that stopping reaches the
worker's children too. The simulator (tools/platform_sim.py, docs/simulator.md) hosts the demo
posts that `load_demo` files takedown drafts for and answers the demo platform's notices; the
sink (tools/smtp_sink.py) keeps every e-mail the system sends as an .eml file. Web, worker and
beat are pointed at the sink unless EMAIL_HOST is set in the environment. The audit signer
(core/signer.py) signs checkpoints of the audit chain with its own key, created on first run under
var/audit-signer/; web, worker and beat get only its address and public key (unless
AUDIT_SIGNER_URL is set in the environment: then that signer is used).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SIM_PORT = 8030  # core/demo.py points the demo platform at http://127.0.0.1:8030
SIM_SECRET = "demo-secret"
SMTP_PORT = 8025
SIGNER_PORT = 8031
# The demo's first re-check: soon after the simulator takes a post down (120 s after the notice),
# instead of the production default of 10 minutes. Set TAKEDOWN_FIRST_CHECK_S to change it.
DEMO_FIRST_CHECK_S = "150"
_stopping = False


def _stop(*_: object) -> None:
    global _stopping
    _stopping = True


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not _stopping:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    # Ctrl-C reaches only this process (the children have their own sessions); it stops them all.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local")}
    var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
    sink_dir = var_dir / "smtp-sink"

    # 1. The helpers the demo talks to: the simulator always; the SMTP sink unless the user sends
    #    mail elsewhere (EMAIL_HOST set) or aiosmtpd is missing (it is a development dependency).
    helpers: dict[str, list[str]] = {
        "simulator": [sys.executable, "-m", "tools.platform_sim", "--port", str(SIM_PORT), "--secret", SIM_SECRET],
    }
    mail_note: str
    if os.environ.get("EMAIL_HOST"):
        mail_note = f"sent through {os.environ['EMAIL_HOST']}:{os.environ.get('EMAIL_PORT', '25')} (EMAIL_HOST is set)"
    elif importlib.util.find_spec("aiosmtpd") is None:
        mail_note = (
            f"written to {var_dir / 'mail'}/ (no SMTP sink: aiosmtpd\n             is missing; pip install -e '.[dev]' adds it)"
        )
    else:
        helpers["smtp-sink"] = [sys.executable, "-m", "tools.smtp_sink", "--port", str(SMTP_PORT), "--dir", str(sink_dir)]
        env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
        env["EMAIL_HOST"] = "127.0.0.1"
        env["EMAIL_PORT"] = str(SMTP_PORT)
        mail_note = f"every mail lands in the SMTP sink (127.0.0.1:{SMTP_PORT}), one .eml\n             file each in {sink_dir}/"
    env.setdefault("TAKEDOWN_FIRST_CHECK_S", DEMO_FIRST_CHECK_S)
    # The audit signer: its key file goes on its own command line only; the system gets its address
    # and public key (read from the .pub file the signer writes beside its key on first run).
    if not env.get("AUDIT_SIGNER_URL"):
        signer_dir = var_dir / "audit-signer"
        key_file = signer_dir / "signing.key"
        public_file = key_file.with_name(key_file.name + ".pub")
        if not public_file.exists():
            from core.signer import load_or_create_key, public_key_b64

            public_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            public_file.write_text(public_key_b64(load_or_create_key(key_file)) + "\n")
        helpers["audit-signer"] = [
            sys.executable, "-m", "core.signer", "--listen", f"127.0.0.1:{SIGNER_PORT}",
            "--key-file", str(key_file), "--sink", str(signer_dir / "checkpoints.jsonl"),
        ]  # fmt: skip
        env["AUDIT_SIGNER_URL"] = f"http://127.0.0.1:{SIGNER_PORT}"
        env["AUDIT_SIGNER_PUBLIC_KEY"] = public_file.read_text().strip()
    env.pop("AUDIT_SIGNER_KEY_FILE", None)

    wanted = {"web": (args.host, int(args.port)), "simulator": ("127.0.0.1", SIM_PORT)}
    if "smtp-sink" in helpers:
        wanted["smtp-sink"] = ("127.0.0.1", SMTP_PORT)
    if "audit-signer" in helpers:
        wanted["audit-signer"] = ("127.0.0.1", SIGNER_PORT)
    busy = [f"{name} ({host}:{port})" for name, (host, port) in wanted.items() if not _port_free(host, port)]
    if busy:
        print(f"Port already in use for: {', '.join(busy)}. Stop whatever holds it and run again.", file=sys.stderr)
        return 1

    procs: dict[str, subprocess.Popen[bytes]] = {}

    def stop_all() -> None:
        # The system first, so that a worker finishing the notice in hand still reaches the
        # simulator and the sink; then the helpers. SIGTERM to each leader lets Celery shut down
        # warmly; whatever is left after the grace period is killed with its whole process group.
        for group in ([p for n, p in procs.items() if n not in helpers], [p for n, p in procs.items() if n in helpers]):
            for proc in group:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.time() + 15
            for proc in group:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    for name, cmd in helpers.items():
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    for name in helpers:
        host, port = wanted[name]
        if not _wait_listening(host, port, procs[name]):
            if not _stopping:
                print(f"{name} did not start listening on {host}:{port}; stopping.", file=sys.stderr, flush=True)
            stop_all()
            return 0 if _stopping else 1

    if _stopping:
        stop_all()
        return 0

    # 2. The system itself.
    commands = {
        "web": [sys.executable, "manage.py", "runserver", f"{args.host}:{args.port}", "--noreload"],
        "worker": [str(BIN / "celery"), "-A", "config", "worker", "-l", "INFO", "--concurrency", "2"],
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "-l", "INFO"],
    }
    for name, cmd in commands.items():
        procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)

    url = f"http://{args.host}:{args.port}/"
    sim_url = f"http://127.0.0.1:{SIM_PORT}"
    print(
        f"""
==========================================================================
 Victim support centre is running at {url}
 Sign in as: caseworker, supervisor, analyst, admin or auditor
             (also caseworker2, busan-caseworker, busan-supervisor)
 Password:   demo-password-2026
 Code:       every sign-in needs a 6-digit authenticator code; in another
             terminal run:  {BIN / "python"} manage.py demo_totp caseworker
 Simulator:  {sim_url}/demo/ hosts 5 demo posts; it takes
             notices at {sim_url}/v1/notices. The caseworker's
             first case has 5 drafts for them: approve them, watch them
             turn Sent, then Removed a few minutes later (the simulator
             removes a post 120 s after its notice; beat runs re-checks).
 E-mail:     {mail_note}
 Audit:      the audit signer ({env["AUDIT_SIGNER_URL"]}) signs checkpoints
             of the audit log every 5 minutes; key and records in
             {var_dir / "audit-signer"}/ (used unless AUDIT_SIGNER_URL is set)
 Stop:       Ctrl-C stops the web server, the worker, beat, the simulator,
             the audit signer and the SMTP sink.
==========================================================================
""",
        flush=True,
    )

    exit_code = 0
    while not _stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} stopped (exit {proc.returncode}); stopping the others.", flush=True)
                exit_code = proc.returncode or 1
                _stop()
                break
        time.sleep(0.5)
    stop_all()
    print("All processes stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
