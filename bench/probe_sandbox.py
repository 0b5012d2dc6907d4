"""What the media probe's sandbox costs per file: the isolated probe (bubblewrap, seccomp, another
uid) against the same probe as a plain limited child process (the baseline, as before issue 13),
beside the floor: the same work (decode and fingerprint) done in this process with no child at all.

Inputs are camera-like JPEGs made here from fixed seeds (synthetic scenery, 12 and 4 megapixels,
quality 96, about the 2.5-3 bits per pixel of a phone camera), so nothing real is ever used. Rounds are
interleaved (plain, isolated, in-process, repeated) so that both sides see the same machine load;
the figure is the median per file.

    .venv/bin/python bench/probe_sandbox.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_environment


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    bench_environment()
    import django

    django.setup()
    from django.conf import settings

    from evidence import sandbox
    from hashing.image import fingerprint_file
    from tests.hashing.synthetic import scenery, size_for_megapixels

    problem = sandbox.isolation_problem()
    if problem is not None:
        print(f"the sandbox cannot run here ({problem}): nothing to measure")
        sys.exit(1)
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        work = Path(tmp)
        files = []
        for mp in (12, 4):
            path = work / f"camera_{mp}mp.jpg"
            scenery(2000 + mp, *size_for_megapixels(mp)).save(path, quality=96)
            files.append((mp, path))
        print("Media probe per file: isolated (bubblewrap + seccomp + another uid) vs plain child process")
        for mp, path in files:
            bits = path.stat().st_size * 8 / (mp * 1_000_000)
            timings: dict[str, list[float]] = {"plain": [], "isolated": [], "in-process": []}
            for _ in range(args.rounds):
                for name in ("plain", "isolated", "in-process"):
                    out = Path(tempfile.mkdtemp(dir=work))
                    start = time.perf_counter()
                    if name == "in-process":
                        fingerprint_file(path, max_pixels=settings.EVIDENCE_LIMITS["max_pixels"])
                    else:
                        settings.EVIDENCE_PROBE_ISOLATION = "required" if name == "isolated" else "off"
                        result = sandbox.probe(path, "image", out)
                        assert result.get("ok"), result  # a refused input measures nothing
                    timings[name].append(time.perf_counter() - start)
            plain, isolated, floor = (statistics.median(timings[n]) for n in ("plain", "isolated", "in-process"))
            print(
                f"  {mp:>2} MP JPEG ({path.stat().st_size / 1e6:.1f} MB, {bits:.1f} bits/pixel): "
                f"plain {plain * 1000:.0f} ms, isolated {isolated * 1000:.0f} ms "
                f"= {isolated / plain:.2f}x the baseline (+{(isolated - plain) * 1000:.0f} ms); "
                f"floor (decode and fingerprint in-process, no child) {floor * 1000:.0f} ms"
            )


if __name__ == "__main__":
    main()
