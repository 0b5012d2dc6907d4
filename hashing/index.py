"""In-memory index of fingerprints searched by Hamming distance: exact, numpy only.

    index = HammingIndex(256)                       # PDQ; 64 for pHash
    index.add([17, 18], [pdq_hex_a, pdq_hex_b])     # ids are the caller's (e.g. database primary keys)
    index.search(query_hex, max_distance=31)        # [(id, distance), ...] nearest first

Searches are exact: every stored fingerprint within max_distance is found (up to limit, nearest
first), never an approximation. Two ways to find them, chosen per query:

* Multi-index hashing (Norouzi et al., the scheme behind faiss IndexBinaryMultiHash, which Meta's
  Hasher-Matcher-Actioner uses for PDQ). Fingerprints are cut into 16-bit substrings, and for each
  substring position a table lists the rows per substring value. If two fingerprints are within r
  bits and there are m substrings, then by pigeonhole at least one substring is within r // m bits
  (more precisely: of substrings 0..t, t = r % m, one is within r // m, or of the others one is
  within r // m - 1). For PDQ at 31 that is 16 tables probed at radius 1: 17 buckets each, about
  270 buckets of 150 rows at 10M, 40k candidates instead of 10M rows. Candidates are then checked
  exactly. The tables cover the rows present when they were built; rows added since are scanned.
* Linear scan, for rows added since the tables were built, for small indexes (no tables below
  _TABLE_MIN_ROWS rows), and whenever the buckets to probe would hold more than 1/32 of the rows
  (a large max_distance, or data that piles up in a few buckets) since scanning is then cheaper.
  Fingerprints are stored column-major (one contiguous uint64 array per 64-bit word), so XOR and
  popcount stream through memory; the first two words (128 bits) are compared for every row and
  the rest only for rows not already further than max_distance (two random 128-bit strings differ
  by 64 +- 5.7 bits, so for PDQ at 31 hardly any row survives). Chunks of CHUNK_ROWS rows keep
  temporaries in cache.

Measurements are in docs/hashing.md ("The index") and come from bench/matching.py.

Concurrency: mutations (add, remove) take a lock; searches take no lock and read an immutable
snapshot (arrays, row count, tables) published by the last mutation. Appends write only rows beyond
every published row count, and removals copy the liveness mask before changing it, so a search
sees either all or nothing of a concurrent add or remove.

Ids are unique: adding an id that is already present replaces its fingerprint (the last wins
within one call too). Removed and replaced rows stay as tombstones until a quarter of the rows are
dead; then the arrays are compacted.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import comb
from typing import Final

import numpy as np

__all__ = ["CHUNK_ROWS", "HammingIndex", "pack_hex", "unpack_pg_copy_binary"]

# Rows compared per numpy call in a linear scan. 64k rows keep each temporary at 512 KiB or less
# (L2-sized) while the per-chunk Python overhead (~10 numpy calls) stays below 2% of the scan;
# 16k was measurably slower (15 ms vs 12.6 ms over 10M PDQ) and 256k no faster.
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

# Multi-index hashing. 16-bit substrings: bucket offsets are a plain array indexed by value
# (65537 entries per table) and a bucket holds rows / 65536 rows, ~150 at 10M.
_SUB_BITS: Final = 16
_SUB_VALUES: Final = 1 << _SUB_BITS
_SUBS_PER_WORD: Final = 64 // _SUB_BITS
# Below this many rows a linear scan takes well under a millisecond and tables are not worth their memory.
_TABLE_MIN_ROWS: Final = 65_536
# Tables are rebuilt from scratch once the rows added since exceed 1/8 of the rows they cover: the
# linear scan of those stays short, and rebuilding (O(rows)) after Theta(rows) appends keeps
# appends amortised O(1).
_TABLE_STALE_FRACTION: Final = 8
# Probing costs a scattered read per candidate, the scan a sequential read per row: past
# rows / 32 candidates the scan is the faster of the two.
_CANDIDATE_FRACTION: Final = 32
# Every 16-bit XOR mask, fewest set bits first: the keys within radius r of a value v are
# v ^ _MASKS[:_MASKS_WITHIN[r]].
_MASKS: Final = np.argsort(
    np.unpackbits(np.arange(_SUB_VALUES, dtype=">u2").view(np.uint8)).reshape(_SUB_VALUES, _SUB_BITS).sum(axis=1), kind="stable"
).astype(np.int64)
_MASKS_WITHIN: Final = np.cumsum([comb(_SUB_BITS, k) for k in range(_SUB_BITS + 1)])


_BYTE_POPCOUNT: Final = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_lut(words: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Set bits per uint64 through a 256-entry byte table: the fallback for numpy < 2 (pyproject allows 1.26)."""
    table = _BYTE_POPCOUNT[words.view(np.uint8)].reshape(len(words), 8)
    return np.sum(table, axis=1, dtype=np.uint8, out=out)


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
    # One join and one bytes.fromhex for the whole batch, no Python per item beyond the length
    # check: 100-175 ns per PDQ value over 1M, where int(h, 16) alone takes ~240 ns per item and
    # would still have to be split into words.
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


