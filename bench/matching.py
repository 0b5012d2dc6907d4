"""Fingerprint matching: HammingIndex query latency against a naive imagehash loop, index memory, and
loading 10M fingerprints from PostgreSQL into a fresh process. Random data from fixed seeds.

    .venv/bin/python bench/matching.py                            # 100k, 1M, 10M PDQ, 10M clustered PDQ,
                                                                  # 10M pHash, load (~30 s; +25 s the first time)
    .venv/bin/python bench/matching.py --sizes 100000,1000000     # smaller; clustered, pHash and load at the largest
    .venv/bin/python bench/matching.py --no-load                  # without PostgreSQL

Queries: half are planted near-duplicates (a stored fingerprint with 0..threshold random bits
flipped, so there is a real hit to find), half uniformly random (no hit for PDQ; for pHash at 10M
about 0.1 chance hits per query, see docs/hashing.md). Latency is
one search(hex, threshold) call each, hex parsing included, after a few warm-up queries.

The naive baseline is what a Python developer would write: a loop over imagehash.ImageHash objects
(imagehash.hex_to_hash) computing `query - stored`. It is timed on a sample and scaled linearly
to the full size, since a full loop over 10M takes about 14 s per query.

The load test writes N random PDQ rows (id bigint, value text hex) to the table bench_matching_pdq_<N>
in the database victimsupport_bench (created if missing; reused when it already holds N rows),
then times a fresh `python` subprocess that connects, reads every row with a binary COPY, and
builds the index. Its wall time includes interpreter start-up and imports.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from hashing.image import PDQ_THRESHOLD, PHASH_THRESHOLD  # noqa: E402
from hashing.index import HammingIndex, unpack_pg_copy_binary  # noqa: E402

BENCH_DB = "victimsupport_bench"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATA_SEED = 20240601  # stored fingerprints (in memory)
QUERY_SEED = 7
TABLE_SEED = 20240602  # rows written to PostgreSQL
WARMUP = 5
LIMIT = 100  # search()'s default
NAIVE_QUERIES = 7  # the naive loop is timed on this many queries (best of), over --naive-sample rows

TARGET_P95_MS = 50.0
TARGET_SPEEDUP = 1000.0
TARGET_NBYTES = 2 * 1024**3
TARGET_LOAD_S = 30.0


@dataclass
class Result:
    label: str
    size: int
    build_s: float
    nbytes: int
    rss_growth: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    planted_p50_ms: float
    random_p50_ms: float
    planted_found: int
    planted: int
    random_with_hits: int
    naive_ms: float

    @property
    def speedup(self) -> float:
        return self.naive_ms / self.p50_ms


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def to_hex(row: np.ndarray) -> str:
    return "".join(f"{w:016x}" for w in row.tolist())


def random_packed(rng: np.random.Generator, count: int, words: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(count, words), dtype=np.uint64, endpoint=False)


def clustered_pdq(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random PDQ with the structure that makes multi-index hashing work hardest: 30% of rows are
    near-duplicates (up to 12 bits off) of count // 10,000 originals, and 2% are one fingerprint
    copied over and over (one picture re-uploaded 200,000 times at 10M)."""
    packed = random_packed(rng, count, 4)
    originals = max(1, count // 10_000)
    near = int(count * 0.30)
    copies = int(count * 0.02)
    block = packed[rng.integers(0, originals, size=near)]
    every = np.arange(near)
    for _ in range(12):
        bit = rng.integers(0, 256, size=near)
        block[every, bit // 64] ^= np.left_shift(np.uint64(1), (bit % 64).astype(np.uint64))
    packed[originals : originals + near] = block
    packed[originals + near : originals + near + copies] = packed[0]
    return packed


Query = tuple[str, int | None, int]  # hex, planted row (None for a random query), bits flipped


def make_queries(packed: np.ndarray, threshold: int, count: int, rng: np.random.Generator) -> list[Query]:
    """Alternately planted (a stored row with 0..threshold bits flipped) and uniformly random."""
    size, words = packed.shape
    bits = words * 64
    queries: list[Query] = []
    for i in range(count):
        if i % 2 == 0:
            row = int(rng.integers(size))
            flips = rng.choice(bits, size=int(rng.integers(0, threshold + 1)), replace=False)
            value = int(to_hex(packed[row]), 16)
            for bit in flips.tolist():
                value ^= 1 << bit
            queries.append((f"{value:0{bits // 4}x}", row, len(flips)))
        else:
            queries.append((to_hex(random_packed(rng, 1, words)[0]), None, 0))
    return queries


_naive_cache: dict[tuple[int, int], float] = {}


def naive_ms_per_query(sample_hexes: list[str], queries: list[Query], threshold: int, full_size: int) -> float:
    """The imagehash loop over the sample, per query, scaled to full_size rows.

    The best of NAIVE_QUERIES queries, the least disturbed by other processes, so the speed-up is
    if anything understated; measured once per hash width (its cost per row does not depend on size).
    """
    key = (len(sample_hexes[0]), len(sample_hexes))
    if key in _naive_cache:
        return _naive_cache[key] * full_size
    import imagehash

    stored = [(i, imagehash.hex_to_hash(h)) for i, h in enumerate(sample_hexes)]
    times = []
    for query_hex, _, _ in queries[:NAIVE_QUERIES]:
        started = time.perf_counter()
        query = imagehash.hex_to_hash(query_hex)
        hits = []
        for i, h in stored:
            distance = query - h
            if distance <= threshold:
                hits.append((i, distance))
        hits.sort(key=lambda hit: (hit[1], hit[0]))
        times.append(time.perf_counter() - started)
    _naive_cache[key] = min(times) * 1000 / len(sample_hexes)
    return _naive_cache[key] * full_size


def bench_size(label: str, packed: np.ndarray, threshold: int, args: argparse.Namespace) -> Result:
    size, words = packed.shape
    rng = np.random.default_rng(QUERY_SEED + size + words)
    before = rss_bytes()
    started = time.perf_counter()
    index = HammingIndex(words * 64)
    index.add_packed(np.arange(size, dtype=np.int64), packed)
    build_s = time.perf_counter() - started
    rss_growth = rss_bytes() - before

    queries = make_queries(packed, threshold, args.queries, rng)
    for query_hex, _, _ in queries[:WARMUP]:
        index.search(query_hex, threshold)
    latencies: list[float] = []
    planted_ms: list[float] = []
    random_ms: list[float] = []
    planted_found = random_with_hits = 0
    for query_hex, planted, flipped in queries:
        started = time.perf_counter()
        hits = index.search(query_hex, threshold, LIMIT)
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        if planted is None:
            random_ms.append(elapsed)
            random_with_hits += bool(hits)
        else:
            planted_ms.append(elapsed)
            # Found: listed, or crowded out of the first LIMIT by rows at most as far (clustered data).
            planted_found += any(i == planted for i, _ in hits) or (len(hits) == LIMIT and hits[-1][1] <= flipped)

    sample = min(args.naive_sample, size)
    naive_ms = naive_ms_per_query([to_hex(row) for row in packed[:sample]], queries, threshold, size)
    p50, p95 = np.percentile(latencies, [50, 95]).tolist()
    result = Result(
        label=label,
        size=size,
        build_s=build_s,
        nbytes=index.nbytes,
        rss_growth=rss_growth,
        p50_ms=p50,
        p95_ms=p95,
        max_ms=max(latencies),
        planted_p50_ms=statistics.median(planted_ms),
        random_p50_ms=statistics.median(random_ms),
        planted_found=planted_found,
        planted=len(planted_ms),
        random_with_hits=random_with_hits,
        naive_ms=naive_ms,
    )
    print(
        f"  {label:>13} {size:>11,}: p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  naive {naive_ms / 1000:8.2f} s  "
        f"x{result.speedup:,.0f}  planted found {planted_found}/{len(planted_ms)}",
        flush=True,
    )
    return result


# ---------------------------------------------------------------------------------------------
# PostgreSQL load


def table_name(rows: int) -> str:
    return f"bench_matching_pdq_{rows}"  # one table per size: a small run keeps the 10M table for the next full run


def connect(dbname: str) -> Any:
    import psycopg2

    return psycopg2.connect(dbname=dbname, **PG)


def ensure_table(rows: int) -> float:
    """The bench table with exactly `rows` rows; returns seconds spent writing it (0 when reused)."""
    admin = connect("postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB])
        if not cur.fetchone():
            cur.execute(f"CREATE DATABASE {BENCH_DB}")
    admin.close()

    table = table_name(rows)
    conn = connect(BENCH_DB)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", [table])
            if cur.fetchone()[0] is not None:
                cur.execute(f"SELECT count(*) FROM {table}")
                if cur.fetchone()[0] == rows:
                    conn.rollback()
                    return 0.0
        started = time.perf_counter()
        rng = np.random.default_rng(TABLE_SEED)
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(f"CREATE TABLE {table} (id bigint NOT NULL, value text NOT NULL)")
            chunk = 1_000_000
            for start in range(0, rows, chunk):
                count = min(chunk, rows - start)
                hexes = rng.bytes(32 * count).hex()
                text = "".join([f"{start + j + 1}\t{hexes[64 * j : 64 * j + 64]}\n" for j in range(count)])
                # FREEZE (the table was created in this transaction) writes the rows already frozen,
                # so the first read does not have to set hint bits on every page (a slow first run).
                cur.copy_expert(f"COPY {table} (id, value) FROM STDIN WITH (FREEZE)", io.StringIO(text))
                print(f"    wrote {start + count:,} rows", flush=True)
            # Like a real fingerprint table, and lets the bench fetch sample rows to check the load.
            cur.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()


def sample_rows(rows: int, count: int) -> list[tuple[int, str]]:
    table = table_name(rows)
    conn = connect(BENCH_DB)
    try:
        with conn.cursor() as cur:
            ids = np.random.default_rng(QUERY_SEED).integers(1, rows + 1, size=count).tolist()
            cur.execute(f"SELECT id, value FROM {table} WHERE id = ANY(%s) ORDER BY id", [ids])
            return [(int(i), str(v)) for i, v in cur.fetchall()]
    finally:
        conn.close()


def load_child(table: str, checks: list[str]) -> None:
    """Runs in the fresh subprocess: PostgreSQL -> HammingIndex, then prints a JSON report."""
    started = time.perf_counter()
    conn = connect(BENCH_DB)
    buffer = io.BytesIO()
    with conn.cursor() as cur:
        # decode() on the server makes every row the same size (bigint + 32-byte bytea), which
        # unpack_pg_copy_binary turns into arrays in one step; BytesIO.write is called once per row
        # from C, so no Python runs per row.
        cur.copy_expert(f"COPY (SELECT id, decode(value, 'hex') FROM {table}) TO STDOUT WITH (FORMAT binary)", buffer)
    conn.close()
    copied = time.perf_counter()
    index = HammingIndex(256)
    view = buffer.getbuffer()
    ids, packed = unpack_pg_copy_binary(view, 256)
    index.add_packed(ids, packed)
    del ids, packed, view
    buffer.close()  # the COPY output (~50 bytes a row) is not needed once the index holds the rows
    built = time.perf_counter()
    found = []
    for check in checks:
        key, value = check.split(":")
        found.append(index.search(value, 0, limit=1) == [(int(key), 0)])
    report = {
        "rows": len(index),
        "copy_s": copied - started,
        "build_s": built - copied,
        "nbytes": index.nbytes,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "checks_ok": all(found) and bool(found),
    }
    print(json.dumps(report))


def bench_load(rows: int) -> dict[str, float]:
    print(f"\nPostgreSQL load of {rows:,} PDQ rows ({BENCH_DB}.{table_name(rows)})", flush=True)
    wrote_s = ensure_table(rows)
    print(f"  table written in {wrote_s:.1f} s" if wrote_s else "  table reused", flush=True)
    checks = [f"{key}:{value}" for key, value in sample_rows(rows, 5)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--load-child", table_name(rows), *checks],
        capture_output=True,
        text=True,
        check=True,
    )
    wall_s = time.perf_counter() - started
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["rows"] != rows or not report["checks_ok"]:
        raise SystemExit(f"load check failed: {report}")
    report["wall_s"] = wall_s
    return report


# ---------------------------------------------------------------------------------------------


def mib(n: float) -> str:
    return f"{n / 1024**2:,.0f} MiB"


def print_results(results: list[Result], load: dict[str, float] | None, args: argparse.Namespace) -> None:
    print(f"\nQuery latency, {args.queries} queries per row (half planted near-duplicates, half random), one thread:\n")
    header = (
        "| index | stored | build | index nbytes | RSS growth | p50 | p95 | max | p50 planted / random "
        "| planted found | random with hits | naive loop (scaled) | speed-up (naive / p50) |"
    )
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for r in results:
        print(
            f"| {r.label} | {r.size:,} | {r.build_s:.3f} s | {mib(r.nbytes)} | {mib(r.rss_growth)} | {r.p50_ms:.2f} ms "
            f"| {r.p95_ms:.2f} ms | {r.max_ms:.2f} ms | {r.planted_p50_ms:.2f} / {r.random_p50_ms:.2f} ms "
            f"| {r.planted_found}/{r.planted} | {r.random_with_hits} | {r.naive_ms / 1000:,.2f} s | {r.speedup:,.0f}x |"
        )
    print(f"\nNaive loop: imagehash.hex_to_hash objects, `query - stored` per row, timed on {args.naive_sample:,} rows")
    print(f"(best of {NAIVE_QUERIES} queries) and scaled linearly to each size.")
    if any(r.label == "PDQ clustered" for r in results):
        print(
            "PDQ clustered: 30% of rows near-duplicates of 1 in 10,000 originals, 2% copies of one fingerprint (clustered_pdq)."
        )
    if load:
        print(
            f"\nLoad {int(load['rows']):,} PDQ rows from PostgreSQL into a fresh process: {load['wall_s']:.1f} s wall "
            f"(COPY {load['copy_s']:.1f} s, unpack + build {load['build_s']:.1f} s, rest start-up and imports), "
            f"peak RSS {mib(load['peak_rss'])}, index {mib(load['nbytes'])}"
        )

    print("\nTargets:")
    largest_pdq = max((r for r in results if r.label == "PDQ"), key=lambda r: r.size, default=None)
    if largest_pdq:
        checks = [
            (
                f"p95 at {largest_pdq.size:,} PDQ < {TARGET_P95_MS:.0f} ms",
                f"{largest_pdq.p95_ms:.1f} ms",
                largest_pdq.p95_ms < TARGET_P95_MS,
            ),
            (
                f"speed-up at {largest_pdq.size:,} PDQ >= {TARGET_SPEEDUP:,.0f}x",
                f"{largest_pdq.speedup:,.0f}x",
                largest_pdq.speedup >= TARGET_SPEEDUP,
            ),
            (f"index memory at {largest_pdq.size:,} PDQ < 2 GiB", mib(largest_pdq.nbytes), largest_pdq.nbytes < TARGET_NBYTES),
        ]
        if load:
            checks.append(
                (
                    f"load {int(load['rows']):,} rows < {TARGET_LOAD_S:.0f} s",
                    f"{load['wall_s']:.1f} s",
                    load["wall_s"] < TARGET_LOAD_S,
                )
            )
        for name, value, ok in checks:
            print(f"  {'met' if ok else 'NOT MET':>7}  {name}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="PDQ index sizes, comma-separated")
    parser.add_argument("--phash-size", type=int, help="pHash index size (default: the largest PDQ size; 0 skips)")
    parser.add_argument("--load-rows", type=int, help="rows for the PostgreSQL load test (default: the largest PDQ size)")
    parser.add_argument("--no-load", action="store_true", help="skip the PostgreSQL load test")
    parser.add_argument("--no-clustered", action="store_true", help="skip the clustered PDQ data set")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--naive-sample", type=int, default=20_000)
    parser.add_argument("--load-child", nargs="*", metavar="TABLE ID:HEX", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_child is not None:
        load_child(args.load_child[0], args.load_child[1:])
        return

    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    largest = sizes[-1]
    phash_size = largest if args.phash_size is None else args.phash_size
    print(f"numpy {np.__version__}, {os.cpu_count()} CPUs; thresholds PDQ {PDQ_THRESHOLD}, pHash {PHASH_THRESHOLD}", flush=True)

    results: list[Result] = []
    print(f"\nPDQ: generating {largest:,} random fingerprints", flush=True)
    pdq = random_packed(np.random.default_rng(DATA_SEED), largest, 4)
    for size in sizes:
        results.append(bench_size("PDQ", pdq[:size], PDQ_THRESHOLD, args))
    del pdq
    if not args.no_clustered:
        print(f"\nPDQ, clustered: generating {largest:,} fingerprints", flush=True)
        clustered = clustered_pdq(np.random.default_rng(DATA_SEED + 2), largest)
        results.append(bench_size("PDQ clustered", clustered, PDQ_THRESHOLD, args))
        del clustered
    if phash_size:
        print(f"\npHash: generating {phash_size:,} random fingerprints", flush=True)
        phash = random_packed(np.random.default_rng(DATA_SEED + 1), phash_size, 1)
        results.append(bench_size("pHash", phash, PHASH_THRESHOLD, args))
        del phash

    load = None if args.no_load else bench_load(args.load_rows or largest)
    print_results(results, load, args)


if __name__ == "__main__":
    main()
