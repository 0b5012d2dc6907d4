"""fingerprint_file: the draft-decoding fast path agrees with a full decode; hostile files are refused fast."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageFile

import hashing.image
from hashing.errors import ImageTooLarge, ImageTooSmall, UnreadableImage
from hashing.image import PDQ, PHASH, Fingerprint, fingerprint_file, fingerprint_image, hamming_hex
from tests.hashing.synthetic import scenery, size_for_megapixels

# Measured on 20 JPEGs of 0.3-12 MP (docs/hashing.md): pHash differed by at most 2 bits, PDQ by at most 6.
FAST_PATH_PHASH_BOUND = 2
FAST_PATH_PDQ_BOUND = 8


def distances(a: list[Fingerprint], b: list[Fingerprint]) -> dict[tuple[str, bool], int]:
    assert [(f.algorithm, f.mirrored) for f in a] == [(f.algorithm, f.mirrored) for f in b]
    return {(x.algorithm, x.mirrored): hamming_hex(x.value, y.value) for x, y in zip(a, b, strict=True)}


def assert_close(full: list[Fingerprint], fast: list[Fingerprint]) -> None:
    for (algorithm, _), distance in distances(full, fast).items():
        assert distance <= (FAST_PATH_PDQ_BOUND if algorithm == PDQ else FAST_PATH_PHASH_BOUND), distances(full, fast)


@pytest.mark.parametrize("megapixels", [0.3, 1, 2, 3, 6, 12])
def test_draft_decoding_agrees_with_full_decoding(tmp_path: Path, megapixels: float) -> None:
    path = tmp_path / "photo.jpg"
    scenery(int(megapixels * 10), *size_for_megapixels(megapixels)).save(path, quality=85)
    with Image.open(path) as full:
        assert_close(fingerprint_image(full), fingerprint_file(path, max_pixels=50_000_000))


def test_draft_decodes_at_reduced_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "photo.jpg"
    scenery(1, 4000, 3000).save(path, quality=85)
    seen = []
    real = hashing.image.fingerprint_luma

    def spy(gray: Image.Image, **kwargs: object) -> list[Fingerprint]:
        seen.append((gray.mode, gray.size))
        return real(gray, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hashing.image, "fingerprint_luma", spy)
    fingerprint_file(path, max_pixels=50_000_000)
    # libjpeg scaled by 1/4: the smallest scale that still covers PDQ's 512x384, decoded as luma only.
    assert seen == [("L", (1000, 750))]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "BMP", "GIF"])
def test_other_formats_agree_with_full_decoding(tmp_path: Path, fmt: str) -> None:
    picture = scenery(2, 1800, 1200)
    path = tmp_path / f"photo.{fmt.lower()}"
    picture.save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    with Image.open(path) as full:
        assert_close(fingerprint_image(full), fingerprint_file(path, max_pixels=50_000_000))


def _rgba(picture: Image.Image) -> Image.Image:
    rgba = picture.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(picture.size))
    return rgba


def _sixteen_bit(picture: Image.Image) -> Image.Image:
    return Image.fromarray(np.asarray(picture.convert("L")).astype(np.uint16) * 257)


@pytest.mark.parametrize(
    ("name", "fmt", "make"),
    [
        ("cmyk.jpg", "JPEG", lambda p: p.convert("CMYK")),
        ("gray.jpg", "JPEG", lambda p: p.convert("L")),
        ("alpha.png", "PNG", _rgba),
        ("sixteen.png", "PNG", _sixteen_bit),
        ("photo.heic", "HEIF", lambda p: p),
        ("photo.avif", "AVIF", lambda p: p),
    ],
    ids=["cmyk-jpeg", "gray-jpeg", "rgba-png", "16bit-png", "heic", "avif"],
)
def test_modes_and_formats_through_the_fast_path(
    tmp_path: Path, name: str, fmt: str, make: Callable[[Image.Image], Image.Image]
) -> None:
    pillow_heif.register_heif_opener()  # to write the HEIC; fingerprint_file registers it by itself
    path = tmp_path / name
    make(scenery(7, 1600, 1200)).save(path, fmt)
    with Image.open(path) as full:
        assert_close(fingerprint_image(full), fingerprint_file(path, max_pixels=50_000_000))


def test_animated_gif_uses_the_first_frame(tmp_path: Path) -> None:
    first, second = scenery(8, 600, 400), scenery(9, 600, 400)
    path = tmp_path / "animated.gif"
    first.save(path, save_all=True, append_images=[second], duration=100)
    with Image.open(path) as full:
        assert_close(fingerprint_image(full), fingerprint_file(path, max_pixels=10**7))


def test_file_objects_and_paths_give_the_same(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    scenery(3, 900, 700).save(path, quality=90)
    assert fingerprint_file(io.BytesIO(path.read_bytes()), max_pixels=10**7) == fingerprint_file(str(path), max_pixels=10**7)


def test_algorithms_subset(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    scenery(4, 900, 700).save(path, quality=90)
    both = fingerprint_file(path, max_pixels=10**7)
    only = fingerprint_file(path, max_pixels=10**7, algorithms=(PHASH,))
    assert only == [f for f in both if f.algorithm == PHASH]
    with pytest.raises(ValueError, match="algorithms"):
        fingerprint_file(path, max_pixels=10**7, algorithms=("md5",))


# --- Hostile input -----------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge image, followed by a few bytes of compressed zeros:
    a decompression bomb as it arrives, never decoded by the code under test."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    data = zlib.compress(b"\x00" * 100_000)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(60_000, 60_000), (9_000, 9_000)])
def test_decompression_bomb_is_refused_from_the_header(width: int, height: int, monkeypatch) -> None:
    # "From the header" is shown by the decoder never running, not by a stopwatch (bench/timing_bounds.py times it).
    monkeypatch.setattr(ImageFile.ImageFile, "load", _decoding_forbidden)
    with pytest.raises(ImageTooLarge):
        fingerprint_file(io.BytesIO(png_claiming(width, height)), max_pixels=50_000_000)


def _decoding_forbidden(self, *args, **kwargs):
    raise AssertionError("the image was decoded")


def test_large_jpeg_header_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.jpg"
    scenery(5, 3000, 2000).save(path, quality=80)
    monkeypatch.setattr(ImageFile.ImageFile, "load", _decoding_forbidden)
    with pytest.raises(ImageTooLarge, match="3000x2000"):
        fingerprint_file(path, max_pixels=5_000_000)


def test_truncated_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    scenery(6, 1200, 900).save(path, quality=85)
    data = path.read_bytes()
    with pytest.raises(UnreadableImage):
        fingerprint_file(io.BytesIO(data[: len(data) // 2]), max_pixels=10**7)
    with pytest.raises(UnreadableImage):
        fingerprint_file(io.BytesIO(data[:300]), max_pixels=10**7)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not an image at all" * 100,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # a PNG signature and garbage
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",  # EPS: Pillow would run Ghostscript; refused
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    ],
    ids=["empty", "text", "png-garbage", "eps", "pdf"],
)
def test_non_images(data: bytes) -> None:
    with pytest.raises(UnreadableImage):
        fingerprint_file(io.BytesIO(data), max_pixels=10**7)


def test_too_small() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4, 40), "red").save(out, "PNG")
    with pytest.raises(ImageTooSmall):
        fingerprint_file(io.BytesIO(out.getvalue()), max_pixels=10**7)
    with pytest.raises(ImageTooSmall):
        fingerprint_image(Image.new("RGB", (40, 3), "red"))


def test_missing_file_is_not_an_unreadable_image(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fingerprint_file(tmp_path / "nope.jpg", max_pixels=10**7)
