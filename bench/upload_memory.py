"""Server memory while a large file is uploaded: it must not grow with the file's size.

Starts the web server (gunicorn, test settings, its own database) as a separate process, creates a
case and a token, streams uploads of 10 MiB and 400 MiB to the evidence API from a generator (the
client never holds the file either), and samples the server's resident memory every 20 ms.
The bytes are a valid video header followed by padding, so the upload streams fully and is then
refused by the video check; what is measured is the streaming, not the parsing.

    .venv/bin/python bench/upload_memory.py [--big-mib 400]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bench_environment


def rss_kib(pid: int) -> int:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big-mib", type=int, default=400)
    args = parser.parse_args()
    env = bench_environment()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from core import services
    from tests import factories

    user = factories.User.objects.filter(username="bench-uploader").first() or services.user_create(
        username="bench-uploader", role="caseworker", centre=services.central_centre(), is_service_account=True
    )
    token = services.api_token_issue(user=user)
    case = factories.make_case(user)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "600"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        import urllib3

        http = urllib3.PoolManager()
        http.request("GET", f"http://127.0.0.1:{port}/healthz")
        baseline = rss_kib(server.pid)
        print(f"server resident memory at rest: {baseline / 1024:.0f} MiB")
        for size_mib in (10, args.big_mib):
            boundary = "benchboundary"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
                "Content-Type: video/mp4\r\n\r\n"
            ).encode() + b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
            tail = f"\r\n--{boundary}--\r\n".encode()
            chunk = b"\x00" * (1024 * 1024)
            total = len(head) + size_mib * len(chunk) + len(tail)

            def body(h: bytes = head, t: bytes = tail, n: int = size_mib, c: bytes = chunk):
                yield h
                for _ in range(n):
                    yield c
                yield t

            peak = [baseline]
            done = threading.Event()

            def sample(p: list[int] = peak, d: threading.Event = done) -> None:
                while not d.is_set():
                    p[0] = max(p[0], rss_kib(server.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            started = time.perf_counter()
            response = http.request(
                "POST", f"http://127.0.0.1:{port}/api/v1/cases/{case.pk}/evidence/", body=body(),
                headers={"Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={boundary}",
                         "Content-Length": str(total)},
                chunked=False, preload_content=True, timeout=600,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            done.set()
            sampler.join()
            print(
                f"upload {size_mib:>4} MiB: answered {response.status} in {elapsed:5.1f} s "
                f"({size_mib / elapsed:6.1f} MiB/s); server peak {peak[0] / 1024:.0f} MiB "
                f"(+{(peak[0] - baseline) / 1024:.0f} MiB over rest)"
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
