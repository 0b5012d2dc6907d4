"""In-memory index of fingerprints searched by Hamming distance: exact, numpy only.

    index = HammingIndex(256)                       # PDQ; 64 for pHash
    index.add([17, 18], [pdq_hex_a, pdq_hex_b])     # ids are the caller's (e.g. database primary keys)
    index.search(query_hex, max_distance=31)        # [(id, distance), ...] nearest first

Every search is a linear scan, and exact: it returns every stored fingerprint within
max_distance (up to limit), never an approximation. What makes the scan fast:

* Column-major storage. Fingerprints are kept as uint64 words, one contiguous array per word
  (shape (words, capacity)), so the scan streams through memory and numpy's XOR and popcount run
  on contiguous data.
* Early rejection for wide hashes. The distance over the first two words (128 bits) is a lower
  bound of the full distance, so anything already further than max_distance on them is dropped,
  and the remaining words are compared only for the survivors. For PDQ at threshold 31 almost
  nothing survives (two random 128-bit strings differ by 64 +- 5.7 bits), so the scan costs about
  half of a full 256-bit comparison. pHash is one word: its scan is exact from the start.
* Chunks of CHUNK_ROWS rows, so temporaries stay in cache and memory use does not grow with the
  index.

Measurements (bench/matching.py, docs/hashing.md "The index"): about 13 ms per PDQ query over
10 million fingerprints on one core, where a Python loop over imagehash objects takes about a minute.

Concurrency: mutations (add, remove) take a lock; searches take no lock and read an immutable
snapshot (arrays + row count) published by the last mutation. Appends write only rows beyond every
published row count, and removals copy the small liveness mask before changing it, so a search
sees either all or nothing of a concurrent add or remove.

Ids are unique: adding an id that is already present replaces its fingerprint (the last wins
within one call too). Removed and replaced rows stay as tombstones until a quarter of the rows are
dead; then the arrays are compacted.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

__all__ = ["CHUNK_ROWS", "HammingIndex", "pack_hex"]

# Rows compared per numpy call. 64k rows keep each temporary at 512 KiB or less (L2-sized) while
# the per-chunk Python overhead (~10 numpy calls) stays below 2% of the scan; 16k was measurably
# slower (15 ms vs 12.6 ms over 10M PDQ) and 256k no faster.
CHUNK_ROWS: Final = 1 << 16
# Words (of 64 bits) compared for every row before the rest are compared for the survivors.
_PREFILTER_WORDS: Final = 2
_MIN_CAPACITY: Final = 1024
# The id -> row map is a sorted array plus a dict for rows added since the array was last rebuilt;
# the dict is merged into the array when it grows past max(_MIN_TAIL, live rows // _TAIL_FRACTION),
# so merging (O(n), vectorised) is amortised O(1) per added id and the dict stays small.
_MIN_TAIL: Final = 65_536
_TAIL_FRACTION: Final = 16
# Approximate bytes per dict entry (two int objects plus the hash table slot), for nbytes.
_DICT_ENTRY_BYTES: Final = 100


def _popcount_lut(words: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Set bits per uint64 through a 256-entry byte table: the fallback for numpy < 2."""
    table = _BYTE_POPCOUNT[words.view(np.uint8)].reshape(len(words), 8)
    return np.sum(table, axis=1, dtype=np.uint8, out=out)


_BYTE_POPCOUNT: Final = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_bitwise_count = getattr(np, "bitwise_count", None)  # numpy >= 2: one popcnt instruction per word


def _popcount_native(words: np.ndarray, out: np.ndarray) -> np.ndarray:
    result: np.ndarray = _bitwise_count(words, out=out)  # type: ignore[misc]
    return result


_popcount: Callable[[np.ndarray, np.ndarray], np.ndarray] = _popcount_native if _bitwise_count is not None else _popcount_lut


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits <= 0 or bits % 64:
        raise ValueError(f"bits must be a positive multiple of 64 (64 for pHash, 256 for PDQ), not {bits!r}")
    return bits // 64


