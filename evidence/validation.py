"""Deciding what a file is from its bytes, never from its name or the declared Content-Type.

Pure functions, no Django: the web process sniffs the first bytes, then the sandboxed probe
(evidence/probe.py) parses the whole file under time and memory limits.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCEPTED_TEXT = "JPEG, PNG, WebP, GIF or HEIC images; MP4, MOV, WebM, MKV or AVI videos; PDF documents"


class Refused(Exception):
    """The file is not accepted; the message says why in words a person understands."""

    def __init__(self, message: str, status: int = 415) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    kind: str  # image | video | document


_FTYP_HEIC = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx"}
_FTYP_QT = {b"qt  "}


def sniff(head: bytes) -> Sniffed:
    """Identifies an accepted format from the first bytes (at least 64 are needed)."""
    if not head:
        raise Refused("The file is empty.", 400)
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png", "image")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image/gif", "image")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image/webp", "image")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video/x-msvideo", "video")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_HEIC:
            return Sniffed("image/heic", "image")
        if brand in _FTYP_QT:
            return Sniffed("video/quicktime", "video")
        if brand == b"avif":
            raise Refused(f"AVIF images are not accepted yet. Accepted: {ACCEPTED_TEXT}.")
        return Sniffed("video/mp4", "video")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("video/webm" if b"webm" in head[:64] else "video/x-matroska", "video")
    if head.startswith(b"%PDF-"):
        return Sniffed("application/pdf", "document")
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) or b"<svg" in text:
        raise Refused(f"SVG and other active formats are refused: they can carry scripts. Accepted: {ACCEPTED_TEXT}.")
    if text.startswith((b"<!doctype", b"<html", b"<script", b"<")):
        raise Refused(f"Web pages and scripts are not accepted as files. Accepted: {ACCEPTED_TEXT}.")
    raise Refused(f"This kind of file is not accepted. Accepted: {ACCEPTED_TEXT}.")
