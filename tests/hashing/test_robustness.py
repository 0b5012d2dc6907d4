"""Edited copies of a photograph stay within the thresholds; different photographs stay outside.

Crops are "n% of the width and height removed", split evenly between opposite sides unless
named "corner" (all of it from the left and top). The measured figures behind the bounds are in
docs/hashing.md; the bounds below are the thresholds themselves, not the measurements.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from hashing.image import PDQ, PDQ_THRESHOLD, PHASH, PHASH_THRESHOLD, Fingerprint, fingerprint_image, hamming_hex, is_match


def pick(fps: list[Fingerprint], algorithm: str, mirrored: bool = False) -> Fingerprint:
    (found,) = [f for f in fps if f.algorithm == algorithm and f.mirrored == mirrored]
    return found


def resized(factor: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.resize((round(im.width * factor), round(im.height * factor)), Image.Resampling.LANCZOS)


def recompressed(quality: int) -> Callable[[Image.Image], Image.Image]:
    def edit(im: Image.Image) -> Image.Image:
        out = io.BytesIO()
        im.save(out, "JPEG", quality=quality)
        return Image.open(io.BytesIO(out.getvalue()))

    return edit


def cropped(percent: float, corner: bool = False) -> Callable[[Image.Image], Image.Image]:
    def edit(im: Image.Image) -> Image.Image:
        dx, dy = round(im.width * percent / 100), round(im.height * percent / 100)
        if corner:
            return im.crop((dx, dy, im.width, im.height))
        return im.crop((dx // 2, dy // 2, im.width - (dx - dx // 2), im.height - (dy - dy // 2)))

    return edit


def brightened(im: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(im).enhance(1.2)


def watermarked(im: Image.Image) -> Image.Image:
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=max(12, im.height // 12))
    ImageDraw.Draw(layer).text((im.width * 0.05, im.height * 0.8), "© reposted-example.net", fill=(255, 255, 255, 110), font=font)
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


# (edit, bound on PDQ or None when PDQ is not expected to survive it, bound on pHash)
EDITS: dict[str, tuple[Callable[[Image.Image], Image.Image], int | None, int]] = {
    "resize 50%": (resized(0.5), PDQ_THRESHOLD, PHASH_THRESHOLD),
    "resize 25%": (resized(0.25), PDQ_THRESHOLD, PHASH_THRESHOLD),
    "jpeg q50": (recompressed(50), PDQ_THRESHOLD, PHASH_THRESHOLD),
    "jpeg q70": (recompressed(70), PDQ_THRESHOLD, PHASH_THRESHOLD),
    "crop 2%": (cropped(2), PDQ_THRESHOLD, PHASH_THRESHOLD),
    "crop 2% corner": (cropped(2, corner=True), None, PHASH_THRESHOLD),
    "crop 5%": (cropped(5), None, PHASH_THRESHOLD),
    "brighten 20%": (brightened, PDQ_THRESHOLD, PHASH_THRESHOLD),
    "watermark": (watermarked, PDQ_THRESHOLD, PHASH_THRESHOLD),
}


@pytest.fixture(scope="module")
def originals(photos: list[Image.Image]) -> list[list[Fingerprint]]:
    return [fingerprint_image(p) for p in photos]


@pytest.mark.parametrize("name", list(EDITS))
def test_edited_copies_match(name: str, photos: list[Image.Image], originals: list[list[Fingerprint]]) -> None:
    edit, pdq_bound, phash_bound = EDITS[name]
    pdq_distances, phash_distances = [], []
    for photo, original in zip(photos, originals, strict=True):
        copy = fingerprint_image(edit(photo))
        pdq_distances.append(hamming_hex(pick(original, PDQ).value, pick(copy, PDQ).value))
        phash_distances.append(hamming_hex(pick(original, PHASH).value, pick(copy, PHASH).value))
        # Whatever PDQ does, the copy is found: some fingerprint pair matches.
        assert any(is_match(a, b) for a in original for b in copy if not b.mirrored), name
    assert max(phash_distances) <= phash_bound, phash_distances
    if pdq_bound is not None:
        assert max(pdq_distances) <= pdq_bound, pdq_distances


def test_mirrored_copy_matches_the_mirrored_fingerprints(photos: list[Image.Image], originals: list[list[Fingerprint]]) -> None:
    for photo, original in zip(photos, originals, strict=True):
        copy = fingerprint_image(ImageOps.mirror(photo))
        for algorithm in (PHASH, PDQ):
            assert pick(original, algorithm, mirrored=True).value == pick(copy, algorithm).value
            # ... and the plain ones do not: mirroring is an evasion the mirrored fingerprints catch.
            plain_distance = hamming_hex(pick(original, algorithm).value, pick(copy, algorithm).value)
            assert plain_distance > (PDQ_THRESHOLD if algorithm == PDQ else PHASH_THRESHOLD)


def test_different_photographs_do_not_match(originals: list[list[Fingerprint]]) -> None:
    closest = {PHASH: 64, PDQ: 256}
    for a, b in itertools.combinations(originals, 2):
        for algorithm in (PHASH, PDQ):
            for mirrored in (False, True):
                distance = hamming_hex(pick(a, algorithm).value, pick(b, algorithm, mirrored).value)
                closest[algorithm] = min(closest[algorithm], distance)
        assert not any(is_match(x, y) for x in a for y in b)
    # With a margin: the closest unrelated pairs are far outside the thresholds.
    assert closest[PHASH] > PHASH_THRESHOLD + 4, closest
    assert closest[PDQ] > 3 * PDQ_THRESHOLD, closest
