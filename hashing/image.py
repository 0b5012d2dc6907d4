"""Perceptual fingerprints of still images: pHash (64 bits, as imagehash computes it) and PDQ (256 bits).

Two entry points:

* ``fingerprint_image(img)`` for an image already in memory. Its pHash is bit for bit
  ``imagehash.phash(img)``; PDQ is ``pdqhash.compute`` after each side longer than 384 pixels
  has been scaled to 384 (see PDQ_SIDE).
* ``fingerprint_file(path_or_fileobj, max_pixels=...)``: the fast path for untrusted files. It
  refuses oversized images from the header, decodes JPEGs at reduced size with libjpeg's DCT
  scaling (draft mode) and decodes luma only, since both hashes see nothing but luma.

Each call returns four fingerprints: pHash and PDQ of the image and of its horizontal mirror, so a
mirrored re-upload is found by comparing its plain fingerprints with our mirrored ones.
docs/hashing.md has the formats, the thresholds and the measurements behind every choice here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import IO, Final

import numpy as np
import pdqhash
import scipy.fftpack
from PIL import ExifTags, Image, ImageOps

from hashing.errors import ImageTooLarge, ImageTooSmall, UnreadableImage

PHASH: Final = "phash"
PDQ: Final = "pdq"

# Two fingerprints of the same algorithm match when their Hamming distance is <= the threshold.
PDQ_THRESHOLD: Final = 31  # of 256 bits: Meta's "confident match" distance (ThreatExchange, HMA).
PHASH_THRESHOLD: Final = 10  # of 64 bits: from the robustness measurements in docs/hashing.md.
PDQ_MIN_QUALITY: Final = 50  # PDQ of flat, featureless images is noise; below this it is not matched.

# Before PDQ, each side longer than this is scaled to it (independently: PDQ squeezes every image
# to 64x64 anyway). PDQ's blur window is an integer derived from the size, (n + 127) // 128; at
# 384 it is 3, odd, so the box filter is centred. Measured against PDQ of the full-size image
# (what ThreatExchange/HMA compute), this stays closest for its cost: mean 4 bits, where fitting
# into 512x512 (even window, a one-pixel shift) gives 9 and costs twice as much.
PDQ_SIDE: Final = 384
# Fewer pixels than this on a side cannot be PDQ-hashed (Meta's reference refuses them too).
MIN_SIDE: Final = 5

# The formats fingerprint_file opens. Anything else is refused: evidence files are untrusted, and
# some Pillow plugins are little fuzzed or, like EPS, run external programs (Ghostscript).
# Multi-picture JPEGs from cameras open through "JPEG" (and then report format "MPO").
ALLOWED_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")

_PHASH_SIDE: Final = 32  # imagehash.phash: hash_size 8 * highfreq_factor 4
_WHITE: Final = (255, 255, 255)


@dataclass(frozen=True)
class Fingerprint:
    """One perceptual hash of an image or of a video frame.

    value is lowercase hex, most significant bit first: 16 digits for pHash (imagehash's str()),
    64 for PDQ (the ThreatExchange / Hasher-Matcher-Actioner text form); see docs/hashing.md.
    """

    algorithm: str  # PHASH or PDQ
    value: str
    quality: int | None  # PDQ quality 0-100; None for pHash
    mirrored: bool  # computed on the horizontally mirrored image
    frame_ms: int | None = None  # position in a video; None for still images


# ---------------------------------------------------------------------------------------------
# Comparing


def hamming_hex(a: str, b: str) -> int:
    """Bits that differ between two equal-length hex fingerprints."""
    if len(a) != len(b):
        raise ValueError("fingerprints of different lengths cannot be compared")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def hamming_bytes(a: bytes, b: bytes) -> int:
    """Bits that differ between two equal-length binary fingerprints (bytes.fromhex(value))."""
    if len(a) != len(b):
        raise ValueError("fingerprints of different lengths cannot be compared")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def is_match(a: Fingerprint, b: Fingerprint) -> bool:
    """Same algorithm, within its threshold, and for PDQ both of usable quality."""
    if a.algorithm != b.algorithm:
        return False
    if a.algorithm == PDQ:
        if (a.quality or 0) < PDQ_MIN_QUALITY or (b.quality or 0) < PDQ_MIN_QUALITY:
            return False
        return hamming_hex(a.value, b.value) <= PDQ_THRESHOLD
    return hamming_hex(a.value, b.value) <= PHASH_THRESHOLD


# ---------------------------------------------------------------------------------------------
# Hashes


def _bits_to_hex(bits: np.ndarray) -> str:
    # packbits is big-endian within each byte: bits[0] becomes the most significant bit of the
    # first hex digit. For pHash that is imagehash's str(); for PDQ, ThreatExchange's format.
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def _phash_from_pixels(pixels: np.ndarray) -> str:
    """pHash of a 32x32 luma array: the low 8x8 DCT coefficients against their median.
    The same scipy calls as imagehash.phash, so the floating point, and every bit, is identical."""
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]
    return _bits_to_hex(low > np.median(low))


def _phash_pair(gray: Image.Image, *, reducing_gap: float | None) -> tuple[str, str]:
    """pHash of a luma image and of its mirror.

    Pillow's resize commutes exactly with a horizontal flip (the tests check it), so the mirror's
    hash comes from the mirrored 32x32 thumbnail instead of a second resize of the whole image.
    reducing_gap=None is imagehash's exact resize; the fast path lets Pillow box-reduce first.
    """
    small = gray.resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
    pixels = np.asarray(small)
    return _phash_from_pixels(pixels), _phash_from_pixels(pixels[:, ::-1])


def _pdq(array: np.ndarray) -> tuple[str, int]:
    # pdqhash.compute takes H x W x 3 uint8 and computes luma 0.299R + 0.587G + 0.114B itself.
    # Its vector is already in ThreatExchange order: vector[0] is bit 255 of the C++ Hash256.
    bits, quality = pdqhash.compute(array)
    return _bits_to_hex(bits), int(quality)


def _pdq_pair(array: np.ndarray) -> tuple[tuple[str, int], tuple[str, int]]:
    """PDQ of an image array and of its mirror. The [:, ::-1] view is the mirrored image, pixel
    for pixel, without a copy. Deriving the mirror from the DCT (pdqhash.compute_dihedral) would
    save a pass but differs from hashing a mirrored copy by 2-10 bits: PDQ's decimation is not symmetric."""
    return _pdq(array), _pdq(array[:, ::-1])


def pdq_input_size(width: int, height: int) -> tuple[int, int]:
    """The size PDQ is computed at: each side longer than PDQ_SIDE scaled to PDQ_SIDE, never enlarged."""
    return min(width, PDQ_SIDE), min(height, PDQ_SIDE)


def _pdq_input(img: Image.Image) -> Image.Image:
    size = pdq_input_size(img.width, img.height)
    if size == img.size:
        return img
    # Bilinear (Pillow widens the kernel when shrinking, so it averages) without reducing_gap: a
    # plain resize commutes exactly with a horizontal flip, so fingerprint_image's mirrored PDQ is
    # exactly the PDQ of the mirrored image.
    return img.resize(size, Image.Resampling.BILINEAR)


def _fingerprints(
    phash: tuple[str, str] | None, pdq: tuple[tuple[str, int], tuple[str, int]] | None, frame_ms: int | None
) -> list[Fingerprint]:
    result = []
    for mirrored in (False, True):
        if phash is not None:
            result.append(Fingerprint(PHASH, phash[mirrored], None, mirrored, frame_ms))
        if pdq is not None:
            result.append(Fingerprint(PDQ, pdq[mirrored][0], pdq[mirrored][1], mirrored, frame_ms))
    return result


def fingerprint_luma(
    gray: Image.Image, *, frame_ms: int | None = None, algorithms: Collection[str] = (PHASH, PDQ)
) -> list[Fingerprint]:
    """Fingerprints of a luma ("L") image already reduced to a few hundred pixels a side: the shared
    tail of fingerprint_file and of video frames.

    PDQ gets the luma plane broadcast to three channels (no copy); its luma weights sum to 1, so
    it sees the same values. The pHash resize box-reduces first when the image is 4x larger than
    32x32 or more (reducing_gap=2): measured on 40 images, 0 bits changed for 33 and 2 for 7,
    for a fraction of the cost.
    """
    _check_algorithms(algorithms)
    _check_min_size(gray)
    phash = _phash_pair(gray, reducing_gap=2.0) if PHASH in algorithms else None
    pdq = None
    if PDQ in algorithms:
        luma = np.asarray(_pdq_input(gray))
        pdq = _pdq_pair(np.broadcast_to(luma[:, :, None], (*luma.shape, 3)))
    return _fingerprints(phash, pdq, frame_ms)


# ---------------------------------------------------------------------------------------------
# Modes and orientation


def _composite_on_white(img: Image.Image) -> Image.Image:
    # Transparent pixels often hold black or leftover colour; shown on a page they look white.
    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grayscale to 8 bits by scaling, not clipping (Pillow's
    own conversion clips 16-bit values above 255, turning most of a 16-bit scan white)."""
    values = np.asarray(img).astype(np.float32)
    if img.mode.startswith("I;16"):
        top = 65535.0
    else:
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if img.mode == "F" and lo >= 0 and hi <= 1.0:
            top = 1.0  # float image in [0, 1]
        elif lo >= 0 and hi <= 255:
            top = 255.0  # 8-bit data in a wide mode
        elif lo >= 0 and hi <= 65535:
            top = 65535.0  # 16-bit PNG or TIFF opened as "I"
        else:
            values, top = values - lo, max(hi - lo, 1.0)
    scaled = np.nan_to_num(values * (255.0 / top), nan=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB: alpha composited on white, palettes expanded, CMYK and
    high-bit-depth grayscale converted. Raises UnreadableImage for modes Pillow cannot convert."""
    mode = img.mode
    if mode == "RGB":
        return img
    try:
        if mode.startswith(("I", "F")):  # I, I;16, I;16B, I;16L, I;16N, F
            return _high_bit_depth_to_l(img).convert("RGB")
        if (mode == "P" and "transparency" in img.info) or mode in ("PA", "LA", "La", "RGBA", "RGBa"):
            return _composite_on_white(img)
        return img.convert("RGB")
    except ValueError as exc:  # e.g. LAB, which needs a colour profile
        raise UnreadableImage(f"cannot convert a {mode} image to RGB") from exc


def to_luma(img: Image.Image) -> Image.Image:
    """8-bit luma ("L") of any mode, through to_rgb so that alpha and palettes are treated alike."""
    if img.mode == "L":
        return img
    return to_rgb(img).convert("L")


_TRANSPOSE_FOR_ORIENTATION: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 = as stored). A damaged EXIF block is ignored rather than refusing the image."""
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - EXIF parsers raise many types on crafted input
        return 1
    return value if value in _TRANSPOSE_FOR_ORIENTATION else 1


def _orient(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, so that a copy whose pixels were rotated matches the original.
    Only when there is one: exif_transpose copies the image even when it has nothing to do."""
    return ImageOps.exif_transpose(img) if _orientation(img) != 1 else img


