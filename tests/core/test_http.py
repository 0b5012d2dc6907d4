"""The one outbound HTTP client (core/http.py).

Address refusals are tested on check_address() itself: no test here connects anywhere but 127.0.0.1 (an autouse
fixture fails any test that tries). Live tests talk to servers the tests start on 127.0.0.1. These tests use no
database fixture (the client refuses to run inside the transaction that pytest-django's `db` fixture opens),
except the ones that check exactly that.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper

from core import http
from core.http import BlockedAddress, FetchFailed, FetchTimeout, ResponseTooLarge

LOOPBACK = ["127.0.0.1", "::1"]

# --- the address check, on the function only --------------------------------------------------------------------

BLOCKED = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "169.254.169.254",
    "169.254.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "0.1.2.3",
    "255.255.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "192.0.2.10",
    "198.18.0.1",
    "::",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::10.0.0.1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    "2002:c0a8:0101::1",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", BLOCKED)
def test_special_purpose_addresses_are_refused(address: str) -> None:
    with pytest.raises(BlockedAddress, match="refused to connect"):
        http.check_address(ipaddress.ip_address(address), [])


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_accepted(address: str) -> None:
    http.check_address(ipaddress.ip_address(address), [])


def test_6to4_of_a_public_address_is_accepted() -> None:
    http.check_address(ipaddress.ip_address("2002:0808:0808::1"), [])  # 8.8.8.8


def test_allowlist_by_ip_cidr_and_host_name() -> None:
    ip = ipaddress.ip_address
    http.check_address(ip("10.1.2.3"), ["10.0.0.0/8"])
    http.check_address(ip("192.168.1.1"), ["192.168.1.1"])
    http.check_address(ip("fd00::5"), ["fd00::/64"])
    http.check_address(ip("::ffff:127.0.0.1"), ["127.0.0.1"])
    http.check_address(ip("10.9.9.9"), ["Platform-Sim.Internal."], host="platform-sim.internal")
    with pytest.raises(BlockedAddress):
        http.check_address(ip("10.1.2.3"), ["10.2.0.0/16", "192.168.1.1", "other.internal"], host="platform-sim.internal")
    with pytest.raises(BlockedAddress):
        http.check_address(ip("10.1.2.3"), ["127.0.0.1"])  # an IPv4 entry does not cover IPv6 or vice versa by accident
    with pytest.raises(BlockedAddress):
        http.check_address(ip("::1"), ["127.0.0.1"])


def test_bad_allowlist_entry_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="OUTBOUND_ALLOWLIST entry"):
        http.check_address(ipaddress.ip_address("8.8.8.8"), ["10.0.0.0/33"])


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names in the returned dict resolve to the listed addresses; everything else resolves normally."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            out: list[Any] = []
            for addr in table[host]:
                if ":" in addr:
                    out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (addr, port, 0, 0)))
                else:
                    out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port)))
            return out
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


def test_resolve_and_check_refuses_if_any_address_is_blocked(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["mixed.example"] = ["93.184.216.34", "10.0.0.5"]
    fake_dns["public.example"] = ["93.184.216.34", "2606:4700:4700::1111"]
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.5 \(mixed\.example\)"):
        http.resolve_and_check("mixed.example", 443, [])
    assert [str(a) for a in http.resolve_and_check("public.example", 443, [])] == ["93.184.216.34", "2606:4700:4700::1111"]


# --- live tests on 127.0.0.1 ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def connections_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every socket connect in the test is recorded; one to anything but loopback fails the test before it happens."""
    made: list[str] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            pytest.fail(f"test tried to connect to {address}")
        made.append(host)
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    return made


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_body(self, body: bytes, status: int = 200, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "999999999")
        self.end_headers()

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/see-other":
            self.send_body(b"", 303, Location="/echo")
        else:
            self.send_body(data, X_Method="POST")

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/ok":
            self.send_body(b"hello evidence", X_Seen_Host=self.headers["Host"], X_Seen_UA=self.headers["User-Agent"])
        elif self.path == "/echo":
            self.send_body(b"", X_Method="GET", X_Seen_Auth=self.headers.get("Authorization", "-"))
        elif self.path == "/big-cl":
            self.send_body(b"x" * 5000)
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(2000):
                    self.wfile.write(b"1000\r\n" + b"y" * 4096 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the client hung up, as it should
        elif self.path == "/slow":
            time.sleep(2)
            self.send_body(b"late")
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "20")
            self.end_headers()
            try:
                for _ in range(20):
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
        elif self.path == "/gzip":
            self.send_body(gzip.compress(b"<html>compressed</html>"), Content_Encoding="gzip", Content_Type="text/html")
        elif self.path == "/redirect":
            self.send_body(b"", 302, Location="/ok")
        elif self.path == "/redirect-absolute":
            self.send_body(b"", 301, Location=f"http://127.0.0.1:{port}/ok")
        elif self.path == "/redirect-private":
            self.send_body(b"", 302, Location="http://10.0.0.1/")
        elif self.path == "/redirect-name":
            self.send_body(b"", 302, Location="http://intranet.example/")
        elif self.path == "/redirect-other-origin":
            self.send_body(b"", 307, Location=f"http://localhost:{port}/echo")
        elif self.path == "/redirect-file":
            self.send_body(b"", 302, Location="file:///etc/passwd")
        elif self.path.startswith("/loop"):
            self.send_body(b"", 302, Location=f"/loop{int(self.path[5:] or 0) + 1}")
        else:
            self.send_body(b"not here", 404)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients hanging up early is what the tests do
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def loopback_allowed(settings: SettingsWrapper) -> None:
    settings.OUTBOUND_ALLOWLIST = LOOPBACK


