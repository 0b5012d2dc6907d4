"""A real SMTP server that keeps what it receives: for tests and the demo, never production.

    python -m tools.smtp_sink --port 8025 --dir var/smtp-sink

In tests, `SmtpSink` runs in a thread and exposes the received messages.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import socket
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, folder: Path | None) -> None:
        self.messages: list[EmailMessage] = []
        self.folder = folder
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                name = f"{time.time_ns()}.eml"
                (self.folder / name).write_bytes(envelope.content)
        return "250 Message accepted"


class _BoundController(Controller):
    """aiosmtpd's threaded controller serving a socket bound here, once: port 0 lets the kernel
    choose, and nothing can take the port between choosing and serving (no find-free-and-release)."""

    def __init__(self, handler: Any, host: str, port: int) -> None:
        self.sock = socket.create_server((host, port))
        super().__init__(handler, hostname=host, port=self.sock.getsockname()[1])

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


class SmtpSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, folder: Path | None = None) -> None:
        self.handler = _Handler(folder)
        self.controller = _BoundController(self.handler, host, port)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if predicate(message):
                    return message
            time.sleep(0.2)
        raise TimeoutError("no matching e-mail arrived at the SMTP sink")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default="var/smtp-sink")
    args = parser.parse_args()
    sink = SmtpSink(args.host, args.port, Path(args.dir)).start()
    print(f"SMTP sink on {args.host}:{sink.port}, saving to {args.dir}. Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
