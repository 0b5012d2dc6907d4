"""Exactness and formats: pHash is imagehash's, PDQ hex is ThreatExchange's, every Pillow mode is handled."""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from hashing.image import (
    PDQ,
    PDQ_MIN_QUALITY,
    PHASH,
    Fingerprint,
    fingerprint_file,
    fingerprint_image,
    hamming_bytes,
    hamming_hex,
    is_match,
    phash_hex,
    to_rgb,
)
from tests.hashing.synthetic import scenery


def pick(fps: list[Fingerprint], algorithm: str, mirrored: bool = False) -> Fingerprint:
    (found,) = [f for f in fps if f.algorithm == algorithm and f.mirrored == mirrored]
    return found


def test_four_fingerprints_with_the_documented_shape() -> None:
    fps = fingerprint_image(scenery(1, 640, 480))
    assert [(f.algorithm, f.mirrored) for f in fps] == [(PHASH, False), (PDQ, False), (PHASH, True), (PDQ, True)]
    for f in fps:
        assert f.frame_ms is None
        assert f.value == f.value.lower()
        int(f.value, 16)
        if f.algorithm == PHASH:
            assert len(f.value) == 16
            assert f.quality is None
        else:
            assert len(f.value) == 64
            assert f.quality is not None
            assert 0 <= f.quality <= 100


@pytest.mark.parametrize(
    "image",
    [
        scenery(2, 1200, 900),
        scenery(3, 333, 517),  # odd sizes, portrait
        scenery(4, 40, 30),  # smaller than the 32x32 resize in one direction
        scenery(5, 800, 600).convert("L"),
    ],
    ids=["landscape", "odd-portrait", "tiny", "grayscale"],
)
def test_phash_is_exactly_imagehash(image: Image.Image) -> None:
    fps = fingerprint_image(image)
    assert pick(fps, PHASH).value == str(imagehash.phash(image))
    assert pick(fps, PHASH, mirrored=True).value == str(imagehash.phash(ImageOps.mirror(image)))
    assert phash_hex(image) == str(imagehash.phash(image))


def test_mirrored_fingerprints_are_those_of_the_mirrored_image() -> None:
    # Holds bit for bit, PDQ included: resizes are applied identically to an image and its mirror.
    image = scenery(6, 1500, 1000)
    plain, mirrored = fingerprint_image(image), fingerprint_image(ImageOps.mirror(image))
    for algorithm in (PHASH, PDQ):
        assert pick(plain, algorithm, mirrored=True).value == pick(mirrored, algorithm).value
        assert pick(mirrored, algorithm, mirrored=True).value == pick(plain, algorithm).value