def _check_algorithms(algorithms: Collection[str]) -> None:
    if not algorithms or set(algorithms) - {PHASH, PDQ}:
        raise ValueError(f"algorithms must be a non-empty subset of {PHASH!r}, {PDQ!r}; got {sorted(algorithms)}")


def _check_min_size(img: Image.Image) -> None:
    if min(img.size) < MIN_SIDE:
        raise ImageTooSmall(f"the image is {img.width}x{img.height} pixels; at least {MIN_SIDE} are needed on each side")


# ---------------------------------------------------------------------------------------------
# Entry points


def phash_hex(image: Image.Image) -> str:
    """64-bit perceptual hash, hex encoded, exactly str(imagehash.phash(image))."""
    return _phash_from_pixels(np.asarray(image.convert("L").resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS)))


def fingerprint_image(image: Image.Image) -> list[Fingerprint]:
    """pHash and PDQ of an in-memory image and of its horizontal mirror: four fingerprints.

    The EXIF orientation is applied first, then the image is converted to RGB (alpha on white).
    The pHash is exactly str(imagehash.phash(rgb)); the mirrored ones are exactly those of
    ImageOps.mirror(rgb). PDQ is pdqhash.compute of the RGB image at pdq_input_size.
    """
    rgb = to_rgb(_orient(image))
    _check_min_size(rgb)
    phash = _phash_pair(rgb.convert("L"), reducing_gap=None)
    return _fingerprints(phash, _pdq_pair(np.asarray(_pdq_input(rgb))), None)


