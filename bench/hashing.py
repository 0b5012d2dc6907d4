"""Fingerprinting speed on synthetic photographs and synthetic 720p clips; optionally the robustness
figures behind the thresholds in docs/hashing.md. Everything is generated here from fixed seeds.

    .venv/bin/python bench/hashing.py                 # speed table, about a minute on 2 cores
    .venv/bin/python bench/hashing.py --robustness    # plus Hamming distance tables (~30 s more)

Times are the best of several rounds per image (the least disturbed by other processes).
Single-threaded for images; video decoding uses FFmpeg's frame threads as the library does.
"""

from __future__ import annotations

import argparse
import functools
import io
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import imagehash  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps  # noqa: E402

from hashing.image import (  # noqa: E402
    PDQ,
    PHASH,
    Fingerprint,
    fingerprint_file,
    fingerprint_image,
    hamming_hex,
    pdq_input_size,
)
from hashing.video import fingerprint_video  # noqa: E402
from tests.hashing.synthetic import scenery, size_for_megapixels, write_video  # noqa: E402

MEGAPIXELS = (1, 2, 4, 8, 12)
MAX_PIXELS = 50_000_000


def best_time(action: Callable[[], Any], rounds: int) -> float:
    action()  # warm caches and imports
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def draft_decode(path: Path) -> Image.Image:
    """Decoding alone, exactly as fingerprint_file decodes: draft to cover PDQ's box, luma only."""
    with Image.open(path) as img:
        img.draft("L", pdq_input_size(img.width, img.height))
        img.load()
        return img