def test_get(server: str) -> None:
    response = http.request("GET", f"{server}/ok")
    assert response.status == 200
    assert response.body == b"hello evidence"
    assert response.headers["content-length"] == "14"  # case-insensitive
    assert response.headers["X-Seen-UA"] == http.browser_user_agents()[0]  # material fetches name nobody
    assert http.request("GET", f"{server}/ok", profile=http.CENTRE).headers["X-Seen-UA"] == http.DEFAULT_USER_AGENT
    assert response.url == f"{server}/ok"
    assert response.remote_address == "127.0.0.1"
    assert response.history == []
    assert 0 < response.elapsed_s < 5


def test_error_status_is_returned_not_raised(server: str) -> None:
    response = http.request("GET", f"{server}/missing")
    assert (response.status, response.body) == (404, b"not here")


def test_post_body_and_head(server: str) -> None:
    response = http.request("POST", f"{server}/echo", body=b"notice text", headers={"Content-Type": "text/plain"})
    assert (response.body, response.headers["X-Method"]) == (b"notice text", "POST")
    head = http.request("HEAD", f"{server}/ok", max_bytes=10)  # HEAD's Content-Length describes no body
    assert (head.status, head.body) == (200, b"")


def test_body_over_the_limit_with_content_length_is_refused_before_reading(server: str) -> None:
    with pytest.raises(ResponseTooLarge, match="announced 5000 bytes"):
        http.request("GET", f"{server}/big-cl", max_bytes=1000)
    assert http.request("GET", f"{server}/big-cl", max_bytes=5000).body == b"x" * 5000


def test_body_over_the_limit_without_content_length_is_aborted(server: str) -> None:
    with pytest.raises(ResponseTooLarge, match="over the limit of 100000 bytes") as caught:
        http.request("GET", f"{server}/big-chunked", max_bytes=100_000)
    assert "yyyy" not in str(caught.value)


def test_gzip_body_is_decoded_and_its_encoding_headers_dropped(server: str) -> None:
    response = http.request("GET", f"{server}/gzip")
    assert response.body == b"<html>compressed</html>"
    assert "Content-Encoding" not in response.headers
    assert "Content-Length" not in response.headers


def test_slow_server_times_out(server: str) -> None:
    with pytest.raises(FetchTimeout):  # the answer comes after 2 s; the client gave up at 0.5 s
        http.request("GET", f"{server}/slow", timeout=0.5)


def test_dripping_server_hits_the_total_timeout(server: str) -> None:
    with pytest.raises(FetchTimeout):
        http.request("GET", f"{server}/drip", timeout=0.5, total_timeout=0.6)


