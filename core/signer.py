"""The audit signer: a small process of its own that signs checkpoints of the audit chain's head.

    python -m core.signer --listen 127.0.0.1:8031 --key-file var/audit-signer/signing.key \
        --sink var/audit-signer/checkpoints.jsonl

Why a separate process: the audit chain in PostgreSQL is only as trustworthy as whoever can write
to that database. Anyone with the application's database rights (a compromised web or worker
process) could delete events and re-chain the rest. The signer holds an Ed25519 key that web and
worker processes never hold (its key file lives only in its own folder or container), signs the
heads the application sends it, and appends every signed checkpoint to a sink that it writes
itself: a file opened O_APPEND (one JSON line per checkpoint), and in production also S3 with
Object Lock (each checkpoint an object that cannot be deleted or overwritten until its retention
date). The application verifies with the PUBLIC key only (core.audit_signing).

It refuses a head that does not extend the last one it signed (a lower or equal event id or
count): a forged history can be signed only after the newest real checkpoint, never in its place.
Each record also carries its sequence number and the SHA-256 of the previous record, so a missing
or re-ordered line in the sink is visible too.

No Django here: the signer needs none of the application's settings or secrets, only its key
file, its sink and, optionally, the S3 bucket. Configuration comes from arguments or from the
environment (AUDIT_SIGNER_LISTEN, AUDIT_SIGNER_KEY_FILE, AUDIT_SIGNER_SINK, AUDIT_SIGNER_S3_BUCKET,
AUDIT_SIGNER_S3_PREFIX, AUDIT_SIGNER_S3_RETAIN_DAYS, AUDIT_SIGNER_S3_ENDPOINT_URL).

Protocol (JSON over HTTP, loopback or a private network only):
- POST /sign {"head_id", "head_hash", "count", "head_at"} -> 200 {"record": {...}, "sig": b64}
  (409 when the head does not extend the last signed one, 400 for a malformed head)
- GET /checkpoints -> {"checkpoints": [{"record", "sig"}, ...]} every signed checkpoint, in order
- GET /public-key -> {"public_key": b64} (for the operator setting AUDIT_SIGNER_PUBLIC_KEY)
- GET /healthz -> {"status": "ok"}
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

RECORD_VERSION = 1
_HASH = re.compile(r"^[0-9a-f]{64}$")
_MAX_BODY = 4096


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces (the verifier rebuilds them the same way)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def line_digest(line: dict[str, Any]) -> str:
    """What the next record's "prev" holds: the SHA-256 of this record and its signature."""
    return hashlib.sha256(canonical(line)).hexdigest()


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Reads the signer's private key; on first run creates it (mode 0600, folder 0700) and writes
    the public key beside it as `<name>.pub` for the operator to copy into the app's settings."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SystemExit(f"{path} does not hold an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    path.with_name(path.name + ".pub").write_text(public_key_b64(key) + "\n")
    return key


# Sinks -------------------------------------------------------------------------------------------


class FileSink:
    """Append-only JSON lines. Opened with O_APPEND for every write, so even a bug here cannot
    overwrite an earlier line; on Linux `chattr +a` on the file makes the kernel enforce it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="ascii") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    def append(self, line: dict[str, Any]) -> None:
        data = json.dumps(line, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)


def s3_put_request(line: dict[str, Any], *, bucket: str, prefix: str, retain_days: int, now: datetime) -> dict[str, Any]:
    """The put_object arguments for one checkpoint under S3 Object Lock (compliance mode): the
    object cannot be deleted or overwritten, not even by the bucket's owner, until RetainUntilDate.
    The key holds the zero-padded sequence number, so the bucket lists in chain order."""
    seq = int(line["record"]["seq"])
    body = json.dumps(line, sort_keys=True, separators=(",", ":")).encode("ascii")
    return {
        "Bucket": bucket,
        "Key": f"{prefix.strip('/')}/{seq:012d}.json".lstrip("/"),
        "Body": body,
        "ContentType": "application/json",
        "ChecksumAlgorithm": "SHA256",
        "ObjectLockMode": "COMPLIANCE",
        "ObjectLockRetainUntilDate": now + timedelta(days=retain_days),
        # Object Lock refuses a second object under the same key only with versioning; this makes a
        # replayed sequence number fail instead of silently adding a version.
        "IfNoneMatch": "*",
    }


class S3Sink:
    """Each checkpoint one object under Object Lock (the bucket must be created with Object Lock
    enabled). Used besides the file sink, which stays the signer's own record of its last head."""

    def __init__(self, bucket: str, prefix: str, retain_days: int, endpoint_url: str = "") -> None:
        import boto3

        self.bucket, self.prefix, self.retain_days = bucket, prefix, retain_days
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None)

    def append(self, line: dict[str, Any]) -> None:
        request = s3_put_request(
            line, bucket=self.bucket, prefix=self.prefix, retain_days=self.retain_days, now=datetime.now(UTC)
        )
        self.client.put_object(**request)


