"""Image fingerprints (pHash as in imagehash). PDQ and video frames arrive with the evidence issue."""

from __future__ import annotations

import imagehash
from PIL import Image


def phash_hex(image: Image.Image) -> str:
    """64-bit perceptual hash, hex encoded, exactly as imagehash computes it."""
    return str(imagehash.phash(image))


def hamming_hex(a: str, b: str) -> int:
    """Bits that differ between two equal-length hex fingerprints."""
    if len(a) != len(b):
        raise ValueError("fingerprints of different lengths cannot be compared")
    return (int(a, 16) ^ int(b, 16)).bit_count()
