"""Seeds the bench database with a year of takedown history for the compliance bench:
1,000,000 takedown requests over 30 platforms and about 5,000,000 re-checks.

    .venv/bin/python bench/compliance_seed.py [--requests 1000000] [--checks 5000000] [--seed 7]

The few rows that matter for identity (platforms, a user, a dozen cases) go through the services;
the requests and checks are generated in Python (fixed random seed) and bulk-loaded with
PostgreSQL COPY in chunks of 50,000 requests, one transaction per chunk. The seeded requests
belong to the cases of the user `compliance-seed` (the marker): when they already hold the target
count the script says so and exits; after an interrupted run it loads only what is missing.

Distributions, per platform (sizes follow a Zipf-like law, a few big platforms and a long tail):
sent_at spread evenly over the past 365 days, in id order as in a live table; ~80% removed after a
lognormal number of hours (each platform its own median and spread); deadline = sent + the
platform's SLA (urgent requests: the jurisdiction's urgent deadline); 5-85% acknowledged first
(by platform); ~5% of removals come back (some are taken down again); the rest stay up or are
rejected; overdue, reminders and escalation follow the deadline the way
takedowns.services.process_deadlines would have set them. 1% were never sent (draft, queued,
failed) and are outside every figure. Checks: 1 to 9 per sent request, about 5 on average; the
check that found the material gone is at removed_at exactly.
"""

from __future__ import annotations

import argparse
import io
import math
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DB, bench_environment

SEED_USER = "compliance-seed"
CHUNK = 50_000
DAY = 86400.0
HOUR = 3600.0
CATEGORIES = ["deepfake", "intimate_image", "illicit_filming", "sextortion", "personal_info", "other"]

# name, domain, jurisdiction, channel, sla hours, removal share, median hours to removal, spread
# (lognormal sigma), acknowledgement share, escalates (has a regulator address).
PLATFORMS = [
    ("Tubely", "tubely.example", "US", "api", 48, 0.90, 14, 1.0, 0.85, True),
    ("Instapix", "instapix.example", "US", "api", 24, 0.93, 8, 0.9, 0.80, True),
    ("Chirper", "chirper.example", "US", "api", 48, 0.78, 30, 1.2, 0.60, True),
    ("Naverlike Blog", "blog.naverlike.example", "KR", "api", 24, 0.92, 6, 0.8, 0.75, True),
    ("Kakaostory", "kakaostory.example", "KR", "email", 24, 0.88, 10, 0.9, 0.40, True),
    ("Telegrid", "telegrid.example", "OTHER", "email", 48, 0.45, 90, 1.5, 0.10, False),
    ("Reddot", "reddot.example", "US", "api", 48, 0.85, 20, 1.1, 0.70, True),
    ("Vidstream JP", "vidstream.example.jp", "JP", "email", 48, 0.80, 36, 1.0, 0.35, True),
    ("Pinboard", "pinboard.example", "US", "email", 48, 0.87, 18, 1.0, 0.30, True),
    ("DCInside-like", "gall.example.kr", "KR", "manual", 24, 0.82, 16, 1.1, 0.25, True),
    ("Imgdrop", "imgdrop.example", "OTHER", "email", 48, 0.70, 40, 1.3, 0.20, False),
    ("Tiktak", "tiktak.example", "EU", "api", 24, 0.91, 9, 0.9, 0.80, True),
    ("Xvault", "xvault.example", "OTHER", "manual", 48, 0.60, 72, 1.4, 0.15, False),
    ("Filesend", "filesend.example", "EU", "email", 24, 0.84, 22, 1.1, 0.45, True),
    ("Cloudbox", "cloudbox.example", "UK", "api", 48, 0.89, 16, 1.0, 0.70, True),
    ("Streamcat", "streamcat.example", "AU", "email", 24, 0.83, 20, 1.1, 0.40, True),
    ("Bandcamp-ish", "bandish.example", "US", "email", 48, 0.81, 26, 1.0, 0.30, True),
    ("Weebo", "weebo.example.cn", "OTHER", "email", 48, 0.55, 80, 1.5, 0.10, False),
    ("Linemoments", "moments.example.jp", "JP", "api", 48, 0.86, 15, 0.9, 0.65, True),
    ("Forumhub", "forumhub.example", "OTHER", "manual", 48, 0.65, 60, 1.4, 0.15, False),
    ("Snapgram", "snapgram.example", "US", "api", 24, 0.94, 5, 0.8, 0.85, True),
    ("Ruliweb-like", "bbs.example.kr", "KR", "email", 24, 0.86, 12, 1.0, 0.30, True),
    ("Tumblelog", "tumblelog.example", "US", "email", 48, 0.79, 28, 1.1, 0.35, True),
    ("Mediafire-ish", "mfire.example", "US", "email", 48, 0.74, 34, 1.2, 0.25, False),
    ("Indopix", "indopix.example.id", "ID", "email", 24, 0.77, 24, 1.2, 0.30, True),
    ("Eurotube", "eurotube.example.eu", "EU", "api", 24, 0.90, 11, 0.9, 0.75, True),
    ("Sharehost", "sharehost.example", "OTHER", "email", 72, 0.68, 50, 1.3, 0.20, False),
    ("Piccolo", "piccolo.example.kr", "KR", "api", 24, 0.93, 7, 0.8, 0.80, True),
    ("Britbook", "britbook.example.uk", "UK", "email", 48, 0.85, 19, 1.0, 0.40, True),
    ("Anonboard", "anonboard.example", "OTHER", "manual", 72, 0.50, 100, 1.6, 0.05, False),
]

