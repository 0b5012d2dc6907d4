"""Perceptual fingerprints of still images: pHash (64 bits, as imagehash computes it) and PDQ (256 bits).

Two entry points:

* ``fingerprint_image(img)`` for an image already in memory. Its pHash is bit-for-bit
  ``imagehash.phash(img)``; PDQ is ``pdqhash.compute`` on the image downscaled to fit 512x512
  (what Meta's C++ reference hasher does, and what keeps a 100 MP image from needing gigabytes).
* ``fingerprint_file(path_or_fileobj, max_pixels=...)``: the fast path for untrusted files. It
  refuses oversized images from the header, decodes JPEGs at reduced size with libjpeg's DCT
  scaling (draft mode) and decodes only luma, since both hashes see nothing but luma.

Each call returns four fingerprints: pHash and PDQ of the image and of its horizontal mirror, so a
mirrored re-upload is found by comparing its plain fingerprints with our mirrored ones.
See docs/hashing.md for the formats, thresholds and the measurements behind them.
"""

from __future__ import annotations

import os
import threading
import warnings
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

# Matching thresholds: two fingerprints of the same algorithm match when their Hamming distance is <= these.
PDQ_THRESHOLD: Final = 31  # of 256 bits; Meta's recommended "confident match" distance.
PHASH_THRESHOLD: Final = 10  # of 64 bits; chosen from tests/hashing measurements, see docs/hashing.md.
PDQ_MIN_QUALITY: Final = 50  # below this PDQ is unreliable (flat or near-uniform images) and is not matched.

# The PDQ input is downscaled to fit this box first, as Meta's C++ reference hasher does.
PDQ_MAX_SIDE: Final = 512
# Fewer pixels than this on a side cannot be PDQ-hashed (Meta's reference uses the same minimum).
MIN_SIDE: Final = 5

# Formats fingerprint_file opens. Anything else (EPS, which runs Ghostscript; exotic plugins with
# little fuzzing) is refused: evidence files are untrusted input.
ALLOWED_FORMATS: Final = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")

_PHASH_SIDE = 32  # imagehash: hash_size 8 * highfreq_factor 4
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Fingerprint:
    """One perceptual hash of an image or of a video frame.

    value is lowercase hex, most significant bit first: 16 characters for pHash, 64 for PDQ
    (the ThreatExchange / Hasher-Matcher-Actioner text form, see docs/hashing.md).
    """

    algorithm: str  # "phash" | "pdq"
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
    """Same algorithm, within that algorithm's threshold, and (for PDQ) both of usable quality."""
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
    # first hex digit. For pHash this is imagehash's str(); for PDQ it is ThreatExchange's format.
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def _phash_from_pixels(pixels: np.ndarray) -> str:
    """pHash of a 32x32 luma array: the low 8x8 DCT coefficients against their median.

    Same scipy calls as imagehash.phash, so the floating point (and thus every bit) is identical.
    """
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]
    return _bits_to_hex(low > np.median(low))


def _phash_pair(gray: Image.Image, *, reducing_gap: float | None) -> tuple[str, str]:
    """pHash of a luma image and of its mirror.

    Pillow's resize commutes exactly with a horizontal flip (checked in the tests), so the mirror's
    hash comes from the mirrored 32x32 thumbnail instead of a second resize of the whole image.
    reducing_gap=None is imagehash's exact resize; the fast path lets Pillow box-reduce first.
    """
    small = gray.resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS, reducing_gap=reducing_gap)
    pixels = np.asarray(small)
    return _phash_from_pixels(pixels), _phash_from_pixels(pixels[:, ::-1])


def _pdq(array: np.ndarray) -> tuple[str, int]:
    # pdqhash.compute takes an H x W x 3 uint8 array and computes luma 0.299R+0.587G+0.114B itself.
    # Its bit vector is already in ThreatExchange order (vector[0] = bit 255 of the C++ Hash256).
    bits, quality = pdqhash.compute(array)
    return _bits_to_hex(bits), int(quality)