CROP_VARIANT_SHARE: Final = 0.10


def fingerprint_crop_variant(image: Image.Image) -> list[Fingerprint]:
    """pHash and PDQ of the central 90% of an image, as algorithms "phash_c90" and "pdq_c90".

    Neither hash survives a crop of more than a few percent, and reposts are often trimmed.
    Storing the fingerprints of a trimmed copy of each piece of evidence lets a copy cropped by
    up to about 10% match it (measured in tests/hashing/test_recall.py). They are compared with a
    query's ordinary pHash and PDQ, with the same thresholds.
    """
    rgb = to_rgb(_orient(image))
    dx, dy = int(rgb.width * CROP_VARIANT_SHARE / 2), int(rgb.height * CROP_VARIANT_SHARE / 2)
    cropped = rgb.crop((dx, dy, rgb.width - dx, rgb.height - dy))
    _check_min_size(cropped)
    phash, _mirror_phash = _phash_pair(cropped.convert("L"), reducing_gap=None)
    (pdq, quality), _mirror_pdq = _pdq_pair(np.asarray(_pdq_input(cropped)))
    return [Fingerprint("phash_c90", phash, None, False), Fingerprint("pdq_c90", pdq, quality, False)]


_open_formats: list[str] | None = None
_formats_lock = threading.Lock()