def pack_hex(hexes: Sequence[str], bits: int) -> np.ndarray:
    """Hex fingerprints (most significant bit first, as in hashing.image) as an (n, bits // 64) uint64 array.

    Word 0 holds the first 16 hex digits, and the first digit is the top four bits of word 0, so
    fingerprints that differ in their first digit differ in the high bits of word 0. Upper or lower
    case; anything else (wrong length, non-hex, whitespace) raises ValueError.
    """
    words = _check_bits(bits)
    width = bits // 4
    count = len(hexes)
    if count == 0:
        return np.empty((0, words), dtype=np.uint64)
    # One join and one bytes.fromhex for the whole batch: about 100 ns per PDQ fingerprint, where a
    # per-item int(h, 16) or bytes.fromhex costs several times that.
    lengths = set(map(len, hexes))
    if lengths != {width}:
        raise ValueError(f"every fingerprint must be {width} hex digits for {bits} bits (found lengths {sorted(lengths)[:5]})")
    try:
        raw = bytes.fromhex("".join(hexes))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not a hex fingerprint: {exc}") from exc
    # bytes.fromhex skips whitespace between digit pairs; any skipped character shortens the output.
    if len(raw) != count * words * 8:
        raise ValueError("fingerprints must contain hex digits only")
    return np.frombuffer(raw, dtype=">u8").reshape(count, words).astype(np.uint64)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a search reads. Rows [0, size) of these arrays are never modified in place while a
    snapshot may refer to them: appends write beyond size, removals publish a new alive array."""

    columns: np.ndarray  # (words, capacity) uint64: one contiguous array per word
    ids: np.ndarray  # (capacity,) int64
    alive: np.ndarray  # (capacity,) bool: False for removed or replaced rows
    size: int  # rows in use, live or dead
    dead: int  # tombstones among them; 0 lets a search skip the liveness check


class HammingIndex:
    """Exact Hamming-distance index over fixed-width fingerprints (see the module docstring)."""

    def __init__(self, bits: int) -> None:
        self.words = _check_bits(bits)
        self.bits = bits
        self._lock = threading.Lock()
        self._snap = _Snapshot(
            columns=np.empty((self.words, 0), dtype=np.uint64),
            ids=np.empty(0, dtype=np.int64),
            alive=np.empty(0, dtype=bool),
            size=0,
            dead=0,
        )
        # id -> row, for mutations only (under the lock): rows [0, _indexed) through the sorted
        # arrays (which may still list rows that died since; alive[] decides), later rows through _tail.
        self._sorted_ids = np.empty(0, dtype=np.int64)
        self._sorted_rows = np.empty(0, dtype=np.int64)
        self._indexed = 0
        self._tail: dict[int, int] = {}

    # -----------------------------------------------------------------------------------------
    # Reading

    def __len__(self) -> int:
        snap = self._snap
        return snap.size - snap.dead

    @property
    def nbytes(self) -> int:
        """Memory held by the index: its arrays (including spare capacity) and an estimate for the id dict."""
        snap = self._snap
        arrays = snap.columns.nbytes + snap.ids.nbytes + snap.alive.nbytes + self._sorted_ids.nbytes + self._sorted_rows.nbytes
        return arrays + sys.getsizeof(self._tail) + _DICT_ENTRY_BYTES * len(self._tail)

    def search(self, hex_value: str, max_distance: int, limit: int = 100) -> list[tuple[int, int]]:
        """(id, distance) of stored fingerprints within max_distance (inclusive), nearest first, ties by id."""
        return self.search_packed(pack_hex([hex_value], self.bits)[0], max_distance, limit)

    def search_packed(self, query: np.ndarray, max_distance: int, limit: int = 100) -> list[tuple[int, int]]:
        """search() for a query already packed: shape (words,) uint64, as one row of pack_hex."""
        q = np.asarray(query)
        if q.dtype != np.uint64 or q.shape != (self.words,):
            raise ValueError(f"query must be a uint64 array of shape ({self.words},), not {q.dtype} {q.shape}")
        if limit < 0:
            raise ValueError("limit must be >= 0")
        if limit == 0 or max_distance < 0:
            return []
        snap = self._snap
        columns, size = snap.columns, snap.size
        max_d = min(max_distance, self.bits)  # larger thresholds match everything anyway
        pre_words = min(_PREFILTER_WORDS, self.words)
        exact = pre_words == self.words  # the prefilter already is the full distance
        pre_max = min(max_d, 64 * pre_words)  # fits the uint8 accumulator (<= 128)

        xored = np.empty(CHUNK_ROWS, dtype=np.uint64)
        acc = np.empty(CHUNK_ROWS, dtype=np.uint8)
        part = np.empty(CHUNK_ROWS, dtype=np.uint8)
        within = np.empty(CHUNK_ROWS, dtype=bool)
        found_rows: list[np.ndarray] = []
        found_dist: list[np.ndarray] = []
        pending = 0
        # Past this many hits, keep only the best `limit` and tighten max_d to the worst of them,
        # so a generous max_distance over a huge index neither holds every row nor slows the scan much.
        keep_bound = max(4 * limit, 4096)

        for start in range(0, size, CHUNK_ROWS):
            stop = min(size, start + CHUNK_ROWS)
            n = stop - start
            x, a = xored[:n], acc[:n]
            np.bitwise_xor(columns[0, start:stop], q[0], out=x)
            _popcount(x, a)
            for w in range(1, pre_words):
                np.bitwise_xor(columns[w, start:stop], q[w], out=x)
                np.add(a, _popcount(x, part[:n]), out=a)
            hits = np.flatnonzero(np.less_equal(a, pre_max, out=within[:n]))
            if not hits.size:
                continue
            rows = hits + start
            dist = a[hits].astype(np.int64)
            if snap.dead:
                live = snap.alive[rows]
                rows, dist = rows[live], dist[live]
            if not exact and rows.size:
                # Survivors only: gather the remaining words for them and finish their distance.
                bits_set = np.empty(rows.size, dtype=np.uint8)
                for w in range(pre_words, self.words):
                    dist += _popcount(columns[w, rows] ^ q[w], bits_set)
                close = dist <= max_d
                rows, dist = rows[close], dist[close]
            if not rows.size:
                continue
            found_rows.append(rows)
            found_dist.append(dist)
            pending += rows.size
            if pending > keep_bound:
                rows, dist = self._best(snap, found_rows, found_dist, limit)
                found_rows, found_dist, pending = [rows], [dist], rows.size
                if rows.size == limit:
                    max_d = int(dist[-1])
                    pre_max = min(max_d, 64 * pre_words)

        if not found_rows:
            return []
        rows, dist = self._best(snap, found_rows, found_dist, limit)
        return list(zip(snap.ids[rows].tolist(), dist.tolist(), strict=True))

    @staticmethod
    def _best(
        snap: _Snapshot, rows_parts: list[np.ndarray], dist_parts: list[np.ndarray], limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `limit` nearest rows, ordered by (distance, id)."""
        rows = np.concatenate(rows_parts)
        dist = np.concatenate(dist_parts)
        order = np.lexsort((snap.ids[rows], dist))[:limit]
        return rows[order], dist[order]

    # -----------------------------------------------------------------------------------------
    # Mutating

    def add(self, ids: Sequence[int], hexes: Sequence[str]) -> None:
        """Add (or replace) fingerprints given as hex; ids[i] is the id of hexes[i]."""
        if len(ids) != len(hexes):
            raise ValueError("ids and hexes must have the same length")
        self.add_packed(np.asarray(ids, dtype=np.int64), pack_hex(hexes, self.bits))

    def add_packed(self, ids: np.ndarray, packed: np.ndarray) -> None:
        """Add (or replace) fingerprints: ids int64 of shape (n,), packed uint64 of shape (n, words)."""
        ids = np.asarray(ids)
        packed = np.asarray(packed)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError("ids must be a one-dimensional integer array")
        if packed.dtype != np.uint64 or packed.shape != (len(ids), self.words):
            raise ValueError(f"packed must be uint64 of shape ({len(ids)}, {self.words}), not {packed.dtype} {packed.shape}")
        ids = ids.astype(np.int64, copy=False)
        if not len(ids):
            return
        ids, packed = _last_of_each_id(ids, packed)
        count = len(ids)
        with self._lock:
            snap = self._snap
            big = len(self._tail) + count > self._tail_limit(snap.size - snap.dead + count)
            if big:
                self._merge_tail(snap)
            previous = self._live_rows(ids, snap.alive)
            replaced = previous[previous >= 0]
            columns, id_array, alive = self._reserve(snap, count)
            if replaced.size:
                if alive is snap.alive:  # copy on write: published snapshots keep their own liveness
                    alive = alive.copy()
                alive[replaced] = False
            start, stop = snap.size, snap.size + count
            columns[:, start:stop] = packed.T
            id_array[start:stop] = ids
            alive[start:stop] = True
            new = _Snapshot(columns, id_array, alive, stop, snap.dead + int(replaced.size))
            if big:
                self._merge_tail(new)
            else:
                self._tail.update(zip(ids.tolist(), range(start, stop), strict=True))
            self._publish(new)

    def remove(self, ids: Iterable[int]) -> None:
        """Remove fingerprints by id; unknown ids are ignored. Removed ids are never returned again."""
        wanted = np.unique(np.fromiter((int(i) for i in ids), dtype=np.int64))
        if not wanted.size:
            return
        with self._lock:
            snap = self._snap
            rows = self._live_rows(wanted, snap.alive)
            rows = rows[rows >= 0]
            if not rows.size:
                return
            alive = snap.alive.copy()
            alive[rows] = False
            for row in rows.tolist():
                if row >= self._indexed:
                    del self._tail[int(snap.ids[row])]
            self._publish(_Snapshot(snap.columns, snap.ids, alive, snap.size, snap.dead + int(rows.size)))

    # -----------------------------------------------------------------------------------------
    # Internals (called with the lock held)

    @staticmethod
    def _tail_limit(live: int) -> int:
        return max(_MIN_TAIL, live // _TAIL_FRACTION)

    def _publish(self, snap: _Snapshot) -> None:
        # Compact once a quarter of the rows are tombstones: every search scans them, and compaction
        # costs O(rows), so doing it after Theta(rows) removals keeps removal amortised O(1).
        if snap.dead and snap.dead * 4 >= snap.size:
            snap = self._compact(snap)
        self._snap = snap  # a single attribute store: searches see the old or the new snapshot

    def _live_rows(self, ids: np.ndarray, alive: np.ndarray) -> np.ndarray:
        """Row of the live entry of each id, -1 where there is none."""
        rows = np.full(len(ids), -1, dtype=np.int64)
        if self._sorted_ids.size:
            pos = np.searchsorted(self._sorted_ids, ids)
            np.minimum(pos, self._sorted_ids.size - 1, out=pos)
            candidate = self._sorted_rows[pos]
            found = (self._sorted_ids[pos] == ids) & alive[candidate]
            rows[found] = candidate[found]
        if self._tail:
            # Newer than the sorted arrays: a re-added id is live here and dead there.
            for i, key in enumerate(ids.tolist()):
                row = self._tail.get(key)
                if row is not None:
                    rows[i] = row
        return rows

    def _merge_tail(self, snap: _Snapshot) -> None:
        """Fold rows [_indexed, size) into the sorted arrays (dropping dead entries) and empty the dict."""
        keep = snap.alive[self._sorted_rows]
        old_ids, old_rows = self._sorted_ids[keep], self._sorted_rows[keep]
        new_rows = np.arange(self._indexed, snap.size, dtype=np.int64)
        new_rows = new_rows[snap.alive[self._indexed : snap.size]]
        new_ids = snap.ids[new_rows]
        order = np.argsort(new_ids, kind="stable")  # timsort: O(n) on the usual already-sorted ids
        new_ids, new_rows = new_ids[order], new_rows[order]
        if old_ids.size:
            # Linear merge of two sorted runs: where each new id goes among the old ones.
            at = np.searchsorted(old_ids, new_ids) + np.arange(new_ids.size)
            total = old_ids.size + new_ids.size
            is_new = np.zeros(total, dtype=bool)
            is_new[at] = True
            merged_ids = np.empty(total, dtype=np.int64)
            merged_rows = np.empty(total, dtype=np.int64)
            merged_ids[at], merged_rows[at] = new_ids, new_rows
            merged_ids[~is_new], merged_rows[~is_new] = old_ids, old_rows
            new_ids, new_rows = merged_ids, merged_rows
        self._sorted_ids, self._sorted_rows = new_ids, new_rows
        self._indexed = snap.size
        self._tail = {}

    def _reserve(self, snap: _Snapshot, extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays with room for `extra` more rows: the current ones, or copies with doubled capacity."""
        needed = snap.size + extra
        if needed <= snap.ids.size:
            return snap.columns, snap.ids, snap.alive
        # Geometric growth keeps appends amortised O(1). The first bulk load gets exactly its size
        # (max with `needed`), so 10M fingerprints loaded at once take 10M rows, not 16M.
        capacity = max(needed, 2 * snap.ids.size, _MIN_CAPACITY)
        return self._copy_rows(snap, slice(0, snap.size), snap.size, capacity)

    def _copy_rows(
        self, snap: _Snapshot, rows: np.ndarray | slice, count: int, capacity: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """New arrays of `capacity` rows starting with the given `count` rows of snap."""
        columns = np.empty((self.words, capacity), dtype=np.uint64)
        id_array = np.empty(capacity, dtype=np.int64)
        alive = np.zeros(capacity, dtype=bool)
        columns[:, :count] = snap.columns[:, rows]
        id_array[:count] = snap.ids[rows]
        alive[:count] = snap.alive[rows]
        return columns, id_array, alive

    def _compact(self, snap: _Snapshot) -> _Snapshot:
        keep = snap.alive[: snap.size]
        live_rows = np.flatnonzero(keep)
        live = live_rows.size
        columns, id_array, alive = self._copy_rows(snap, live_rows, live, max(live, _MIN_CAPACITY))
        # Old row -> new row, to renumber the id map without rebuilding it.
        renumber = np.cumsum(keep, dtype=np.int64) - 1
        sorted_keep = keep[self._sorted_rows]
        self._sorted_ids = self._sorted_ids[sorted_keep]
        self._sorted_rows = renumber[self._sorted_rows[sorted_keep]]
        self._tail = {key: int(renumber[row]) for key, row in self._tail.items()}
        self._indexed = int(keep[: self._indexed].sum())
        return _Snapshot(columns, id_array, alive, live, 0)


def _last_of_each_id(ids: np.ndarray, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop all but the last occurrence of each id, keeping input order (the last one wins, as
    if the batch had been added one by one)."""
    if len(ids) < 2:
        return ids, packed
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    last = np.ones(len(ids), dtype=bool)
    np.not_equal(ordered[:-1], ordered[1:], out=last[:-1])
    if last.all():
        return ids, packed
    keep = np.sort(order[last])
    return ids[keep], packed[keep]