def test_redirects_are_followed(server: str) -> None:
    response = http.request("GET", f"{server}/redirect")
    assert (response.status, response.body, response.url) == (200, b"hello evidence", f"{server}/ok")
    assert response.history == [f"{server}/redirect"]
    assert http.request("GET", f"{server}/redirect-absolute").body == b"hello evidence"
    not_followed = http.request("GET", f"{server}/redirect", allow_redirects=False)
    assert (not_followed.status, not_followed.headers["Location"]) == (302, "/ok")


def test_303_turns_post_into_get(server: str) -> None:
    response = http.request("POST", f"{server}/see-other", body=b"x")
    assert response.headers["X-Method"] == "GET"


def test_credentials_are_not_sent_to_another_origin(server: str) -> None:
    response = http.request("GET", f"{server}/redirect-other-origin", headers={"Authorization": "Token secret"})
    assert response.url.startswith("http://localhost:")
    assert response.headers["X-Seen-Auth"] == "-"


def test_redirect_loop_stops(server: str) -> None:
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        http.request("GET", f"{server}/loop", max_redirects=3)


def test_redirect_to_a_private_address_is_refused_before_connecting(server: str, connections_made: list[str]) -> None:
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.1"):
        http.request("GET", f"{server}/redirect-private")
    assert connections_made == ["127.0.0.1"]  # only the first hop


def test_redirect_to_a_name_resolving_to_a_private_address_is_refused(
    server: str, fake_dns: dict[str, list[str]], connections_made: list[str]
) -> None:
    fake_dns["intranet.example"] = ["192.168.0.10"]
    with pytest.raises(BlockedAddress, match=r"192\.168\.0\.10 \(intranet\.example\)"):
        http.request("GET", f"{server}/redirect-name")
    assert connections_made == ["127.0.0.1"]


def test_redirect_to_another_scheme_is_refused(server: str) -> None:
    with pytest.raises(FetchFailed, match="only http and https"):
        http.request("GET", f"{server}/redirect-file")


def test_host_name_resolving_to_a_private_address_is_refused(fake_dns: dict[str, list[str]], connections_made: list[str]) -> None:
    fake_dns["evil.example"] = ["10.0.0.7"]
    with pytest.raises(BlockedAddress, match=r"10\.0\.0\.7"):
        http.request("GET", "http://evil.example/")
    assert connections_made == []


def test_loopback_is_refused_without_the_allowlist(server: str, settings: SettingsWrapper, connections_made: list[str]) -> None:
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(BlockedAddress, match="loopback"):
        http.request("GET", f"{server}/ok")
    with pytest.raises(BlockedAddress, match="loopback"):
        http.request("GET", server.replace("127.0.0.1", "localhost") + "/ok")
    assert connections_made == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0x7f.1", "127.1", "[::ffff:127.0.0.1]", "LOCALHOST."])
def test_disguised_loopback_is_refused_after_resolution(
    host: str, settings: SettingsWrapper, connections_made: list[str]
) -> None:
    """Numeric host forms are resolved by the C library without DNS; the resolved address is what gets checked."""
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(BlockedAddress):
        http.request("GET", f"http://{host}:9/")
    assert connections_made == []