REQUEST_COLUMNS = [
    "id", "url", "host", "status", "urgent", "deadline", "sent_at", "acknowledged_at", "removed_at", "rejected_at",
    "reappeared_at", "ticket", "platform_message", "reminded_at", "overdue", "escalation_level", "escalated_at",
    "next_check_at", "check_count", "watch_until", "last_notice_at", "next_poll_at", "approved_at", "consent_overridden",
    "created_at", "updated_at", "approved_by_id", "case_id", "created_by_id", "platform_id",
]  # fmt: skip
CHECK_COLUMNS = ["request_id", "at", "outcome", "http_status", "distance", "detail"]
NULL = "\\N"


def ts(epoch: float | None) -> str:
    return NULL if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def setup_rows():
    """Platforms, the seed user and its cases, through the services. Returns (user, cases, platforms)."""
    from cases import services as case_services
    from cases.models import Case
    from core import services as core_services
    from core.models import User
    from takedowns import services
    from takedowns.models import Platform

    user = User.objects.filter(username=SEED_USER).first() or core_services.user_create(
        username=SEED_USER, role="caseworker", centre=core_services.central_centre(), password=None
    )
    cases = list(Case.objects.filter(created_by=user).order_by("pk"))
    for n in range(len(cases), 12):
        cases.append(
            case_services.case_create(
                acting_user=user,
                category=CATEGORIES[n % len(CATEGORIES)],
                victim={"pseudonym": f"Compliance seed {n + 1:02d}"},
                consent={"takedown": True},
            )
        )
    platforms = []
    for name, domain, jurisdiction, channel, sla, *_rest, escalates in PLATFORMS:
        platform = Platform.objects.filter(name=name).first() or services.platform_create(
            acting_user=None, name=name, domains=[domain], jurisdiction=jurisdiction, channel=channel, sla_hours=sla,
            email=f"abuse@{domain}" if channel == "email" else "", endpoint=f"https://api.{domain}/notices" if channel == "api" else "",
            web_form_url=f"https://{domain}/report" if channel == "manual" else "",
            escalation_name="Regulator" if escalates else "", escalation_email="regulator@example.org" if escalates else "",
        )  # fmt: skip
        platforms.append(platform)
    return user, cases, platforms


