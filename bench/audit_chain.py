"""Audit log throughput on PostgreSQL: appends per second (each its own transaction, as services
do) and chain verification speed, plain (the hashes alone, the baseline) and against the signed
checkpoints of a real signer process (core/signer.py; one checkpoint every 1,000 events here, far
denser than the 5-minute default). Run with `make bench`; uses its own database, never the tests'.

    .venv/bin/python bench/audit_chain.py [--events 20000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_environment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    bench_environment()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from core import audit
    from core.dbguard import PURGE_FLAG

    call_command("migrate", verbosity=0)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_FLAG])
        cursor.execute("TRUNCATE core_auditevent")

    from django.conf import settings

    from core import audit_signing
    from core.models import AuditCheckpoint

    with tempfile.TemporaryDirectory(prefix="bench-signer-") as folder:
        signer = _start_signer(Path(folder))
        try:
            settings.AUDIT_SIGNER_URL, settings.AUDIT_SIGNER_PUBLIC_KEY = signer[1], signer[2]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_FLAG])
                cursor.execute("TRUNCATE core_auditcheckpoint")
            start = time.perf_counter()
            sign_s = 0.0
            for i in range(args.events):
                with transaction.atomic():
                    audit.record("bench.event", actor=None, object_type="bench", object_id=i, details={"n": i})
                if (i + 1) % 1000 == 0:
                    t0 = time.perf_counter()
                    audit_signing.checkpoint()
                    sign_s += time.perf_counter() - t0
            append_s = time.perf_counter() - start - sign_s
            checkpoints = AuditCheckpoint.objects.count()

            plain_s, signed_s = [], []
            for _ in range(3):  # interleaved: plain, then against the checkpoints
                settings.AUDIT_SIGNER_PUBLIC_KEY = ""
                t0 = time.perf_counter()
                plain = audit.verify_chain()
                plain_s.append(time.perf_counter() - t0)
                settings.AUDIT_SIGNER_PUBLIC_KEY = signer[2]
                t0 = time.perf_counter()
                signed = audit.verify_chain()
                signed_s.append(time.perf_counter() - t0)
            assert plain.ok and signed.ok and plain.signed is None and signed.signed == checkpoints, (plain, signed)
        finally:
            signer[0].terminate()
            signer[0].wait(10)

    print(
        f"audit appends: {args.events} in {append_s:.2f} s = {args.events / append_s:,.0f} events/s "
        f"({append_s / args.events * 1000:.2f} ms each, one transaction each)"
    )
    print(f"signed checkpoints: {checkpoints} in {sign_s:.2f} s = {sign_s / max(1, checkpoints) * 1000:.1f} ms each")
    best_plain, best_signed = min(plain_s), min(signed_s)
    print(
        f"chain verification, hashes alone (baseline): {plain.checked} events in {best_plain:.2f} s "
        f"= {plain.checked / best_plain:,.0f} events/s"
    )
    print(
        f"chain verification against {checkpoints} signed checkpoints: {best_signed:.2f} s "
        f"= {best_signed / best_plain:.2f}x the baseline"
    )


def _start_signer(folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    """A real signer process with its own key and sink; this process learns only its address and
    public key, as the application does."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.signer", "--listen", "127.0.0.1:0", "--key-file", str(folder / "signing.key"),
         "--sink", str(folder / "checkpoints.jsonl")],
        cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline() if proc.stdout else ""
    if "listening on" not in line:
        proc.kill()
        raise SystemExit(f"the audit signer did not start: {line!r}")
    port = line.split("listening on ", 1)[1].split(";")[0].rsplit(":", 1)[1]
    return proc, f"http://127.0.0.1:{port}", line.rsplit("public key ", 1)[1].strip()


if __name__ == "__main__":
    main()
