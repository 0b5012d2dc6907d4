"""HammingIndex against a brute-force Python reference, and its behaviour under mutation and threads."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

import hashing.index as index_module
from hashing.index import HammingIndex, pack_hex, unpack_pg_copy_binary


def random_hex(rnd: random.Random, bits: int) -> str:
    return f"{rnd.getrandbits(bits):0{bits // 4}x}"


def flip(rnd: random.Random, hex_value: str, count: int) -> str:
    """hex_value with `count` distinct random bits flipped: exactly `count` bits away."""
    bits = len(hex_value) * 4
    mask = sum(1 << b for b in rnd.sample(range(bits), count))
    return f"{int(hex_value, 16) ^ mask:0{bits // 4}x}"


def brute_force(stored: dict[int, str], query: str, max_distance: int, limit: int) -> list[tuple[int, int]]:
    q = int(query, 16)
    hits = [(i, (int(h, 16) ^ q).bit_count()) for i, h in stored.items()]
    return sorted(((i, d) for i, d in hits if d <= max_distance), key=lambda p: (p[1], p[0]))[:limit]


def clustered(rnd: random.Random, bits: int, count: int) -> dict[int, str]:
    """Random fingerprints, a third of them near-duplicates of earlier ones, so searches have hits
    at many distances; ids are shuffled and sparse so nothing depends on id order."""
    ids = rnd.sample(range(-(10**12), 10**12), count)
    values: list[str] = []
    for _ in range(count):
        if values and rnd.random() < 0.33:
            values.append(flip(rnd, rnd.choice(values), rnd.randint(0, bits // 4)))
        else:
            values.append(random_hex(rnd, bits))
    return dict(zip(ids, values, strict=True))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many chunks (and partial last chunks) without needing a large index.
    monkeypatch.setattr(index_module, "CHUNK_ROWS", 97)


@pytest.fixture
def small_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    # Multi-index tables from a few hundred rows on, instead of 65,536.
    monkeypatch.setattr(index_module, "_TABLE_MIN_ROWS", 200)


# ---------------------------------------------------------------------------------------------
# pack_hex


def test_pack_hex_word_order_and_bit_order() -> None:
    top = pack_hex(["8" + "0" * 63], 256)
    assert top.shape == (1, 4)
    assert top.dtype == np.uint64
    assert top[0].tolist() == [1 << 63, 0, 0, 0]  # the first digit is the top bits of word 0
    last = pack_hex(["0" * 63 + "1"], 256)
    assert last[0].tolist() == [0, 0, 0, 1]
    assert pack_hex(["0123456789abcdef"], 64)[0].tolist() == [0x0123456789ABCDEF]
    a, b = pack_hex(["f" + "0" * 15, "0" * 16], 64)
    assert int(a[0] ^ b[0]) >> 60 == 0xF  # differing first characters differ in the top four bits


@pytest.mark.parametrize("bits", [64, 256])
def test_pack_hex_round_trip(bits: int) -> None:
    rnd = random.Random(bits)
    hexes = [random_hex(rnd, bits) for _ in range(50)]
    packed = pack_hex(hexes, bits)
    assert packed.shape == (50, bits // 64)
    assert ["".join(f"{int(w):016x}" for w in row) for row in packed] == hexes
    assert pack_hex([h.upper() for h in hexes], bits).tolist() == packed.tolist()
    assert pack_hex([], bits).shape == (0, bits // 64)


@pytest.mark.parametrize(
    "bad",
    [
        ["abc"],  # too short
        ["0" * 17],  # too long
        ["g" * 16],  # not hex
        ["00 11 22 33 44 55 66 7"],  # whitespace, though bytes.fromhex would skip it
        ["0" * 15, "0" * 17],  # right total length, wrong individual lengths
    ],
)
def test_pack_hex_rejects_malformed(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        pack_hex(bad, 64)


def pg_copy_binary(rows: list[tuple[int, bytes | None]], extension: bytes = b"") -> bytes:
    """What `COPY (SELECT id, decode(value, 'hex') ...) TO STDOUT WITH (FORMAT binary)` sends."""
    out = [b"PGCOPY\n\xff\r\n\x00", (0).to_bytes(4, "big"), len(extension).to_bytes(4, "big"), extension]
    for key, value in rows:
        out += [(2).to_bytes(2, "big"), (8).to_bytes(4, "big"), key.to_bytes(8, "big", signed=True)]
        out += [(-1).to_bytes(4, "big", signed=True)] if value is None else [len(value).to_bytes(4, "big"), value]
    return b"".join(out + [(-1).to_bytes(2, "big", signed=True)])


@pytest.mark.parametrize("bits", [64, 256])
def test_unpack_pg_copy_binary(bits: int) -> None:
    rnd = random.Random(bits + 2)
    hexes = [random_hex(rnd, bits) for _ in range(20)]
    ids_in = [rnd.randrange(-(2**63), 2**63) for _ in hexes]
    data = pg_copy_binary([(i, bytes.fromhex(h)) for i, h in zip(ids_in, hexes, strict=True)], extension=b"xyz")
    ids, packed = unpack_pg_copy_binary(data, bits)
    assert ids.dtype == np.int64
    assert ids.tolist() == ids_in
    assert packed.tolist() == pack_hex(hexes, bits).tolist()
    index = HammingIndex(bits)
    index.add_packed(ids, packed)  # the big-endian view goes in as it is
    assert index.search(hexes[3], 0) == [(ids_in[3], 0)]
    empty_ids, empty_packed = unpack_pg_copy_binary(pg_copy_binary([]), bits)
    assert empty_ids.shape == (0,)
    assert empty_packed.shape == (0, bits // 64)


@pytest.mark.parametrize(
    "data",
    [
        pg_copy_binary([(1, bytes(32)), (2, None), (3, bytes(32))]),  # a NULL
        pg_copy_binary([(1, bytes(32)), (2, bytes(8))]),  # a pHash among PDQs
        pg_copy_binary([(1, bytes(32))])[:-2],  # no trailer
        b"not a copy stream at all",
    ],
)
def test_unpack_pg_copy_binary_rejects(data: bytes) -> None:
    with pytest.raises(ValueError):
        unpack_pg_copy_binary(data, 256)


def test_bits_must_be_a_multiple_of_64() -> None:
    for bits in (0, 32, 100, -64):
        with pytest.raises(ValueError):
            HammingIndex(bits)


def test_lookup_table_popcount_matches_numpy() -> None:
    words = np.random.default_rng(3).integers(0, 2**64, size=1000, dtype=np.uint64)
    words[:3] = [0, 2**64 - 1, 1 << 63]
    expected = [bin(int(w)).count("1") for w in words]
    assert index_module._popcount_lut(words, np.empty(1000, dtype=np.uint8)).tolist() == expected
    assert index_module._popcount(words, np.empty(1000, dtype=np.uint8)).tolist() == expected


# ---------------------------------------------------------------------------------------------
# Search


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("tables", [False, True], ids=["scan", "tables"])
@pytest.mark.parametrize("bits", [64, 256])
def test_exact_against_brute_force(monkeypatch: pytest.MonkeyPatch, bits: int, tables: bool) -> None:
    if tables:
        monkeypatch.setattr(index_module, "_TABLE_MIN_ROWS", 200)
    rnd = random.Random(bits + 1)
    stored = clustered(rnd, bits, 1500)
    index = HammingIndex(bits)
    index.add(list(stored)[:1200], list(stored.values())[:1200])
    index.add(list(stored)[1200:], list(stored.values())[1200:])  # after the tables: scanned
    assert len(index) == len(stored)
    assert (index._snap.tables is not None) == tables
    values = list(stored.values())
    for i in range(60):
        query = flip(rnd, rnd.choice(values), rnd.randint(0, bits // 8)) if i % 2 else random_hex(rnd, bits)
        max_distance = rnd.choice([0, 1, bits // 16, bits // 8, bits // 4, bits // 2, bits])
        limit = rnd.choice([1, 3, 10, 100, 5000])
        assert index.search(query, max_distance, limit) == brute_force(stored, query, max_distance, limit), (
            i,
            max_distance,
            limit,
        )


@pytest.mark.parametrize("bits", [64, 256])
def test_max_distance_is_inclusive(bits: int) -> None:
    rnd = random.Random(7)
    base = random_hex(rnd, bits)
    index = HammingIndex(bits)
    index.add([1, 2, 3], [flip(rnd, base, 9), flip(rnd, base, 10), flip(rnd, base, 11)])
    assert index.search(base, 10) == [(1, 9), (2, 10)]
    assert index.search(base, 9) == [(1, 9)]
    assert index.search(base, 8) == []
    assert index.search(base, -1) == []


def test_nearest_first_ties_by_id_and_limit() -> None:
    rnd = random.Random(8)
    base = random_hex(rnd, 256)
    index = HammingIndex(256)
    distances = {50: 5, 10: 3, 40: 0, 30: 3, 20: 12, 60: 31, 70: 32}
    index.add(list(distances), [flip(rnd, base, d) for d in distances.values()])
    assert index.search(base, 31) == [(40, 0), (10, 3), (30, 3), (50, 5), (20, 12), (60, 31)]
    assert index.search(base, 31, limit=3) == [(40, 0), (10, 3), (30, 3)]
    assert index.search(base, 31, limit=0) == []
    with pytest.raises(ValueError):
        index.search(base, 31, limit=-1)


def test_limit_over_many_hits_keeps_the_nearest(small_chunks: None) -> None:
    # More hits than the search buffers before it prunes to `limit` and tightens the threshold.
    rnd = random.Random(9)
    base = random_hex(rnd, 256)
    stored = {i: flip(rnd, base, rnd.randint(0, 40)) for i in range(6000)}
    index = HammingIndex(256)
    index.add(list(stored), list(stored.values()))
    for limit in (1, 7, 50):
        assert index.search(base, 256, limit) == brute_force(stored, base, 256, limit)
        assert index.search(base, 20, limit) == brute_force(stored, base, 20, limit)


@pytest.mark.parametrize("bits", [64, 256])
def test_table_probe_finds_every_row_within_the_distance(monkeypatch: pytest.MonkeyPatch, bits: int) -> None:
    """The pigeonhole argument: the buckets probed hold every row within max_distance, for every
    max_distance (including those where some tables are probed at a smaller radius or not at all)."""
    monkeypatch.setattr(index_module, "_CANDIDATE_FRACTION", 1)  # probe even when a scan would be cheaper
    rnd = random.Random(bits + 3)
    stored = clustered(rnd, bits, 2000)
    rows = list(stored.values())
    packed = pack_hex(rows, bits)
    tables = index_module._build_tables(np.ascontiguousarray(packed.T), len(rows))
    base = rnd.choice(rows)
    queries = [base, flip(rnd, base, 3), flip(rnd, base, bits // 16), random_hex(rnd, bits)]
    probed = 0
    for query in queries:
        q = pack_hex([query], bits)[0]
        for max_distance in range(0, bits // 2 + 1, 1 if bits == 64 else 3):
            candidates = index_module._probe(tables, q, max_distance)
            if candidates is None:
                continue
            probed += 1
            within = {r for r, h in enumerate(rows) if (int(h, 16) ^ int(query, 16)).bit_count() <= max_distance}
            assert within <= set(candidates.tolist()), max_distance
    assert probed >= 20


def test_search_packed_matches_search_and_validates() -> None:
    rnd = random.Random(10)
    hexes = [random_hex(rnd, 256) for _ in range(100)]
    index = HammingIndex(256)
    index.add_packed(np.arange(100, dtype=np.int64), pack_hex(hexes, 256))
    query = flip(rnd, hexes[42], 4)
    assert index.search_packed(pack_hex([query], 256)[0], 31) == index.search(query, 31) == [(42, 4)]
    with pytest.raises(ValueError):
        index.search_packed(np.zeros(2, dtype=np.uint64), 31)
    with pytest.raises(ValueError):
        index.search_packed(np.zeros(4, dtype=np.int64), 31)
    with pytest.raises(ValueError):
        index.search("abcd", 31)


def test_empty_index() -> None:
    index = HammingIndex(64)
    assert len(index) == 0
    assert index.search("0" * 16, 64) == []
    index.add([], [])
    index.remove([1, 2])
    assert len(index) == 0


# ---------------------------------------------------------------------------------------------
# Mutation


def test_remove_and_add_after_remove() -> None:
    rnd = random.Random(11)
    base = random_hex(rnd, 64)
    near = flip(rnd, base, 2)
    index = HammingIndex(64)
    index.add([1, 2, 3], [base, near, flip(rnd, base, 5)])
    index.remove([2, 99])  # unknown ids are ignored
    assert len(index) == 2
    assert index.search(base, 10) == [(1, 0), (3, 5)]
    index.remove([2])  # removing again changes nothing
    assert len(index) == 2
    index.add([2], [flip(rnd, base, 7)])  # the id comes back with its new fingerprint only
    assert index.search(base, 10) == [(1, 0), (3, 5), (2, 7)]
    assert index.search(near, 0) == []
    index.remove(iter([1, 2, 3]))
    assert len(index) == 0
    assert index.search(base, 64) == []


def test_adding_an_existing_id_replaces_it() -> None:
    rnd = random.Random(12)
    a, b, c = (random_hex(rnd, 256) for _ in range(3))
    index = HammingIndex(256)
    index.add([5, 6], [a, b])
    index.add([5], [c])
    assert len(index) == 2
    assert index.search(a, 0) == []
    assert index.search(c, 0) == [(5, 0)]
    index.add([7, 7, 8, 7], [a, b, a, c])  # within one call the last one wins
    assert len(index) == 4
    assert index.search(c, 0) == [(5, 0), (7, 0)]
    assert index.search(a, 0) == [(8, 0)]
    assert index.search(b, 0) == [(6, 0)]


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("bits", [64, 256])
def test_random_mutations_against_a_dict(monkeypatch: pytest.MonkeyPatch, bits: int) -> None:
    # A tiny dict threshold makes the id map merge often, enough removals trigger compaction, and
    # tables from 50 rows on are rebuilt as rows are added and after each compaction.
    monkeypatch.setattr(index_module, "_MIN_TAIL", 8)
    monkeypatch.setattr(index_module, "_TABLE_MIN_ROWS", 50)
    rnd = random.Random(13 + bits)
    index = HammingIndex(bits)
    stored: dict[int, str] = {}
    values: list[str] = [random_hex(rnd, bits)]
    for step in range(300):
        action = rnd.random()
        if action < 0.55:
            count = rnd.choice([1, 2, 5, 40])
            ids = [rnd.randrange(400) for _ in range(count)]
            hexes = [flip(rnd, rnd.choice(values), rnd.randint(0, bits // 8)) for _ in ids]
            values.extend(hexes)
            index.add(ids, hexes)
            stored.update(zip(ids, hexes, strict=True))
        else:
            gone = rnd.sample(range(400), rnd.choice([1, 3, 30]))
            index.remove(gone)
            for key in gone:
                stored.pop(key, None)
        assert len(index) == len(stored)
        if step % 10 == 0:
            query = rnd.choice(values)
            assert index.search(query, bits // 8, 1000) == brute_force(stored, query, bits // 8, 1000), step
    query = rnd.choice(values)
    assert index.search(query, bits, 1000) == brute_force(stored, query, bits, 1000)


def test_appends_grow_geometrically() -> None:
    index = HammingIndex(64)
    capacities = set()
    for i in range(5000):
        index.add([i], [f"{i:016x}"])
        capacities.add(index._snap.ids.size)
    assert len(index) == 5000
    assert sorted(capacities) == [1024, 2048, 4096, 8192]  # a handful of copies, not one per add
    assert index.search(f"{4321:016x}", 0) == [(4321, 0)]


def test_nbytes_counts_the_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "_MIN_TAIL", 8)  # a bulk load goes straight into the sorted id map
    index = HammingIndex(256)
    index.add_packed(np.arange(10_000, dtype=np.int64), np.zeros((10_000, 4), dtype=np.uint64))
    # 32 bytes of fingerprint, 8 of id, 1 of liveness, 16 of sorted id map per row; no tables yet.
    assert index._snap.tables is None
    assert 10_000 * 57 <= index.nbytes <= 10_000 * 57 + 10_000
    monkeypatch.setattr(index_module, "_TABLE_MIN_ROWS", 1000)
    index.add_packed(np.arange(10_000, 12_000, dtype=np.int64), np.zeros((2_000, 4), dtype=np.uint64))
    # Capacity doubled to 20,000 rows (41 bytes each), 12,000 in the id map, and the tables:
    # 16 substrings x (a 4-byte row number per row + 65,537 8-byte bucket offsets).
    expected = 20_000 * 41 + 12_000 * 16 + 16 * (12_000 * 4 + 65_537 * 8)
    assert index._snap.tables is not None
    assert expected <= index.nbytes <= expected + 1_000


def test_add_packed_validates() -> None:
    index = HammingIndex(256)
    with pytest.raises(ValueError):
        index.add_packed(np.arange(2, dtype=np.int64), np.zeros((2, 2), dtype=np.uint64))
    with pytest.raises(ValueError):
        index.add_packed(np.arange(2, dtype=np.int64), np.zeros((3, 4), dtype=np.uint64))
    with pytest.raises(ValueError):
        index.add_packed(np.zeros(2), np.zeros((2, 4), dtype=np.uint64))
    with pytest.raises(ValueError):
        index.add([1, 2], ["0" * 64])


# ---------------------------------------------------------------------------------------------
# Threads


@pytest.mark.usefixtures("small_chunks", "small_tables")
def test_concurrent_searches_see_whole_batches() -> None:
    """Readers search while a writer adds and removes batches of exact copies of the query.

    Every batch has BATCH ids, so a consistent snapshot always holds a multiple of BATCH of them,
    and always a set of whole batches; a torn add or remove would show a partial batch."""
    batch = 7
    rnd = random.Random(14)
    query = random_hex(rnd, 256)
    index = HammingIndex(256)
    index.add(range(10_000, 10_300), [random_hex(rnd, 256) for _ in range(300)])  # unrelated rows
    stop = threading.Event()
    errors: list[BaseException] = []
    observed: list[int] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                hits = index.search(query, 0, limit=10_000)
                ids = sorted(i for i, _ in hits)
                assert all(d == 0 for _, d in hits)
                assert len(ids) % batch == 0, ids
                starts = {i - i % batch for i in ids}
                assert ids == sorted(j for s in starts for j in range(s, s + batch)), ids
                observed.append(len(ids))
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
            stop.set()

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for n in range(150):
            if stop.is_set():
                break
            index.add(range(n * batch, (n + 1) * batch), [query] * batch)
            if n % 3 == 2:
                index.remove(range((n - 2) * batch, (n - 1) * batch))
    finally:
        stop.set()
        for thread in readers:
            thread.join()
    assert not errors, errors[0]
    assert observed
    assert len(index) == 300 + 100 * batch
    assert len(index.search(query, 0, limit=10_000)) == 100 * batch