def test_ipv6_loopback(settings: SettingsWrapper) -> None:
    class Server6(QuietServer):
        address_family = socket.AF_INET6

    try:
        httpd = Server6(("::1", 0), Handler)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        response = http.request("GET", f"http://[::1]:{httpd.server_address[1]}/ok")
        assert (response.body, response.remote_address) == (b"hello evidence", "::1")
        assert response.headers["X-Seen-Host"] == f"[::1]:{httpd.server_address[1]}"
        settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
        with pytest.raises(BlockedAddress, match="loopback"):
            http.request("GET", f"http://[::1]:{httpd.server_address[1]}/ok")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_allowlisted_host_name_connects_to_the_checked_address_only(
    server: str,
    fake_dns: dict[str, list[str]],
    settings: SettingsWrapper,
    connections_made: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the name is resolved once; the connection goes to that address; Host still names the host."""
    settings.OUTBOUND_ALLOWLIST = ["media.example.test"]
    lookups: list[str] = []
    fake_dns["media.example.test"] = ["127.0.0.1"]
    real = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "media.example.test":
            lookups.append(host)
            if len(lookups) > 1:
                fake_dns[host] = ["10.0.0.1"]  # a second lookup would get a private address
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = server.rsplit(":", 1)[1]
    response = http.request("GET", f"http://media.example.test:{port}/ok")
    assert response.headers["X-Seen-Host"] == f"media.example.test:{port}"
    assert lookups == ["media.example.test"]
    assert connections_made == ["127.0.0.1"]


def test_urls_other_than_http_are_refused(connections_made: list[str]) -> None:
    for url in ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/", "//127.0.0.1/", "http:///nohost"]:
        with pytest.raises(FetchFailed):
            http.request("GET", url)
    with pytest.raises(FetchFailed, match="user name or password"):
        http.request("GET", "http://user:pw@127.0.0.1/")
    assert connections_made == []


def test_nothing_listening_is_a_clear_failure() -> None:
    # Bound but not listening: the connection is refused, and no other process can take the port
    # and answer while the test runs (as it could if the port were found free and released).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        with pytest.raises(FetchFailed, match="could not connect"):
            http.request("GET", f"http://127.0.0.1:{port}/")


def test_https_uses_the_host_name_for_sni_and_checks_the_certificate(
    fake_dns: dict[str, list[str]], settings: SettingsWrapper, connections_made: list[str], tmp_path: Path
) -> None:
    """A TLS server on 127.0.0.1 with a self-signed certificate: the client sends SNI for the name and refuses the
    certificate (no test CA is trusted), which shows verification is on while the connection went to the pinned IP."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "media.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("media.example.test")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    seen_sni: list[str | None] = []
    context.sni_callback = lambda _sock, server_name, _ctx: seen_sni.append(server_name)  # type: ignore[func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client refuses the certificate
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.OUTBOUND_ALLOWLIST = ["media.example.test"]
    fake_dns["media.example.test"] = ["127.0.0.1"]
    try:
        with pytest.raises(FetchFailed, match="CERTIFICATE_VERIFY_FAILED"):
            http.request("GET", f"https://media.example.test:{listener.getsockname()[1]}/", timeout=2)
    finally:
        thread.join(timeout=2)
        listener.close()
    assert seen_sni == ["media.example.test"]
    assert connections_made == ["127.0.0.1"]


# --- stream_to_file ---------------------------------------------------------------------------------------------


def test_stream_to_file_writes_the_body(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "media.bin"
    response = http.stream_to_file(f"{server}/big-cl", dest, max_bytes=10_000, timeout=2)
    assert (response.status, response.body) == (200, b"")
    assert dest.read_bytes() == b"x" * 5000
    assert (dest.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["media.bin"]


@pytest.mark.parametrize("path", ["/big-cl", "/big-chunked"])
def test_stream_to_file_respects_max_bytes_and_leaves_nothing(server: str, tmp_path: Path, path: str) -> None:
    with pytest.raises(ResponseTooLarge):
        http.stream_to_file(f"{server}{path}", tmp_path / "media.bin", max_bytes=1000, timeout=2)
    assert list(tmp_path.iterdir()) == []


# --- the transaction rule ---------------------------------------------------------------------------------------


def test_refused_inside_a_transaction(
    django_db_setup: None, django_db_blocker: Any, server: str, connections_made: list[str]
) -> None:
    """An explicit transaction.atomic() on the test database. Nothing is written, so this needs no
    django_db(transaction=True) and its flush of the shared test database."""
    with (
        django_db_blocker.unblock(),
        transaction.atomic(),
        pytest.raises(RuntimeError, match="outbound HTTP inside a database transaction"),
    ):
        http.request("GET", f"{server}/ok")
    assert connections_made == []
    assert http.request("GET", f"{server}/ok").status == 200  # fine once the transaction is over


def test_refused_in_a_test_wrapped_in_a_transaction(db: None, server: str, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="inside a database transaction"):
        http.request("GET", f"{server}/ok")
    with pytest.raises(RuntimeError, match="inside a database transaction"):
        http.stream_to_file(f"{server}/ok", tmp_path / "x", max_bytes=100, timeout=1)
