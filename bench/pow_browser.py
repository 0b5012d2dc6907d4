"""What the public forms' proof of work costs a reporter and the server: the project's own
static/js/pow.js solving real challenges (cases/pow.py) in Chromium, against the server's check of
the answer (one SHA-256, one HMAC and one Redis SET that spends it), at the default difficulty and
two lower ones.

The page is served on 127.0.0.1 (a secure context, as HTTPS is in production); the time is from
pressing "send" to the form's arrival at the server, the median over several fresh challenges (the
work is random: about 2^bits hashes on average). Desktop Chromium on this machine; a low-end phone
is several times slower (docs/intake.md says so).

    .venv/bin/python bench/pow_browser.py [--challenges 9]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, bench_environment

POW_JS = (ROOT / "static" / "js" / "pow.js").read_bytes()
DEFAULT_BITS = 18  # config/settings/base.py INTAKE_POW_BITS (the bench runs on the test settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--challenges", type=int, default=9)
    args = parser.parse_args()
    bench_environment()
    import django

    django.setup()
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    from cases import pow

    state: dict[str, object] = {"challenge": "", "arrived": None}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/pow.js":
                body, kind = POW_JS, "text/javascript"
            else:
                body = (
                    f'<!doctype html><form method="post" action="/send" data-pow="{state["challenge"]}">'
                    '<button id="send">send</button></form><script src="/pow.js"></script>'
                ).encode()
                kind = "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            data = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            state["arrived"] = (time.perf_counter(), data["pow_challenge"][0], data["pow_nonce"][0])
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"
    print("Proof of work on the public forms (static/js/pow.js in Chromium; server check in cases/pow.py)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        for bits in (12, 16, DEFAULT_BITS):
            solve_s, check_s = [], []
            for _ in range(args.challenges):
                state["challenge"], state["arrived"] = pow.new_challenge(bits=bits), None
                page.goto(base)
                start = time.perf_counter()
                page.click("#send")
                while state["arrived"] is None:
                    time.sleep(0.002)
                arrived, challenge, nonce = state["arrived"]  # type: ignore[misc]
                solve_s.append(arrived - start)
                settings.INTAKE_POW_BITS = bits
                t0 = time.perf_counter()
                assert pow.check(challenge, nonce) == "", "the browser's answer was refused: nothing measured"
                check_s.append(time.perf_counter() - t0)
            median = statistics.median(solve_s)
            print(
                f"  {bits:>2} bits: the browser solves in {median * 1000:,.0f} ms (median of {args.challenges}; "
                f"slowest {max(solve_s) * 1000:,.0f} ms); the server checks in {statistics.median(check_s) * 1e6:.0f} µs "
                f"= {median / statistics.median(check_s):,.0f}x the server's cost"
            )
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
