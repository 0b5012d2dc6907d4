"""Re-checks and notices go through the one outbound client: private, loopback, link-local and
metadata addresses are refused unless allowlisted. Decisions are tested on the address check
itself; live tests only ever touch servers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from core import http
from takedowns.models import CheckOutcome
from takedowns.rechecks import Known, check_url

BLOCKED = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fd00::1"]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked_addresses_with_an_empty_allowlist(address: str) -> None:
    with pytest.raises(http.BlockedAddress):
        http.check_address(ipaddress.ip_address(address), [])


@pytest.mark.parametrize("address", BLOCKED)
def test_a_host_name_resolving_to_a_blocked_address_is_refused(address: str, monkeypatch: pytest.MonkeyPatch) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(family, socket.SOCK_STREAM, 6, "", (address, 80))])
    with pytest.raises(http.BlockedAddress):
        http.resolve_and_check("innocent-looking.example", 80, [])


class _Redirect(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def no_other_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fails the test if anything connects anywhere but 127.0.0.1."""
    made: list[str] = []
    original = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        made.append(str(host))
        assert host == "127.0.0.1", f"tried to connect to {host}"
        return original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return made


def test_recheck_of_loopback_outside_the_allowlist_is_inconclusive(settings, simulator, no_other_connections) -> None:
    url = simulator.host_page("/private", "<html>x</html>")
    settings.OUTBOUND_ALLOWLIST = []
    verdict = check_url(url, Known(set(), []))
    assert verdict.outcome == CheckOutcome.INCONCLUSIVE
    assert "blocked" in verdict.detail
    assert no_other_connections == []


def test_redirect_from_an_allowed_server_to_other_loopback_is_refused(settings, redirector, no_other_connections) -> None:
    _Redirect.target = "http://127.0.0.2:9/metadata"
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    verdict = check_url(f"http://127.0.0.1:{redirector.server_address[1]}/start", Known({"x"}, []))
    assert verdict.outcome == CheckOutcome.INCONCLUSIVE
    assert "blocked" in verdict.detail
    assert no_other_connections == ["127.0.0.1"]  # the redirect's target was never contacted
    _Redirect.target = "http://169.254.169.254/latest/meta-data/"
    verdict = check_url(f"http://127.0.0.1:{redirector.server_address[1]}/start", Known({"x"}, []))
    assert verdict.outcome == CheckOutcome.INCONCLUSIVE
    assert set(no_other_connections) == {"127.0.0.1"}


@pytest.mark.django_db(transaction=True)  # outbound HTTP runs outside any transaction
def test_a_recheck_asked_through_the_api_never_reaches_an_address_outside_the_allowlist(
    settings, simulator, sim_platform, caseworker, api_for, no_other_connections
) -> None:
    """A caseworker's program asks for a re-check of a page on a loopback address that is not
    allowlisted: the check is recorded as inconclusive (blocked), nothing is marked removed."""
    from takedowns import services, tasks
    from takedowns.models import Notice
    from tests.takedowns.conftest import consenting_case

    api = api_for(caseworker)
    url = simulator.host_page("/private-api", "<html>x</html>")
    created = api.post("/api/v1/takedowns/", {"case": consenting_case(caseworker).pk, "url": url}, format="json").json()
    assert api.post(f"/api/v1/takedowns/{created['id']}/send/", {}, format="json").status_code == 202
    assert services.deliver(Notice.objects.get(request_id=created["id"]).pk) == "delivered"

    settings.OUTBOUND_ALLOWLIST = []
    connections = len(no_other_connections)
    assert api.post(f"/api/v1/takedowns/{created['id']}/recheck/").status_code == 202
    tasks.recheck_request(int(created["id"]), asked=True)  # what the worker runs for that click
    body = api.get(f"/api/v1/takedowns/{created['id']}/").json()
    assert body["status"] == "sent"
    assert body["checks"][-1]["outcome"] == "inconclusive"
    assert "blocked" in body["checks"][-1]["detail"]
    assert len(no_other_connections) == connections  # refused before any connection was made