def test_pdq_hex_is_the_threatexchange_format() -> None:
    """Same text as ThreatExchange's pdq_hasher (bit string of pdqhash's vector, as one hex number),
    and, independently, as Meta's C++ Hash256::format() built from the raw 16x16 DCT output."""
    rgb = np.asarray(scenery(7, 384, 288))  # within PDQ_SIDE: hashed as it is
    ours = pick(fingerprint_image(Image.fromarray(rgb)), PDQ).value

    vector, _ = pdqhash.compute(rgb)
    bit_string = "".join(str(int(b)) for b in vector)
    assert ours == "%0*x" % ((len(bit_string) + 3) // 4, int(bit_string, 2))  # noqa: UP031 - ThreatExchange's exact expression

    # C++: bit k = (dct[k // 16][k % 16] > median) lives in word w[k >> 4] at bit (k & 15), and
    # format() prints w[15] down to w[0] as 4 hex digits each. compute_float returns dct reversed.
    dct = pdqhash.compute_float(rgb)[0][::-1]
    median = np.sort(dct)[127]  # Torben's median of 256 values is the lower middle one
    words = [0] * 16
    for k in range(256):
        if dct[k] > median:
            words[k >> 4] |= 1 << (k & 15)
    assert ours == "".join(f"{w:04x}" for w in reversed(words))


def test_pdq_quality_of_flat_and_of_rich_images() -> None:
    # pdqhash ships no reference images or vectors (only the binding), so check known properties.
    flat = pick(fingerprint_image(Image.new("RGB", (300, 200), (120, 130, 140))), PDQ)
    assert flat.quality is not None
    assert flat.quality < PDQ_MIN_QUALITY
    assert not is_match(flat, flat)  # low quality PDQ is never matched, not even with itself
    rich = pick(fingerprint_image(scenery(8, 800, 600)), PDQ)
    assert rich.quality is not None
    assert rich.quality >= 90
    assert is_match(rich, rich)


def test_hamming_helpers() -> None:
    assert hamming_hex("ff00", "0f00") == 4
    assert hamming_bytes(bytes.fromhex("ff00"), bytes.fromhex("0f01")) == 5
    with pytest.raises(ValueError, match="different lengths"):
        hamming_hex("ff", "fff")
    with pytest.raises(ValueError, match="different lengths"):
        hamming_bytes(b"\x00", b"\x00\x00")


def test_is_match_never_crosses_algorithms() -> None:
    a = Fingerprint(PHASH, "0" * 16, None, False)
    assert is_match(a, Fingerprint(PHASH, "0" * 15 + "f", None, False))
    assert not is_match(a, Fingerprint(PHASH, "ffff" + "0" * 12, None, False))
    assert not is_match(Fingerprint(PDQ, "0" * 64, 100, False), a)


# --- Modes -------------------------------------------------------------------------------------


def test_alpha_is_composited_on_white() -> None:
    picture = scenery(9, 400, 300)
    rgba = picture.convert("RGBA")
    rgba.putalpha(255)
    assert fingerprint_image(rgba) == fingerprint_image(picture)
    # Fully transparent black is white, like a page behind it.
    invisible = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    white = Image.new("RGB", (400, 300), (255, 255, 255))
    assert to_rgb(invisible).tobytes() == white.tobytes()
    assert to_rgb(invisible.convert("LA")).tobytes() == white.tobytes()


def test_palette_with_transparency() -> None:
    image = Image.new("P", (50, 40), 0)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    image.paste(1, (10, 10, 30, 30))
    image.info["transparency"] = 0
    rgb = to_rgb(image)
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((20, 20)) == (200, 10, 10)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    gray = scenery(10, 300, 200).convert("L")
    wide = Image.fromarray(np.asarray(gray).astype(np.uint16) * 257)
    assert wide.mode == "I;16"
    assert fingerprint_image(wide) == fingerprint_image(gray)
    as_int = Image.fromarray(np.asarray(gray).astype(np.int32) * 257)
    assert as_int.mode == "I"
    assert fingerprint_image(as_int) == fingerprint_image(gray)
    as_float = Image.fromarray(np.asarray(gray).astype(np.float32) / 255)
    assert fingerprint_image(as_float) == fingerprint_image(gray)


@pytest.mark.parametrize("mode", ["CMYK", "1", "YCbCr", "LA", "P", "RGBX", "HSV"])
def test_other_modes_convert(mode: str) -> None:
    fps = fingerprint_image(scenery(12, 300, 200).convert(mode))
    assert len(fps) == 4


def test_mode_conversion_stays_close() -> None:
    picture = scenery(13, 600, 400)
    reference = fingerprint_image(picture)
    for converted in (picture.convert("CMYK"), picture.convert("YCbCr"), picture.quantize(256)):
        distances = [hamming_hex(a.value, b.value) for a, b in zip(reference, fingerprint_image(converted), strict=True)]
        assert max(distances) <= 16, distances


# --- Orientation -------------------------------------------------------------------------------


def _jpeg(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, **params)
    return out.getvalue()


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    upright = scenery(14, 900, 600)
    # Orientation 6 means "rotate 90 degrees clockwise to display": store the picture turned the other way.
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(_jpeg(upright.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()))
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(_jpeg(upright))

    expected = fingerprint_image(Image.open(plain))
    for got in (fingerprint_image(Image.open(rotated)), fingerprint_file(rotated, max_pixels=10**7)):
        for a, b in zip(expected, got, strict=True):
            limit = 8 if a.algorithm == PDQ else 2
            assert hamming_hex(a.value, b.value) <= limit, (a, b)
    # Without applying the tag the fingerprints would be of a different picture.
    sideways = fingerprint_image(Image.open(plain).transpose(Image.Transpose.ROTATE_90))
    assert hamming_hex(pick(expected, PDQ).value, pick(sideways, PDQ).value) > 60