def draft_decode_rgb(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img.draft("RGB", pdq_input_size(img.width, img.height))
        img.load()
        return img


def full_decode(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img.load()
        return img


def exact(path: Path) -> list[Fingerprint]:
    with Image.open(path) as img:
        return fingerprint_image(img)


METHODS: dict[str, Callable[[Path], Any]] = {
    "baseline imagehash.phash(open)": lambda p: str(imagehash.phash(Image.open(p))),
    "full decode (RGB)": full_decode,
    "draft decode (RGB)": draft_decode_rgb,
    "draft decode (L) = ours": draft_decode,
    "ours pHash (+mirror)": lambda p: fingerprint_file(p, max_pixels=MAX_PIXELS, algorithms=(PHASH,)),
    "ours pHash+PDQ (+mirror)": lambda p: fingerprint_file(p, max_pixels=MAX_PIXELS),
    "fingerprint_image (exact)": exact,
}


def bench_images(workdir: Path, rounds: int) -> None:
    paths = []
    for mp in MEGAPIXELS:
        path = workdir / f"photo_{mp}mp.jpg"
        scenery(1000 + mp, *size_for_megapixels(mp)).save(path, quality=85)
        paths.append(path)
    sizes = ", ".join(f"{mp} MP {p.stat().st_size / 1e6:.1f} MB" for mp, p in zip(MEGAPIXELS, paths, strict=True))
    print(f"\nImages: synthetic photographs, JPEG q85 ({sizes})\n")
    times = {name: [best_time(functools.partial(method, p), rounds) for p in paths] for name, method in METHODS.items()}
    header = f"{'method':32}" + "".join(f"{str(mp) + ' MP':>9}" for mp in MEGAPIXELS) + f"{'images/s':>10}"
    print(header + "   (ms per image)")
    print("-" * len(header))
    rate = {}
    for name, per_image in times.items():
        rate[name] = len(per_image) / sum(per_image)
        print(f"{name:32}" + "".join(f"{t * 1000:9.1f}" for t in per_image) + f"{rate[name]:10.1f}")
    base = rate["baseline imagehash.phash(open)"]
    both = rate["ours pHash+PDQ (+mirror)"]
    phash_alone = sum(times["ours pHash (+mirror)"])
    decoding = sum(times["draft decode (L) = ours"])
    print()
    print(
        f"pHash+PDQ vs baseline:       {both / base:5.2f}x images/s   (target >= 4x)  {'MET' if both >= 4 * base else 'NOT MET'}"
    )
    print(
        f"pHash alone vs draft decode: {phash_alone / decoding:5.2f}x time        (target <= 1.10x) "
        f"{'MET' if phash_alone <= 1.1 * decoding else 'NOT MET'}"
    )
    per_size = ", ".join(
        f"{mp} MP {b / o:.1f}x"
        for mp, b, o in zip(MEGAPIXELS, times["baseline imagehash.phash(open)"], times["ours pHash+PDQ (+mirror)"], strict=True)
    )
    print(f"pHash+PDQ speed-up per size: {per_size}")


def bench_video(workdir: Path, rounds: int) -> None:
    print("\nVideo: synthetic 1280x720, 30 fps, 20 s, H.264 (libx264 veryfast), pan + cuts every 5 s\n")
    variants = {
        "web re-upload (crf 23)": ({"preset": "veryfast"}, 0),
        "camera-like grain (crf 18)": ({"preset": "veryfast", "crf": "18"}, 6),
    }
    print(f"{'clip':28}{'Mbit/s':>8}{'decode only':>13}{'fingerprint':>13}{'x real time':>13}{'frames hashed':>15}")
    for name, (options, grain) in variants.items():
        path = workdir / f"clip_{grain}.mp4"
        write_video(path, seconds=20, fps=30, width=1280, height=720, scene_seconds=5, grain=grain, options=options)
        bitrate = path.stat().st_size * 8 / 20 / 1e6

        def decode_all(path: Path = path) -> None:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for _ in container.decode(stream):
                    pass

        decode_s = best_time(decode_all, rounds)
        result = fingerprint_video(path, max_duration_s=60, max_frames=10_000)
        run_s = best_time(functools.partial(fingerprint_video, path, max_duration_s=60, max_frames=10_000), rounds)
        speed = 20 / run_s
        frames = len({f.frame_ms for f in result.fingerprints})
        verdict = "MET" if speed >= 10 else "NOT MET"
        print(f"{name:28}{bitrate:8.1f}{decode_s:12.2f}s{run_s:12.2f}s{speed:12.1f}x{frames:15}   (target >= 10x) {verdict}")
    print("(decode only = every frame, frame threads; fingerprint = MD5 + NONREF-skipping decode + hashes)")


# --- Robustness figures --------------------------------------------------------------------------


def _pick(fps: list[Fingerprint], algorithm: str, mirrored: bool = False) -> Fingerprint:
    return next(f for f in fps if f.algorithm == algorithm and f.mirrored == mirrored)


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


def _crop(percent: float, corner: bool = False) -> Callable[[Image.Image], Image.Image]:
    def edit(im: Image.Image) -> Image.Image:
        dx, dy = round(im.width * percent / 100), round(im.height * percent / 100)
        if corner:
            return im.crop((dx, dy, im.width, im.height))
        return im.crop((dx // 2, dy // 2, im.width - (dx - dx // 2), im.height - (dy - dy // 2)))

    return edit


def _watermark(im: Image.Image) -> Image.Image:
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=max(12, im.height // 12))
    ImageDraw.Draw(layer).text((im.width * 0.05, im.height * 0.8), "© reposted-example.net", fill=(255, 255, 255, 110), font=font)
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize 50%": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "resize 25%": lambda im: im.resize((im.width // 4, im.height // 4), Image.Resampling.LANCZOS),
    "jpeg q50": lambda im: _jpeg(im, 50),
    "jpeg q70": lambda im: _jpeg(im, 70),
    "crop 1%": _crop(1),
    "crop 2%": _crop(2),
    "crop 3%": _crop(3),
    "crop 5%": _crop(5),
    "crop 2% corner": _crop(2, corner=True),
    "crop 5% corner": _crop(5, corner=True),
    "brighten 20%": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "watermark": _watermark,
    "mirror (vs mirrored fp)": ImageOps.mirror,
}


def _row(name: str, values: dict[str, list[int]]) -> str:
    cells = []
    for algorithm in (PHASH, PDQ):
        v = values[algorithm]
        cells.append(f"{max(v):6}{float(np.percentile(v, 95)):7.1f}{statistics.mean(v):7.1f}")
    return f"{name:26}" + "  |".join(cells)


def robustness(workdir: Path, count: int = 30) -> None:
    print(f"\nRobustness: {count} synthetic photographs, 0.5-2 MP, landscape and portrait. Hamming distances.\n")
    photos = [scenery(700 + i, *size_for_megapixels(0.5 + (i % 4) * 0.5, 4 / 3 if i % 3 else 3 / 4)) for i in range(count)]
    originals = [fingerprint_image(p) for p in photos]
    print(f"{'edit':26}{'pHash max':>10}{'p95':>7}{'mean':>7}  |{'PDQ max':>8}{'p95':>7}{'mean':>7}")
    for name, edit in EDITS.items():
        values: dict[str, list[int]] = {PHASH: [], PDQ: []}
        for photo, original in zip(photos, originals, strict=True):
            copy = fingerprint_image(edit(photo))
            for algorithm in (PHASH, PDQ):
                ours = _pick(original, algorithm, mirrored=name.startswith("mirror"))
                values[algorithm].append(hamming_hex(ours.value, _pick(copy, algorithm).value))
        print(_row(name, values))
    unrelated: dict[str, list[int]] = {PHASH: [], PDQ: []}
    for a, b in itertools.combinations(originals, 2):
        for algorithm in (PHASH, PDQ):
            unrelated[algorithm].append(
                min(hamming_hex(_pick(a, algorithm).value, _pick(b, algorithm, m).value) for m in (False, True))
            )
    pairs = len(unrelated[PHASH])
    print(
        f"\nunrelated pairs ({pairs}, closest of plain/mirrored): pHash min {min(unrelated[PHASH])}, "
        f"p1 {np.percentile(unrelated[PHASH], 1):.0f}, mean {statistics.mean(unrelated[PHASH]):.1f}; "
        f"PDQ min {min(unrelated[PDQ])}, mean {statistics.mean(unrelated[PDQ]):.1f}"
    )
    fast: dict[str, list[int]] = {PHASH: [], PDQ: []}
    for i in range(20):
        path = workdir / f"fast_{i}.jpg"
        scenery(2000 + i, *size_for_megapixels(0.3 + i * 0.6, 4 / 3 if i % 3 else 3 / 4)).save(path, quality=85)
        for full_fp, fast_fp in zip(exact(path), fingerprint_file(path, max_pixels=MAX_PIXELS), strict=True):
            fast[full_fp.algorithm].append(hamming_hex(full_fp.value, fast_fp.value))
    print(
        f"draft fast path vs full decode (20 JPEGs, 0.3-11.7 MP, plain+mirrored): "
        f"pHash max {max(fast[PHASH])} mean {statistics.mean(fast[PHASH]):.2f}; "
        f"PDQ max {max(fast[PDQ])} mean {statistics.mean(fast[PDQ]):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds per image (best is kept)")
    parser.add_argument("--robustness", action="store_true", help="also print the distance tables behind the thresholds")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-hashing-") as tmp:
        workdir = Path(tmp)
        bench_images(workdir, args.rounds)
        bench_video(workdir, max(2, args.rounds // 3))
        if args.robustness:
            robustness(workdir)
    print(f"\n(finished in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