_PG_COPY_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00"


def unpack_pg_copy_binary(data: bytes | bytearray | memoryview, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, packed) from PostgreSQL binary COPY output of (bigint, bytea) rows, for add_packed.

    The fast way to load a table of hex fingerprints (10M PDQ rows into a fresh process, index
    built, in 9-14 s on 2 cores; bench/matching.py):

        COPY (SELECT id, decode(value, 'hex') FROM ...) TO STDOUT WITH (FORMAT binary)

    Every row then has the same size, so the whole stream is one numpy structured array: no
    per-row Python and no hex parsing on our side. ids is a native int64 copy; packed is a
    big-endian (n, bits // 64) view into `data` (keep it alive, or copy), which add_packed takes as is.
    NULLs or values of another length raise ValueError.
    """
    words = _check_bits(bits)
    view = memoryview(data).cast("B")
    header = len(_PG_COPY_SIGNATURE) + 8
    if len(view) < header + 2 or bytes(view[: len(_PG_COPY_SIGNATURE)]) != _PG_COPY_SIGNATURE:
        raise ValueError("not PostgreSQL binary COPY output")
    extension = int.from_bytes(view[header - 4 : header], "big")
    start = header + extension
    if bytes(view[-2:]) != b"\xff\xff":  # the trailer: a field count of -1
        raise ValueError("binary COPY output is truncated")
    row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i8"), ("value_len", ">i4"), ("value", ">u8", (words,))])
    body = view[start:-2]
    if len(body) % row.itemsize:
        raise ValueError(f"rows are not all (bigint, {bits // 8}-byte bytea)")
    rows = np.frombuffer(body, dtype=row)
    ok = (rows["fields"] == 2) & (rows["id_len"] == 8) & (rows["value_len"] == bits // 8)
    if not ok.all():
        raise ValueError(f"rows are not all (bigint, {bits // 8}-byte bytea); NULLs are not allowed")
    return rows["id"].astype(np.int64), rows["value"]


@dataclass(frozen=True, slots=True)
class _Tables:
    """Multi-index tables over rows [0, rows): for substring j (16 bits, j = 0 the top bits of word 0),
    the rows whose substring has value v are members[j, offsets[j, v] : offsets[j, v + 1]]."""

    rows: int
    offsets: np.ndarray  # (substrings, 65537) int64
    members: np.ndarray  # (substrings, rows) uint32

    @property
    def nbytes(self) -> int:
        return int(self.offsets.nbytes + self.members.nbytes)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """What a search reads. Rows [0, size) of these arrays are never modified in place while a
    snapshot may refer to them: appends write beyond size, removals publish a new alive array."""

    columns: np.ndarray  # (words, capacity) uint64: one contiguous array per word
    ids: np.ndarray  # (capacity,) int64
    alive: np.ndarray  # (capacity,) bool: False for removed or replaced rows
    size: int  # rows in use, live or dead
    dead: int  # tombstones among them; 0 lets a search skip the liveness check
    tables: _Tables | None  # None until the index has _TABLE_MIN_ROWS rows


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
            tables=None,
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
        """Memory held by the index: its arrays (including spare capacity), the multi-index tables
        and an estimate for the dict of recently added ids."""
        snap = self._snap
        arrays = snap.columns.nbytes + snap.ids.nbytes + snap.alive.nbytes + self._sorted_ids.nbytes + self._sorted_rows.nbytes
        tables = snap.tables.nbytes if snap.tables is not None else 0
        return int(arrays + tables + sys.getsizeof(self._tail) + _DICT_ENTRY_BYTES * len(self._tail))

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
        max_d = min(max_distance, self.bits)  # larger thresholds match everything anyway
        found = _Found(snap, limit)
        scan_from = 0
        if snap.tables is not None:
            candidates = _probe(snap.tables, q, max_d)
            if candidates is not None:
                rows, dist = _distances(snap, q, candidates, max_d)
                rows, first = np.unique(rows, return_index=True)  # a near row is found in several tables
                found.add(rows, dist[first])
                scan_from = snap.tables.rows
        _scan(snap, q, scan_from, max_d, found)
        rows, dist = found.best()
        return list(zip(snap.ids[rows].tolist(), dist.tolist(), strict=True))

    # -----------------------------------------------------------------------------------------
    # Mutating

    def add(self, ids: Sequence[int], hexes: Sequence[str]) -> None:
        """Add (or replace) fingerprints given as hex; ids[i] is the id of hexes[i]."""
        if len(ids) != len(hexes):
            raise ValueError("ids and hexes must have the same length")
        self.add_packed(np.asarray(ids, dtype=np.int64), pack_hex(hexes, self.bits))

    def add_packed(self, ids: np.ndarray, packed: np.ndarray) -> None:
        """Add (or replace) fingerprints: ids int64 of shape (n,), packed uint64 (either byte order) of shape (n, words)."""
        ids = np.asarray(ids)
        packed = np.asarray(packed)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError("ids must be a one-dimensional integer array")
        # Either byte order: a big-endian view straight from bytes (unpack_pg_copy_binary) is
        # converted while it is copied into the index, instead of first into a temporary array.
        if packed.dtype.kind != "u" or packed.dtype.itemsize != 8 or packed.shape != (len(ids), self.words):
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
            new = _Snapshot(columns, id_array, alive, stop, snap.dead + int(replaced.size), snap.tables)
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
            self._publish(dataclasses.replace(snap, alive=alive, dead=snap.dead + int(rows.size)))

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
        covered = snap.tables.rows if snap.tables is not None else 0
        if snap.size - covered > max(_TABLE_MIN_ROWS, covered // _TABLE_STALE_FRACTION):
            snap = dataclasses.replace(snap, tables=_build_tables(snap.columns, snap.size))
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
        new_alive = snap.alive[self._indexed : snap.size]
        if new_alive.all():  # the usual case, and a bulk load: no gathers over 10M rows
            new_ids = snap.ids[self._indexed : snap.size].copy()
        else:
            new_rows = new_rows[new_alive]
            new_ids = snap.ids[new_rows]
        if not _strictly_increasing(new_ids):  # ids read from a table usually come in key order
            order = np.argsort(new_ids)
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
        if needed > np.iinfo(np.uint32).max:
            raise ValueError("an index holds at most 2**32 - 1 rows")  # table members are uint32
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
        for w in range(self.words):
            columns[w, :count] = snap.columns[w][rows]
        id_array[:count] = snap.ids[rows]
        alive[:count] = snap.alive[rows]
        return columns, id_array, alive

    def _compact(self, snap: _Snapshot) -> _Snapshot:
        """Drop tombstones. Row numbers change, so the tables go (and _publish rebuilds them)."""
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
        return _Snapshot(columns, id_array, alive, live, 0, None)


# ---------------------------------------------------------------------------------------------
# Search internals


class _Found:
    """Hits collected by one search, pruned to the best `limit` whenever they pile up."""

    def __init__(self, snap: _Snapshot, limit: int) -> None:
        self.snap = snap
        self.limit = limit
        self.rows: list[np.ndarray] = []
        self.dist: list[np.ndarray] = []
        self.pending = 0
        # Past this many hits keep only the best `limit`, so a generous max_distance over a huge
        # index neither holds every row nor sorts them all at the end.
        self.bound = max(4 * limit, 4096)

    def add(self, rows: np.ndarray, dist: np.ndarray) -> int | None:
        """Record hits; returns a tighter max_distance once `limit` hits at most that far are known."""
        if not rows.size:
            return None
        self.rows.append(rows)
        self.dist.append(dist)
        self.pending += rows.size
        if self.pending <= self.bound:
            return None
        rows, dist = self.best()
        self.rows, self.dist, self.pending = [rows], [dist], rows.size
        return int(dist[-1]) if rows.size == self.limit else None

    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """The `limit` nearest rows, ordered by (distance, id)."""
        if not self.rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        rows = np.concatenate(self.rows)
        dist = np.concatenate(self.dist)
        order = np.lexsort((self.snap.ids[rows], dist))[: self.limit]
        return rows[order], dist[order]


def _distances(snap: _Snapshot, q: np.ndarray, rows: np.ndarray, max_d: int) -> tuple[np.ndarray, np.ndarray]:
    """Live rows among `rows` within max_d of q, with their distances (gathering only what is needed)."""
    columns = snap.columns
    words = len(q)
    if snap.dead:
        rows = rows[snap.alive[rows]]
    pre_words = min(_PREFILTER_WORDS, words)
    scratch = np.empty(rows.size, dtype=np.uint8)
    dist = np.zeros(rows.size, dtype=np.int64)
    for w in range(words):
        if w == pre_words:  # most rows are already too far on the first words: drop them before gathering more
            close = dist <= max_d
            rows, dist, scratch = rows[close], dist[close], scratch[: int(close.sum())]
        dist += _popcount(columns[w][rows] ^ q[w], scratch)
    close = dist <= max_d
    return rows[close], dist[close]


def _scan(snap: _Snapshot, q: np.ndarray, start: int, max_d: int, found: _Found) -> None:
    """Linear scan of rows [start, snap.size) into `found`."""
    columns, size = snap.columns, snap.size
    words = len(q)
    pre_words = min(_PREFILTER_WORDS, words)
    pre_max = min(max_d, 64 * pre_words)  # fits the uint8 accumulator (<= 128)
    chunk = CHUNK_ROWS
    xored = np.empty(chunk, dtype=np.uint64)
    acc = np.empty(chunk, dtype=np.uint8)
    part = np.empty(chunk, dtype=np.uint8)
    within = np.empty(chunk, dtype=bool)
    for lo in range(start, size, chunk):
        hi = min(size, lo + chunk)
        n = hi - lo
        x, a = xored[:n], acc[:n]
        np.bitwise_xor(columns[0, lo:hi], q[0], out=x)
        _popcount(x, a)
        for w in range(1, pre_words):
            np.bitwise_xor(columns[w, lo:hi], q[w], out=x)
            np.add(a, _popcount(x, part[:n]), out=a)
        hits = np.flatnonzero(np.less_equal(a, pre_max, out=within[:n]))
        if not hits.size:
            continue
        rows = hits + lo
        if pre_words == words:  # the prefix is the whole fingerprint: its distance is final
            dist = a[hits].astype(np.int64)
            if snap.dead:
                live = snap.alive[rows]
                rows, dist = rows[live], dist[live]
        else:
            rows, dist = _distances(snap, q, rows, max_d)
        tighter = found.add(rows, dist)
        if tighter is not None:
            max_d = tighter
            pre_max = min(max_d, 64 * pre_words)


def _substring_column(column: np.ndarray, position: int) -> np.ndarray:
    """16-bit substring `position` (0 = most significant) of each uint64 in a contiguous column, as a view."""
    quarters = column.view(np.uint16).reshape(-1, _SUBS_PER_WORD)
    return quarters[:, _SUBS_PER_WORD - 1 - position if sys.byteorder == "little" else position]


def _query_substrings(q: np.ndarray) -> np.ndarray:
    shifts = [64 - _SUB_BITS * (k + 1) for k in range(_SUBS_PER_WORD)]
    return np.array([(int(word) >> shift) & (_SUB_VALUES - 1) for word in q.tolist() for shift in shifts], dtype=np.int64)


def _build_tables(columns: np.ndarray, rows: int) -> _Tables:
    """Multi-index tables over rows [0, rows): the rows sorted by each substring in turn.

    Each table sorts (substring << 32 | row) in one reused uint64 buffer and keeps the low 32 bits.
    np.argsort would allocate a fresh 8-byte-per-row result per table; on this VM the page faults
    of those allocations cost as much as the sorting (3.2-3.6 s instead of 3.6-5.0 s for 10M PDQ).
    Rows come out ascending within each bucket, which also makes probing read members in order.
    """
    substrings = columns.shape[0] * _SUBS_PER_WORD
    members = np.empty((substrings, rows), dtype=np.uint32)
    offsets = np.zeros((substrings, _SUB_VALUES + 1), dtype=np.int64)
    row_numbers = np.arange(rows, dtype=np.uint32)
    scratch = np.empty(rows, dtype=np.uint64)
    low_half = 0 if sys.byteorder == "little" else 1  # the low 32 bits of each uint64 in memory
    for j in range(substrings):
        keys = _substring_column(columns[j // _SUBS_PER_WORD, :rows], j % _SUBS_PER_WORD)
        np.left_shift(keys, np.uint64(32), out=scratch, dtype=np.uint64)
        np.bitwise_or(scratch, row_numbers, out=scratch)
        scratch.sort()
        members[j] = scratch.view(np.uint32)[low_half::2]
        np.cumsum(np.bincount(keys, minlength=_SUB_VALUES), out=offsets[j, 1:])
    return _Tables(rows, offsets, members)


def _probe(tables: _Tables, q: np.ndarray, max_d: int) -> np.ndarray | None:
    """Rows of the tables that may be within max_d of q (a superset, with repeats), or None when
    there are so many that a linear scan is cheaper."""
    substrings = tables.offsets.shape[0]
    budget = tables.rows // _CANDIDATE_FRACTION
    # Pigeonhole: if every substring 0..t were more than s bits off and every other one more than
    # s - 1, the whole would be at least (t + 1)(s + 1) + (m - t - 1)s = ms + t + 1 = max_d + 1 off.
    s, t = divmod(max_d, substrings)
    widest = int(_MASKS_WITHIN[min(s, _SUB_BITS)])
    if substrings * widest * tables.rows > 2 * budget * _SUB_VALUES:  # expected candidates, before any work
        return None
    radius = np.where(np.arange(substrings) <= t, s, s - 1)
    masks_per_table = np.where(radius >= 0, _MASKS_WITHIN[np.clip(radius, 0, _SUB_BITS)], 0)
    keys = _query_substrings(q)[:, None] ^ _MASKS[None, :widest]
    table = np.arange(substrings)[:, None]
    starts = tables.offsets[table, keys]
    lengths = tables.offsets[table, keys + 1] - starts
    lengths[np.arange(widest)[None, :] >= masks_per_table[:, None]] = 0
    total = int(lengths.sum())
    if total > budget:
        return None
    # Concatenate the buckets: members is one flat array, bucket (j, v) a slice of it.
    starts = (starts + table * tables.rows).ravel()
    lengths = lengths.ravel()
    nonempty = lengths > 0
    starts, lengths = starts[nonempty], lengths[nonempty]
    firsts = np.cumsum(lengths) - lengths  # where each bucket begins in the output
    positions = np.repeat(starts - firsts, lengths) + np.arange(total)
    return tables.members.reshape(-1)[positions]


def _last_of_each_id(ids: np.ndarray, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop all but the last occurrence of each id, keeping input order (the last one wins, as
    if the batch had been added one by one)."""
    if _strictly_increasing(ids):
        return ids, packed
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    last = np.ones(len(ids), dtype=bool)
    np.not_equal(ordered[:-1], ordered[1:], out=last[:-1])
    if last.all():
        return ids, packed
    keep = np.sort(order[last])
    return ids[keep], packed[keep]


def _strictly_increasing(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] > values[:-1]))
