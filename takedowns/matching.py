"""Finding known material again: one in-memory index of every evidence fingerprint per process.

PostgreSQL holds the truth. Each process keeps `hashing.index.HammingIndex`es (PDQ, pHash) and an
MD5 table, loaded once and brought up to date incrementally (rows with a higher id) whenever a
query finds the index older than MATCH_INDEX_MAX_AGE_S, so a fingerprint stored by one process
is found by every other within that time. Deletions arrive the same way: the retention process
lists the ids of the fingerprints it purged in evidence.RemovedFingerprint, and each refresh
removes those listed since its last one. That list is kept for REMOVED_FINGERPRINT_LOG_DAYS, so an
index not refreshed for longer is loaded again from scratch. Low-quality PDQ hashes are not indexed, and a query
that falls within the threshold of the negative bank (known false positives) matches nothing.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from hashing.image import PDQ_MIN_QUALITY, PDQ_THRESHOLD, PHASH_THRESHOLD
from hashing.index import HammingIndex

THRESHOLDS = {"pdq": PDQ_THRESHOLD, "phash": PHASH_THRESHOLD, "md5": 0}
_BITS = {"pdq": 256, "phash": 64}


@dataclass(frozen=True)
class Match:
    evidence: int
    case: int
    algorithm: str
    distance: int
    frames: int = 1  # for videos: query frames that matched in order


class _ProcessIndex:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.indexes = {name: HammingIndex(bits) for name, bits in _BITS.items()}
        self.negatives = {name: HammingIndex(bits) for name, bits in _BITS.items()}
        self.md5: dict[str, set[int]] = {}
        self.md5_of: dict[int, str] = {}  # fingerprint id -> MD5 value, to remove purged ones
        self.evidence_of: dict[int, int] = {}  # fingerprint id -> evidence id
        self.frame_of: dict[int, int] = {}  # fingerprint id -> frame_ms (videos)
        self.last_id = 0
        self.last_negative_id = 0
        self.last_removed_id: int | None = None  # None: not loaded yet
        self.refreshed_at = 0.0
        self.refreshed_wall = time.time()

    def _drop_removed(self) -> None:
        """Forgets fingerprints the retention process deleted since the last refresh."""
        from evidence.models import RemovedFingerprint

        if self.last_removed_id is None:
            # First load: what was deleted before is not in the table being loaded. Read the cursor
            # before loading, so a deletion committed during the load is applied next time.
            self.last_removed_id = RemovedFingerprint.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            return
        while True:
            rows = list(
                RemovedFingerprint.objects.filter(pk__gt=self.last_removed_id)
                .order_by("pk")
                .values_list("pk", "fingerprint_id")[:50_000]
            )
            if not rows:
                return
            ids = [fingerprint_id for _pk, fingerprint_id in rows]
            for index in self.indexes.values():
                index.remove(ids)
            for pk in ids:
                self.evidence_of.pop(pk, None)
                self.frame_of.pop(pk, None)
                value = self.md5_of.pop(pk, None)
                if value is not None:
                    holders = self.md5.get(value, set())
                    holders.discard(pk)
                    if not holders:
                        self.md5.pop(value, None)
            self.last_removed_id = rows[-1][0]

    def refresh(self) -> int:
        from evidence.models import Fingerprint
        from takedowns.models import NegativeFingerprint

        added = 0
        with self.lock:
            self._drop_removed()
            while True:
                rows = list(
                    Fingerprint.objects.filter(pk__gt=self.last_id, algorithm__in=("pdq", "phash", "md5", "pdq_c90", "phash_c90"))
                    .order_by("pk")
                    .values_list("pk", "evidence_id", "algorithm", "value", "quality", "frame_ms")[:50_000]
                )
                if not rows:
                    break
                by_algorithm: dict[str, tuple[list[int], list[str]]] = {"pdq": ([], []), "phash": ([], [])}
                for pk, evidence_id, stored_algorithm, value, quality, frame_ms in rows:
                    # Crop variants ("pdq_c90") live in the index of their base algorithm.
                    algorithm = stored_algorithm.removesuffix("_c90")
                    self.evidence_of[pk] = evidence_id
                    if frame_ms is not None:
                        self.frame_of[pk] = frame_ms
                    if algorithm == "md5":
                        self.md5.setdefault(value, set()).add(pk)
                        self.md5_of[pk] = value
                    elif algorithm == "pdq" and (quality or 0) < PDQ_MIN_QUALITY:
                        continue
                    else:
                        by_algorithm[algorithm][0].append(pk)
                        by_algorithm[algorithm][1].append(value)
                for algorithm, (ids, hexes) in by_algorithm.items():
                    if ids:
                        self.indexes[algorithm].add(ids, hexes)
                added += len(rows)
                self.last_id = rows[-1][0]
            for negative in NegativeFingerprint.objects.filter(pk__gt=self.last_negative_id).order_by("pk"):
                if negative.algorithm in self.negatives:
                    self.negatives[negative.algorithm].add([negative.pk], [negative.value])
                self.last_negative_id = negative.pk
            self.refreshed_at = time.monotonic()
            self.refreshed_wall = time.time()
        return added

    def ensure_fresh(self) -> None:
        if time.monotonic() - self.refreshed_at > settings.MATCH_INDEX_MAX_AGE_S:
            self.refresh()

    def search(self, algorithm: str, value: str) -> list[tuple[int, int]]:
        """(fingerprint id, distance) within the threshold, nearest first; [] for negative-bank hits."""
        if algorithm == "md5":
            return [(pk, 0) for pk in sorted(self.md5.get(value.lower(), ()))]
        if algorithm not in self.indexes:
            return []
        threshold = THRESHOLDS[algorithm]
        if self.negatives[algorithm].search(value, threshold, limit=1):
            return []
        return self.indexes[algorithm].search(value, threshold, limit=settings.MATCH_MAX_CANDIDATES)


_index: _ProcessIndex | None = None
_index_lock = threading.Lock()


def process_index() -> _ProcessIndex:
    global _index
    from evidence.retention import REMOVED_FINGERPRINT_LOG_DAYS

    with _index_lock:
        # Older than the list of purged fingerprints (less a day's margin): that list may no
        # longer name everything deleted since, so load afresh rather than risk keeping one.
        if _index is None or time.time() - _index.refreshed_wall > (REMOVED_FINGERPRINT_LOG_DAYS - 1) * 86_400:
            _index = _ProcessIndex()
    _index.ensure_fresh()
    return _index


def reset_process_index() -> None:
    """For tests: forget the loaded index so the next query loads afresh."""
    global _index
    with _index_lock:
        _index = None


def match_fingerprints(fingerprints: list[dict[str, Any]], *, visible_evidence: Any = None) -> list[Match]:
    """Matches a file's fingerprints (one still image, or a video's frames) against all evidence.

    A still image matches evidence when any of its fingerprints (including the mirrored ones) is
    within its algorithm's threshold. A video matches when enough of its frames match frames of
    the same evidence in the same order (VIDEO_MIN_MATCHED_FRAMES and a share of the frames).
    """
    from evidence.models import Evidence

    index = process_index()
    per_evidence: dict[tuple[int, str], list[tuple[int | None, int, int]]] = {}
    frames = {fp.get("frame_ms") for fp in fingerprints if fp.get("frame_ms") is not None}
    for fp in fingerprints:
        for fingerprint_id, distance in index.search(fp["algorithm"], fp["value"]):
            evidence_id = index.evidence_of.get(fingerprint_id)
            if evidence_id is None:
                continue
            per_evidence.setdefault((evidence_id, fp["algorithm"]), []).append(
                (fp.get("frame_ms"), index.frame_of.get(fingerprint_id, -1), distance)
            )
    found: dict[int, Match] = {}
    cases = dict(Evidence.objects.filter(pk__in={e for e, _a in per_evidence}).values_list("pk", "case_id"))
    allowed = None if visible_evidence is None else set(visible_evidence.filter(pk__in=cases.keys()).values_list("pk", flat=True))
    for (evidence_id, algorithm), hits in per_evidence.items():
        if evidence_id not in cases or (allowed is not None and evidence_id not in allowed):
            continue
        if frames and algorithm != "md5":
            ordered = _frames_in_order(hits)
            needed = max(settings.VIDEO_MIN_MATCHED_FRAMES, int(len(frames) * settings.VIDEO_MIN_MATCHED_SHARE))
            if ordered < min(needed, len(frames)):
                continue
            distance = int(np.median([h[2] for h in hits]))
            candidate = Match(evidence_id, cases[evidence_id], algorithm, distance, ordered)
        else:
            candidate = Match(evidence_id, cases[evidence_id], algorithm, min(h[2] for h in hits))
        best = found.get(evidence_id)
        if best is None or _rank(candidate) < _rank(best):
            found[evidence_id] = candidate
    return sorted(found.values(), key=_rank)


def _rank(match: Match) -> tuple[float, int]:
    # Distances of different algorithms compare by their share of the threshold.
    threshold = THRESHOLDS.get(match.algorithm) or 1
    return (match.distance / threshold if match.algorithm != "md5" else -1.0, match.evidence)


def _frames_in_order(hits: list[tuple[int | None, int, int]]) -> int:
    """Length of the longest run of query frames whose matched evidence frames also increase."""
    best_per_query: dict[int, int] = {}
    for query_ms, evidence_ms, _distance in hits:
        if query_ms is None:
            continue
        best_per_query.setdefault(query_ms, evidence_ms)
    sequence = [best_per_query[q] for q in sorted(best_per_query)]
    # Longest non-decreasing subsequence (patience sorting), O(n log n).
    import bisect

    tails: list[int] = []
    for value in sequence:
        position = bisect.bisect_right(tails, value)
        if position == len(tails):
            tails.append(value)
        else:
            tails[position] = value
    return len(tails)


def fingerprints_of_file(path: Path) -> list[dict[str, Any]]:
    """Fingerprints of an untrusted file, computed in the sandboxed probe (video frames included)."""
    from evidence import sandbox
    from evidence.validation import sniff

    with path.open("rb") as fh:
        sniffed = sniff(fh.read(512))
    if sniffed.kind not in ("image", "video"):
        return []
    with tempfile.TemporaryDirectory(prefix="match-") as out:
        result = sandbox.probe(path, sniffed.kind, Path(out), full=sniffed.kind == "video")
    fps = list(result.get("fingerprints") or [])
    if result.get("md5"):
        fps.append({"algorithm": "md5", "value": result["md5"], "frame_ms": None})
    return fps


def match_file(path: Path, *, user: Any) -> list[Match]:
    """Matches an uploaded file against the evidence this user may see."""
    from evidence.selectors import evidence_visible_to

    return match_fingerprints(fingerprints_of_file(path), visible_evidence=evidence_visible_to(user))
