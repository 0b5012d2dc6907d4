"""Threat: a watchlist is a window into other cases, and drafts land in the wrong name.

Before: a scan matched every evidence fingerprint of every centre, and a hit made a takedown draft
on the matching case "in the name of" the watchlist's creator, even when the creator could not
see that case; the creator's watchlist page counted the hit. A caseworker of one centre could
learn that a page they watch shows another centre's victim, and act on that case.

Control (takedowns/watchlists.py scan, _record_hit_elsewhere; match_views.watchlist_page): the scan
still looks everywhere (a repost of another centre's victim matters) but acts for the creator only
on evidence of cases they may see (cases.selectors.cases_visible_to). Any other hit makes no draft,
shows nothing to the creator (no count, no e-mail, no page), writes a timeline entry and an audit
event for the case's centre, and e-mails that centre's supervisors the case and a link only.
"""

from __future__ import annotations

import io

import pytest
from django.core import mail
from PIL import Image

from core.models import AuditEvent
from evidence import services as evidence_services
from takedowns.matching import reset_process_index
from takedowns.models import TakedownRequest, WatchlistHit
from takedowns.watchlists import scan, watchlist_create
from tests import factories, media
from tests.takedowns.conftest import consenting_case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_index(settings):
    settings.MATCH_INDEX_MAX_AGE_S = 0
    settings.WATCHLIST_AUTO_SEND_MAX_DISTANCE = ""
    reset_process_index()
    yield
    reset_process_index()


def _evidence(case, user, tmp_path, seed: int):
    path = tmp_path / f"ev-{seed}.jpg"
    path.write_bytes(media.image_bytes("JPEG", seed=seed, size=(800, 600)))
    return evidence_services.evidence_add(
        case=case, incoming=evidence_services.IncomingFile(path=path, name="e.jpg"), acting_user=user
    )


def _watched_page(simulator, seed: int) -> str:
    img = Image.open(io.BytesIO(media.image_bytes("JPEG", seed=seed, size=(800, 600))))
    img = img.resize((560, 420))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=70)
    simulator.host_file(f"/repost-{seed}/img.jpg", out.getvalue(), "image/jpeg")
    return simulator.host_page(f"/repost-{seed}", f'<html><img src="/repost-{seed}/img.jpg"></html>')


def test_hit_on_another_centres_evidence_tells_the_owner_nothing_and_that_centre_everything_it_needs(
    simulator, central, region, client_for, tmp_path
) -> None:
    owner = factories.make_user("caseworker", central, email="owner@a.example")
    owner_sup = factories.make_user("supervisor", central, email="sup@a.example")
    worker_b = factories.make_user("caseworker", region, email="worker@b.example")
    factories.make_user("supervisor", region, email="sup@b.example")
    case_b = consenting_case(worker_b)
    evidence_b = _evidence(case_b, worker_b, tmp_path, seed=301)
    page = _watched_page(simulator, 301)
    watchlist = watchlist_create(url=page, acting_user=owner, case=None, interval_minutes=60)
    mail.outbox.clear()

    assert scan(watchlist.pk) == 0
    # Nothing in the owner's name: no draft anywhere for the found copy.
    assert not TakedownRequest.objects.filter(url__contains="/repost-301/").exists()
    assert not TakedownRequest.objects.filter(created_by=owner).exists()
    # Nothing the owner (or their centre) sees: the watchlist page counts no hit, no e-mail to them.
    for user in (owner, owner_sup):
        html = client_for(user).get("/takedowns/watchlists/").content.decode()
        row = html[html.index("/repost-301") :]
        assert "<td>0</td>" in row[: row.index("</tr>")]
        assert case_b.reference not in html
    assert not [m for m in mail.outbox if {"owner@a.example", "sup@a.example"} & set(m.to)]
    scanned = AuditEvent.objects.filter(action="watchlist.scanned", object_id=str(watchlist.pk)).latest("id")
    assert scanned.details["drafts"] == 0
    # That centre: its supervisors are e-mailed the case and a link, with no address or victim detail.
    to_b = [m for m in mail.outbox if "sup@b.example" in m.to]
    assert len(to_b) == 1
    message = to_b[0]
    assert case_b.reference in message.subject
    assert f"/cases/{case_b.pk}/" in message.body
    assert "repost" not in message.body and "127.0.0.1" not in message.body.replace(f"/cases/{case_b.pk}/", "")
    assert case_b.victim.pseudonym not in message.body
    assert "worker@b.example" not in message.to  # supervisors decide
    # Recorded for that centre: timeline entry on its case, an audit event with its centre.
    assert case_b.events.filter(kind="takedown", data__status="found_again").exists()
    event = AuditEvent.objects.filter(action="watchlist.match", object_id=str(case_b.pk)).latest("id")
    assert event.centre_id == region.pk
    assert WatchlistHit.objects.get(watchlist=watchlist).evidence_id == evidence_b.pk
    # A second scan tells nobody again.
    mail.outbox.clear()
    assert scan(watchlist.pk) == 0
    assert mail.outbox == []


def test_hit_on_a_colleagues_case_the_owner_may_not_see_makes_no_draft_in_their_name(simulator, central, tmp_path) -> None:
    owner = factories.make_user("caseworker", central, email="owner@a.example")
    colleague = factories.make_user("caseworker", central, email="colleague@a.example")
    factories.make_user("supervisor", central, email="sup@a.example")
    case = consenting_case(colleague)
    _evidence(case, colleague, tmp_path, seed=302)
    watchlist = watchlist_create(url=_watched_page(simulator, 302), acting_user=owner, case=None, interval_minutes=60)
    mail.outbox.clear()
    assert scan(watchlist.pk) == 0
    assert not TakedownRequest.objects.filter(case=case).exists()
    assert [m.to for m in mail.outbox] == [["sup@a.example"]]


def test_own_centre_hit_still_drafts_for_the_owner_and_only_there(simulator, central, region, tmp_path) -> None:
    """The same picture is evidence in the owner's case and in another centre's: one draft, the owner's."""
    owner = factories.make_user("caseworker", central, email="owner@a.example")
    worker_b = factories.make_user("caseworker", region, email="worker@b.example")
    factories.make_user("supervisor", region, email="sup@b.example")
    case = consenting_case(owner)
    evidence = _evidence(case, owner, tmp_path, seed=303)
    case_b = consenting_case(worker_b)
    _evidence(case_b, worker_b, tmp_path, seed=303)
    watchlist = watchlist_create(url=_watched_page(simulator, 303), acting_user=owner, case=None, interval_minutes=60)
    mail.outbox.clear()
    assert scan(watchlist.pk) == 1
    request = TakedownRequest.objects.get(url__contains="/repost-303/")
    assert request.case_id == case.pk
    assert request.status == "draft"
    assert list(request.evidence.values_list("pk", flat=True)) == [evidence.pk]
    assert [m.to for m in mail.outbox if "sup@b.example" in m.to] == [["sup@b.example"]]