def _pdq_pair(array: np.ndarray) -> tuple[tuple[str, int], tuple[str, int]]:
    """PDQ of an image array and of its mirror. A [:, ::-1] view is the mirrored image pixel for
    pixel; PDQ's box filters are not symmetric, so the mirror is hashed, not derived."""
    return _pdq(array), _pdq(array[:, ::-1])


def _fit_size(width: int, height: int, side: int) -> tuple[int, int]:
    if width <= side and height <= side:
        return width, height
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _fit(img: Image.Image, side: int) -> Image.Image:
    """Downscale so that both sides are <= side; smaller images are returned as they are (never upscaled).

    PDQ's blur window is an integer derived from the input size, so PDQ of the same picture at
    different sizes differs by 10-20 bits (measured): every input is first brought to the same
    512 box. Bilinear with a box pre-reduction gave the closest agreement between a full-size
    decode and a draft decode, and is the cheapest (see docs/hashing.md).
    """
    size = _fit_size(img.width, img.height, side)
    if size == img.size:
        return img
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


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
    """Fingerprints of a luma ("L") image that is already reduced to a few hundred pixels: the
    shared tail of fingerprint_file and of video frames.

    Both algorithms only ever look at luma, so a grayscale decode loses nothing. PDQ gets the luma
    plane broadcast to three channels (no copy); its weights sum to 1, so it sees the same luma.
    The pHash resize may box-reduce first (reducing_gap): at 32x32 output this changes no bit in
    practice and saves most of the resize.
    """
    _check_min_size(gray)
    phash = _phash_pair(gray, reducing_gap=2.0) if PHASH in algorithms else None
    pdq = None
    if PDQ in algorithms:
        luma = np.asarray(_fit(gray, PDQ_MAX_SIDE))
        pdq = _pdq_pair(np.broadcast_to(luma[:, :, None], (*luma.shape, 3)))
    return _fingerprints(phash, pdq, frame_ms)


# ---------------------------------------------------------------------------------------------
# Modes and orientation


