"""Recall and precision of matching on synthetic photographs under the transformations that
reposted copies go through. Prints the figures (run with -s to see them)."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from hashing.image import PDQ_MIN_QUALITY, PDQ_THRESHOLD, PHASH_THRESHOLD, fingerprint_crop_variant, fingerprint_image
from hashing.index import HammingIndex
from tests.hashing.synthetic import scenery

ORIGINALS = 40
UNRELATED = 10_000


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def _webp(img: Image.Image) -> Image.Image:
    out = io.BytesIO()
    img.save(out, "WEBP", quality=60)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def _crop(img: Image.Image, share: float) -> Image.Image:
    # Split between the sides, as when a repost trims a border.
    dx, dy = int(img.width * share / 2), int(img.height * share / 2)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def _overlay(img: Image.Image) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    draw.text((img.width // 10, img.height // 2), "@channel_name  t.me/xxxxx", fill=(255, 255, 255))
    return out


TRANSFORMS = {
    "resize 50%": lambda im: im.resize((im.width // 2, im.height // 2)),
    "recompress q50": lambda im: _jpeg(im, 50),
    "crop 5%": lambda im: _crop(im, 0.05),
    "crop 10%": lambda im: _crop(im, 0.10),
    "mirror": ImageOps.mirror,
    "colour shift": lambda im: ImageEnhance.Brightness(ImageEnhance.Color(im).enhance(1.4)).enhance(1.1),
    "text overlay": _overlay,
    "re-encode webp": _webp,
}


def _index(images: list[Image.Image]) -> tuple[HammingIndex, HammingIndex]:
    pdq, phash = HammingIndex(256), HammingIndex(64)
    # As the evidence locker stores them: the image, its mirror and its central 90%.
    for number, img in enumerate(images):
        for slot, fp in enumerate(fingerprint_image(img) + fingerprint_crop_variant(img)):
            base = fp.algorithm.removesuffix("_c90")
            if base == "pdq" and (fp.quality or 0) >= PDQ_MIN_QUALITY:
                pdq.add([number * 8 + slot], [fp.value])
            elif base == "phash":
                phash.add([number * 8 + slot], [fp.value])
    return pdq, phash


def _matches(img: Image.Image, pdq: HammingIndex, phash: HammingIndex) -> set[int]:
    found: set[int] = set()
    for fp in fingerprint_image(img):
        if fp.mirrored:
            continue  # the index holds the mirrored fingerprints of the originals
        if fp.algorithm == "pdq" and (fp.quality or 0) >= PDQ_MIN_QUALITY:
            found |= {i // 8 for i, _d in pdq.search(fp.value, PDQ_THRESHOLD)}
        elif fp.algorithm == "phash":
            found |= {i // 8 for i, _d in phash.search(fp.value, PHASH_THRESHOLD)}
    return found


def test_recall_at_least_95_percent_and_no_false_match_among_10000() -> None:
    originals = [scenery(seed, 480, 360) for seed in range(ORIGINALS)]
    pdq, phash = _index(originals)
    per_transform: dict[str, int] = {}
    hits = total = 0
    for number, img in enumerate(originals):
        for name, transform in TRANSFORMS.items():
            total += 1
            if number in _matches(transform(img), pdq, phash):
                hits += 1
                per_transform[name] = per_transform.get(name, 0) + 1
    recall = hits / total
    false = 0
    for seed in range(100_000, 100_000 + UNRELATED):
        if _matches(scenery(seed, 96, 72, noise=4), pdq, phash):
            false += 1
    print(f"\nrecall {hits}/{total} = {recall:.1%}; per transformation (of {ORIGINALS}):")
    for name in TRANSFORMS:
        print(f"  {name:<16} {per_transform.get(name, 0)}")
    print(f"false matches among {UNRELATED:,} unrelated images: {false}")
    assert recall >= 0.95
    assert false == 0