class Generator:
    """Rows for one chunk: request lines and check lines in COPY text format."""

    def __init__(self, *, rng: random.Random, now: float, user_id: int, cases: list, platforms: list, checks_per_sent: float):
        from takedowns.jurisdictions import deadline_hours

        self.rng = rng
        self.now = now
        self.user_id = user_id
        self.case_ids = [c.pk for c in cases]
        self.case_weights = list(range(len(cases), 0, -1))  # a few cases carry most of the load
        self.platforms = []
        for platform, spec in zip(platforms, PLATFORMS, strict=True):
            _name, domain, jurisdiction, channel, sla, p_removed, median_h, sigma, p_ack, escalates = spec
            self.platforms.append(
                {
                    "id": platform.pk, "domain": domain, "channel": channel, "p_removed": p_removed,
                    "mu": math.log(median_h), "sigma": sigma, "p_ack": p_ack, "escalates": escalates,
                    "deadline_h": {u: deadline_hours(jurisdiction, sla, urgent=u) for u in (False, True)},
                }
            )  # fmt: skip
        self.platform_cum = list(_cumulative([1 / (rank + 1) ** 0.9 for rank in range(len(platforms))]))
        # 1..9 checks (mean 5) plus one more for a share, so that the total comes out at the target.
        self.extra_check_share = min(1.0, max(0.0, checks_per_sent - 5.0))

    def chunk(self, first_id: int, count: int, *, position: int, total: int) -> tuple[io.StringIO, io.StringIO, int]:
        """Rows first_id.. for requests number position.. of total. Requests are sent in id order over
        the year (with jitter), as in a live table, so sent_at correlates with the physical order."""
        rng = self.rng
        requests: list[str] = []
        checks: list[str] = []
        plats = rng.choices(self.platforms, cum_weights=self.platform_cum, k=count)
        cases = rng.choices(self.case_ids, weights=self.case_weights, k=count)
        slot = 365 * DAY / total
        start = self.now - 365 * DAY
        for offset in range(count):
            when = start + (position + offset + rng.random()) * slot
            requests.append(self.request(first_id + offset, plats[offset], cases[offset], when, checks))
        return io.StringIO("".join(requests)), io.StringIO("".join(checks)), len(checks)

    def request(self, rid: int, p: dict, case_id: int, when: float, checks: list[str]) -> str:
        rng = self.rng
        now = self.now
        domain = p["domain"]
        url = f"https://{domain}/v/{rid}-{rng.getrandbits(32):08x}"
        urgent = rng.random() < 0.08
        r = dict.fromkeys(REQUEST_COLUMNS)
        r.update(
            id=rid, url=url, host=domain, urgent=urgent, ticket="", platform_message="", overdue=False, escalation_level=0,
            check_count=0, consent_overridden=False, approved_by_id=None, case_id=case_id, created_by_id=self.user_id,
            platform_id=p["id"],
        )  # fmt: skip
        if rng.random() < 0.01:  # never delivered: draft, queued or failed (outside every figure)
            created = when
            status = rng.choices(["draft", "queued", "failed"], weights=[5, 3, 2])[0]
            r.update(status=status, created_at=created, updated_at=min(now, created + rng.random() * DAY))
            if status != "draft":
                r.update(approved_at=created + rng.random() * HOUR, approved_by_id=self.user_id)
            return _line(r)

        sent = when
        created = sent - rng.expovariate(1 / (2 * HOUR)) - 60
        deadline = sent + p["deadline_h"][urgent] * HOUR
        ack = removed = rejected = reappeared = None
        if rng.random() < p["p_ack"]:
            ack = sent + rng.lognormvariate(math.log(3), 0.9) * HOUR
        end = None  # when the material was found gone or the platform rejected the request
        if rng.random() < p["p_removed"]:
            removed = sent + max(0.2, rng.lognormvariate(p["mu"], p["sigma"])) * HOUR
            if removed >= now:
                removed = None
        elif rng.random() < 0.25:
            rejected = sent + rng.lognormvariate(math.log(30), 1.0) * HOUR
            if rejected >= now:
                rejected = None
        if ack is not None and ack >= now:
            ack = None
        for answer in (removed, rejected):  # a platform that answers does so before it acts
            if ack is not None and answer is not None and ack >= answer:
                ack = sent + (answer - sent) * rng.uniform(0.2, 0.9)

        status = "acknowledged" if ack is not None else "sent"
        first_removed = removed
        if removed is not None:
            status = "removed"
            end = removed
            if rng.random() < 0.05:  # came back during the 30-day watch
                back = removed + rng.uniform(1, 29) * DAY
                if back < now:
                    reappeared = back
                    status = "reappeared"
                    end = None
                    if rng.random() < 0.4:  # and was taken down again
                        again = back + rng.lognormvariate(math.log(24), 1.0) * HOUR
                        if again < now:
                            removed = again
                            status = "removed"
                            end = again
        elif rejected is not None:
            status = "rejected"
            end = rejected

        stop = min(end, now) if end is not None else now  # the last moment the request was open
        overdue = deadline < stop
        reminded = deadline - 2 * HOUR if deadline - 2 * HOUR < stop else None
        level, escalated = 0, None
        if overdue and p["escalates"]:
            first = deadline + DAY
            if first < stop:
                level = min(3, 1 + int((stop - first) // (7 * DAY)))  # weekly; operators stop after the third
                escalated = first + (level - 1) * 7 * DAY
        last_notice = sent + DAY * int((stop - sent) // DAY) if status not in ("removed", "rejected") else sent
        if reappeared is not None and last_notice < reappeared:
            last_notice = reappeared

        watch_until = next_check = next_poll = None
        if status == "removed":
            watch_until = removed + 30 * DAY
            if watch_until > now:
                next_check = removed + 7 * DAY * (1 + int((now - removed) // (7 * DAY)))
                next_check = min(next_check, watch_until)
        elif status != "rejected":
            next_check = now + rng.random() * DAY
        if p["channel"] == "api":
            r["ticket"] = f"T-{rid:09d}"
            if status in ("sent", "acknowledged", "reappeared"):
                next_poll = now + rng.random() * 1800
        if status == "rejected":
            r["platform_message"] = "Reviewed: does not violate our policies."

        # Checks: one where the material was found gone (at removed_at exactly), one where it came
        # back, the rest spread over the time the request was followed.
        k = rng.randint(1, 9) + (1 if rng.random() < self.extra_check_share else 0)
        followed_until = min(now, (watch_until or stop) if status == "removed" else stop)
        events: list[tuple[float, str]] = []
        if first_removed is not None:
            events.append((first_removed, "removed"))
        if reappeared is not None:
            events.append((reappeared, "still_up"))
        if removed is not None and removed != first_removed:
            events.append((removed, "removed"))
        k = max(k, len(events))
        # The rest back off like the re-check schedule (10 min, 1 h, 4 h, 12 h, then daily, weekly
        # while watched): log-uniform in the time since the notice, dense early and sparse later.
        span = max(600.0, followed_until - sent)
        for _ in range(k - len(events)):
            at = sent + 600 * (span / 600) ** rng.random()
            outcome = "inconclusive" if rng.random() < 0.03 else self.outcome_at(at, first_removed, reappeared, removed)
            events.append((at, outcome))
        events.sort()
        for at, outcome in events:
            checks.append(self.check_line(rid, at, outcome))
        last_check = events[-1][0] if events else sent

        updated = max(t for t in (sent, ack, removed, rejected, reappeared, escalated, last_check, last_notice) if t is not None)
        r.update(
            status=status, deadline=deadline, sent_at=sent, acknowledged_at=ack, removed_at=removed, rejected_at=rejected,
            reappeared_at=reappeared, reminded_at=reminded, overdue=overdue, escalation_level=level, escalated_at=escalated,
            next_check_at=next_check, check_count=len(events), watch_until=watch_until, last_notice_at=last_notice,
            next_poll_at=next_poll, approved_at=sent - rng.uniform(5, 120), approved_by_id=self.user_id, created_at=created,
            updated_at=min(now, updated),
        )  # fmt: skip
        return _line(r)

    @staticmethod
    def outcome_at(at: float, first_removed: float | None, reappeared: float | None, removed: float | None) -> str:
        if first_removed is None or at < first_removed:
            return "still_up"
        if reappeared is None or at < reappeared:
            return "removed"
        return "removed" if removed is not None and removed != first_removed and at >= removed else "still_up"

    def check_line(self, rid: int, at: float, outcome: str) -> str:
        rng = self.rng
        if outcome == "still_up":
            http, distance, detail = "200", str(rng.randint(0, 8)), ""
        elif outcome == "removed":
            http, distance, detail = rng.choice(("404", "410", "404", "451")), NULL, ""
        else:
            http, distance, detail = rng.choice((NULL, "503", "429")), NULL, "timeout or blocked"
        return f"{rid}\t{ts(at)}\t{outcome}\t{http}\t{distance}\t{detail}\n"


def _cumulative(weights: list[float]):
    total = 0.0
    for w in weights:
        total += w
        yield total


def _line(r: dict) -> str:
    out = []
    for column in REQUEST_COLUMNS:
        v = r[column]
        if v is None:
            out.append(NULL)
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        elif isinstance(v, float):
            out.append(ts(v))
        else:
            out.append(str(v))
    return "\t".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    bench_environment()
    import django

    django.setup()
    import psycopg2
    from django.core.management import call_command
    from django.db import connection, transaction

    from takedowns.models import TakedownRequest

    call_command("migrate", verbosity=0)
    user, cases, platforms = setup_rows()
    existing = TakedownRequest.objects.filter(case__in=cases).count()
    if existing >= args.requests:
        print(f"{BENCH_DB} already holds {existing:,} seeded takedown requests (target {args.requests:,}); nothing to do.")
        return
    missing = args.requests - existing
    if existing:
        print(f"{existing:,} seeded requests found (an interrupted run?); loading the {missing:,} missing")
    now = time.time()
    gen = Generator(
        rng=random.Random(args.seed * 1_000_003 + existing), now=now, user_id=user.pk, cases=cases, platforms=platforms,
        checks_per_sent=args.checks / (args.requests * 0.99),
    )  # fmt: skip
    loaded = checks_loaded = 0
    gen_s = copy_s = 0.0
    while loaded < missing:
        n = min(CHUNK, missing - loaded)
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg2 cursor, for copy_expert
            raw.execute("LOCK TABLE takedowns_takedownrequest IN SHARE ROW EXCLUSIVE MODE")
            # Reserve n ids from the identity sequence, so the checks can name their request.
            raw.execute(
                "SELECT setval(pg_get_serial_sequence('takedowns_takedownrequest', 'id'),"
                " GREATEST(nextval(pg_get_serial_sequence('takedowns_takedownrequest', 'id')),"
                " (SELECT COALESCE(MAX(id), 0) + 1 FROM takedowns_takedownrequest)) + %s - 1)",
                [n],
            )
            first_id = raw.fetchone()[0] - n + 1
            t0 = time.perf_counter()
            request_rows, check_rows, check_count = gen.chunk(first_id, n, position=loaded, total=missing)
            t1 = time.perf_counter()
            raw.copy_expert(f"COPY takedowns_takedownrequest ({', '.join(REQUEST_COLUMNS)}) FROM STDIN", request_rows)
            raw.copy_expert(f"COPY takedowns_check ({', '.join(CHECK_COLUMNS)}) FROM STDIN", check_rows)
            t2 = time.perf_counter()
        gen_s += t1 - t0
        copy_s += time.perf_counter() - t1
        loaded += n
        checks_loaded += check_count
        elapsed = time.perf_counter() - started
        print(
            f"  {existing + loaded:>9,} requests, {checks_loaded:>10,} checks  ({elapsed:6.1f} s; copy {t2 - t1:.1f} s)",
            flush=True,
        )
    connection.close()
    t0 = time.perf_counter()
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=BENCH_DB)
    conn.autocommit = True
    with conn.cursor() as cur:  # visibility map and planner statistics, as a settled database would have them
        cur.execute("VACUUM (ANALYZE) takedowns_takedownrequest")
        cur.execute("VACUUM (ANALYZE) takedowns_check")
    conn.close()
    vacuum_s = time.perf_counter() - t0
    total = time.perf_counter() - started
    print(
        f"seeded {loaded:,} takedown requests and {checks_loaded:,} checks over {len(platforms)} platforms and "
        f"{len(cases)} cases in {total:.0f} s (generate {gen_s:.0f} s, COPY {copy_s:.0f} s, VACUUM ANALYZE {vacuum_s:.0f} s)"
    )


if __name__ == "__main__":
    main()