def _formats() -> list[str]:
    """ALLOWED_FORMATS that this Pillow can open, with HEIF registered on first use.

    iPhone photos are HEIC. Registering an opener is global to Pillow, so it is done once, lazily,
    here rather than as a side effect of importing this module.
    """
    global _open_formats
    with _formats_lock:
        if _open_formats is None:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except ImportError:  # pragma: no cover - optional dependency
                pass
            Image.init()
            _open_formats = [f for f in ALLOWED_FORMATS if f in Image.OPEN]
        return _open_formats


def _reduce_for_hashing(img: Image.Image) -> Image.Image:
    """Integer box reduction keeping both sides at least the PDQ input size: for formats without
    draft decoding, the cheap equivalent of what libjpeg's DCT scaling does for JPEG."""
    target = pdq_input_size(img.width, img.height)
    factor = min(img.width // target[0], img.height // target[1])
    return img.reduce(factor) if factor >= 2 else img


def _guarded(action: Callable[[], Image.Image], max_pixels: int) -> Image.Image:
    """Run a Pillow step on untrusted data, turning every failure into one of our exceptions."""
    try:
        return action()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit, Image.MAX_IMAGE_PIXELS (the warning counts when warnings are errors).
        raise ImageTooLarge(f"the image is larger than Pillow's limit or {max_pixels:,} pixels") from exc
    except MemoryError:
        raise
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, struct.error... on crafted files
        raise UnreadableImage(f"not a readable image ({type(exc).__name__}: {str(exc)[:200]})") from exc


def fingerprint_file(
    path_or_fileobj: str | os.PathLike[str] | IO[bytes], *, max_pixels: int, algorithms: Collection[str] = (PHASH, PDQ)
) -> list[Fingerprint]:
    """Fingerprints of an untrusted image file, decoding no more than the hashes need.

    Raises ImageTooLarge (from the header, before decoding) when width * height > max_pixels,
    UnreadableImage for anything that is not a complete image in ALLOWED_FORMATS, and
    ImageTooSmall below 5 pixels a side; a missing file raises FileNotFoundError as usual.
    Multi-frame files (GIF, WebP, TIFF, MPO) are fingerprinted on their first frame.
    algorithms restricts the work (and the result) to PHASH or PDQ.
    """
    _check_algorithms(algorithms)
    if isinstance(path_or_fileobj, str | os.PathLike):
        with open(path_or_fileobj, "rb") as fh:
            return _fingerprint_stream(fh, max_pixels, algorithms)
    return _fingerprint_stream(path_or_fileobj, max_pixels, algorithms)


def _fingerprint_stream(fh: IO[bytes], max_pixels: int, algorithms: Collection[str]) -> list[Fingerprint]:
    formats = _formats()
    img = _guarded(lambda: Image.open(fh, formats=formats), max_pixels)
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise ImageTooLarge(f"the image is {width}x{height} pixels; at most {max_pixels:,} are allowed")
        if img.format in ("JPEG", "MPO"):
            # libjpeg scales by 1/2, 1/4 or 1/8 in the DCT domain (at 1/8, an 8x8 block average):
            # the cheapest downscale there is. It picks the smallest scale still covering PDQ's
            # input size, so PDQ sees what a full decode would give it. "L" makes libjpeg skip
            # chroma for YCbCr JPEGs; CMYK and grayscale JPEGs keep their mode.
            img.draft("L", pdq_input_size(width, height))
        orientation = _orientation(img)

        def decode() -> Image.Image:
            img.load()
            # Luma first (one channel to reduce), then reduce, then turn the small image upright.
            gray = _reduce_for_hashing(to_luma(img))
            return gray.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation]) if orientation != 1 else gray

        gray = _guarded(decode, max_pixels)
        return fingerprint_luma(gray, algorithms=algorithms)