def _composite_on_white(img: Image.Image) -> Image.Image:
    # Transparent pixels usually hold black or garbage colour; shown on a page they look white.
    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grayscale to 8 bits by scaling, not clipping
    (Pillow's own convert("L") clips 16-bit values above 255 to white)."""
    arr = np.asarray(img)
    values = arr.astype(np.float64)
    if img.mode.startswith("I;16"):
        top = 65535.0
    else:
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if lo >= 0 and hi <= 1.0 and img.mode == "F":
            top = 1.0  # float images in [0, 1]
        elif lo >= 0 and hi <= 255:
            top = 255.0  # 8-bit data stored in a wide mode
        elif lo >= 0 and hi <= 65535:
            top = 65535.0  # 16-bit PNG/TIFF loaded as "I"
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
        if mode.startswith(("I;16", "I", "F")):
            return _high_bit_depth_to_l(img).convert("RGB")
        if (mode == "P" and "transparency" in img.info) or mode in ("PA", "LA", "La", "RGBA", "RGBa"):
            return _composite_on_white(img)
        return img.convert("RGB")
    except ValueError as exc:  # e.g. LAB, which needs a colour profile
        raise UnreadableImage(f"cannot convert {mode} image to RGB") from exc


def to_luma(img: Image.Image) -> Image.Image:
    """8-bit luma ("L") of any mode, through to_rgb so alpha and palettes are treated alike."""
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
    """The EXIF orientation tag (1 = as stored). A damaged EXIF block is ignored rather than refusing the image."""
    try:
        value = img.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - EXIF parsers raise many types on crafted input
        return 1
    return value if value in _TRANSPOSE_FOR_ORIENTATION else 1


def _orient(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation, so a re-upload whose pixels were rotated matches the original.
    Only when the tag asks for it: exif_transpose copies the image even when there is nothing to do."""
    return ImageOps.exif_transpose(img) if _orientation(img) != 1 else img


def _check_min_size(img: Image.Image) -> None:
    if min(img.size) < MIN_SIDE:
        raise ImageTooSmall(f"image is {img.width}x{img.height} pixels; at least {MIN_SIDE} are needed on each side")


# ---------------------------------------------------------------------------------------------
# Entry points


def phash_hex(image: Image.Image) -> str:
    """64-bit perceptual hash, hex encoded, exactly as imagehash computes it (str(imagehash.phash(image)))."""
    return _phash_from_pixels(np.asarray(image.convert("L").resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.LANCZOS)))


def fingerprint_image(image: Image.Image) -> list[Fingerprint]:
    """pHash and PDQ of an in-memory image and of its horizontal mirror (four fingerprints).

    EXIF orientation is applied first, then the image is converted to RGB (alpha on white).
    The pHash is exactly str(imagehash.phash(rgb)); PDQ is pdqhash.compute of the RGB image
    downscaled (area average) to fit PDQ_MAX_SIDE.
    """
    rgb = to_rgb(_orient(image))
    _check_min_size(rgb)
    phash = _phash_pair(rgb.convert("L"), reducing_gap=None)
    # A [:, ::-1] view is the mirrored image pixel for pixel: no copy.
    return _fingerprints(phash, _pdq_pair(np.asarray(_fit(rgb, PDQ_MAX_SIDE))), None)


_heif_registered = False
_heif_lock = threading.Lock()


def _register_heif() -> None:
    # iPhone photos are HEIC. Registering is global to Pillow, so do it once, lazily, here rather
    # than at import time of a library that may be imported where HEIF is not wanted.
    global _heif_registered
    with _heif_lock:
        if not _heif_registered:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except ImportError:  # pragma: no cover - optional dependency
                pass
            _heif_registered = True


def _reduce_for_hashing(img: Image.Image) -> Image.Image:
    """Integer box reduction that keeps the image at least as large as the PDQ box: for formats
    without draft decoding, the cheap equivalent of what libjpeg's DCT scaling does for JPEG."""
    target = _fit_size(img.width, img.height, PDQ_MAX_SIDE)
    factor = min(img.width // target[0], img.height // target[1])
    return img.reduce(factor) if factor >= 2 else img


def _guarded(action: Callable[[], Image.Image], max_pixels: int) -> Image.Image:
    """Run a Pillow step on untrusted data, turning every failure into one of our exceptions."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (or, if configured, raises) above its own bomb limit; our check is explicit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return action()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"image is larger than {max_pixels:,} pixels") from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise UnreadableImage(f"not a readable image ({type(exc).__name__}: {str(exc)[:200]})") from exc


def fingerprint_file(
    path_or_fileobj: str | os.PathLike[str] | IO[bytes], *, max_pixels: int, algorithms: Collection[str] = (PHASH, PDQ)
) -> list[Fingerprint]:
    """Fingerprints of an untrusted image file, decoding no more than the hashes need.

    Raises ImageTooLarge (before decoding) when width*height > max_pixels, UnreadableImage for
    anything that is not a complete image in ALLOWED_FORMATS, ImageTooSmall below 5 pixels a side.
    Multi-frame files (GIF, WebP, TIFF, MPO) are fingerprinted on their first frame.
    """
    _register_heif()
    img = _guarded(lambda: Image.open(path_or_fileobj, formats=ALLOWED_FORMATS), max_pixels)
    try:
        width, height = img.size
        if width * height > max_pixels:
            raise ImageTooLarge(f"image is {width}x{height} pixels; at most {max_pixels:,} are allowed")
        if img.format in ("JPEG", "MPO"):
            # libjpeg scales by 1/2, 1/4 or 1/8 in the DCT domain (an 8x8 block average at 1/8): the
            # cheapest possible downscale. Asking for "L" skips chroma entirely for YCbCr JPEGs;
            # CMYK and grayscale JPEGs keep their mode and are converted below.
            img.draft("L", _fit_size(width, height, PDQ_MAX_SIDE))
        orientation = _orientation(img)
        loaded = img

        def decode() -> Image.Image:
            loaded.load()
            # Luma first (one channel to reduce), then reduce, then rotate the small image.
            gray = _reduce_for_hashing(to_luma(loaded))
            return gray.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation]) if orientation != 1 else gray

        gray = _guarded(decode, max_pixels)
        return fingerprint_luma(gray, algorithms=algorithms)
    finally:
        img.close()
