"""Why a file could not be fingerprinted. Every refusal is a HashingError, so callers can catch one type."""

from __future__ import annotations


class HashingError(Exception):
    """Base class: the input was refused; the message says why and is safe to show to staff."""


class UnreadableImage(HashingError):
    """Not an image, a format we do not open, or a damaged/truncated file."""


class ImageTooSmall(UnreadableImage):
    """Fewer than 5 pixels on a side: too small for PDQ (the reference hasher refuses it too)."""


class ImageTooLarge(HashingError):
    """More pixels than allowed: refused from the header, before any pixel is decoded."""


class UnreadableVideo(HashingError):
    """Not a video, no video stream, or a container/stream the decoder cannot read."""


class VideoTooLong(HashingError):
    """Longer than max_duration_s, or more frames than max_frames."""


class VideoTooLarge(HashingError):
    """Frames with more pixels than allowed (a memory bomb in video form)."""