# Signing -----------------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Signer:
    def __init__(self, key: Ed25519PrivateKey, sink: FileSink, extra_sinks: list[Any] | None = None) -> None:
        self.key, self.sink, self.extra_sinks = key, sink, extra_sinks or []
        self.lock = threading.Lock()
        lines = sink.read()
        self.last: dict[str, Any] | None = lines[-1] if lines else None

    def sign(self, head: dict[str, Any]) -> dict[str, Any]:
        head_id, count = head.get("head_id"), head.get("count")
        head_hash, head_at = head.get("head_hash"), head.get("head_at")
        if not (isinstance(head_id, int) and isinstance(count, int) and head_id > 0 and count > 0):
            raise Refused(400, "head_id and count must be positive integers")
        if not (isinstance(head_hash, str) and _HASH.match(head_hash)):
            raise Refused(400, "head_hash must be 64 lowercase hex digits")
        try:
            datetime.fromisoformat(str(head_at))
        except ValueError:
            raise Refused(400, "head_at must be an ISO 8601 time") from None
        with self.lock:
            last = self.last["record"] if self.last else None
            if last is not None:
                if head_id == last["head_id"] and head_hash == last["head_hash"] and count == last["count"]:
                    return self.last  # type: ignore[return-value]  # asked twice (a retry): same answer
                if head_id <= last["head_id"] or count <= last["count"]:
                    raise Refused(409, "the head does not extend the last signed checkpoint")
            record = {
                "v": RECORD_VERSION,
                "seq": (last["seq"] + 1) if last else 1,
                "prev": line_digest(self.last) if self.last else "",
                "head_id": head_id,
                "head_hash": head_hash,
                "count": count,
                "head_at": str(head_at),
                "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            line = {"record": record, "sig": base64.b64encode(self.key.sign(canonical(record))).decode("ascii")}
            # The file first: it is the signer's own memory of its last head. Then the locked bucket;
            # if that fails the checkpoint is not answered, and the application asks again later.
            self.sink.append(line)
            self.last = line
            for sink in self.extra_sinks:
                sink.append(line)
            return line


def make_handler(signer: Signer) -> type[BaseHTTPRequestHandler]:
    public = public_key_b64(signer.key)

    class Handler(BaseHTTPRequestHandler):
        server_version = "audit-signer"

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._send(200, {"status": "ok"})
            elif self.path == "/public-key":
                self._send(200, {"public_key": public})
            elif self.path == "/checkpoints":
                self._send(200, {"checkpoints": signer.sink.read()})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/sign":
                self._send(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= _MAX_BODY:
                self._send(400, {"error": "body missing or too long"})
                return
            try:
                head = json.loads(self.rfile.read(length))
                if not isinstance(head, dict):
                    raise ValueError
                self._send(200, signer.sign(head))
            except Refused as exc:
                self._send(exc.status, {"error": str(exc)})
            except ValueError:
                self._send(400, {"error": "the body is not a JSON object"})
            except OSError as exc:  # a sink that cannot be written: the app retries later
                self._send(503, {"error": f"the sink could not be written: {exc.__class__.__name__}"})

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write("audit-signer: " + (format % args) + "\n")

    return Handler


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--listen", default=env("AUDIT_SIGNER_LISTEN", "127.0.0.1:8031"), help="host:port")
    parser.add_argument("--key-file", default=env("AUDIT_SIGNER_KEY_FILE", "var/audit-signer/signing.key"))
    parser.add_argument("--sink", default=env("AUDIT_SIGNER_SINK", "var/audit-signer/checkpoints.jsonl"))
    parser.add_argument("--s3-bucket", default=env("AUDIT_SIGNER_S3_BUCKET", ""))
    parser.add_argument("--s3-prefix", default=env("AUDIT_SIGNER_S3_PREFIX", "audit-checkpoints"))
    parser.add_argument("--s3-retain-days", type=int, default=int(env("AUDIT_SIGNER_S3_RETAIN_DAYS", "3650")))
    parser.add_argument("--s3-endpoint-url", default=env("AUDIT_SIGNER_S3_ENDPOINT_URL", ""))
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    key = load_or_create_key(Path(args.key_file))
    extra = [S3Sink(args.s3_bucket, args.s3_prefix, args.s3_retain_days, args.s3_endpoint_url)] if args.s3_bucket else []
    signer = Signer(key, FileSink(Path(args.sink)), extra)
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), make_handler(signer))
    # The operator copies the public key into AUDIT_SIGNER_PUBLIC_KEY; tests and run_all wait for this line.
    sys.stdout.write(f"audit-signer: listening on {host}:{server.server_address[1]}; public key {public_key_b64(key)}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
