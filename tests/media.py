"""Synthetic test media made on the fly: scenery-like pictures, clips, and hostile files.

Nothing here resembles a person; everything is gradients, shapes, noise and text.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter


def scenery(seed: int = 1, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A synthetic 'landscape': sky gradient, hills, a sun, some noise."""
    rng = random.Random(seed)
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    top = (rng.randint(40, 120), rng.randint(100, 180), rng.randint(180, 255))
    for y in range(h):
        t = y / h
        draw.line([(0, y), (w, y)], fill=tuple(int(c * (1 - t) + 240 * t) for c in top))
    for _ in range(rng.randint(3, 6)):
        base = rng.randint(h // 2, h)
        color = (rng.randint(20, 90), rng.randint(80, 160), rng.randint(20, 90))
        points = [(0, h)] + [(x, base - rng.randint(0, h // 3)) for x in range(0, w + 40, 40)] + [(w, h)]
        draw.polygon(points, fill=color)
    r = rng.randint(max(2, min(w, h) // 16), max(3, min(w, h) // 8))
    cx, cy = rng.randint(r, w - r), rng.randint(r, h // 2)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, rng.randint(180, 240), 80))
    for _ in range(rng.randint(5, 15)):
        x, y = rng.randint(0, w), rng.randint(0, h)
        draw.rectangle([x, y, x + rng.randint(5, 60), y + rng.randint(5, 60)], outline=(rng.randint(0, 255),) * 3)
    return img.filter(ImageFilter.SMOOTH)


def image_bytes(fmt: str = "JPEG", seed: int = 1, size: tuple[int, int] = (640, 480), **save: object) -> bytes:
    buffer = io.BytesIO()
    img = scenery(seed, size)
    if fmt == "GIF":
        img = img.convert("P")
    img.save(buffer, fmt, **save)
    return buffer.getvalue()


def animated_gif(frames: int = 3, size: tuple[int, int] = (120, 90)) -> bytes:
    images = [scenery(i, size).convert("P") for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A tiny PNG whose header claims billions of pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    # A few rows of zeros compressed: the file stays tiny, the claimed image is huge.
    body = zlib.compress(b"\x00" * (width + 1) * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def _gif_image_descriptors(data: bytes) -> list[int]:
    """Offsets of the image descriptors (0x2C) in a GIF, found by walking its blocks."""
    pos = 13
    flags = data[10]
    if flags & 0x80:
        pos += 3 * (2 ** ((flags & 0x07) + 1))
    found = []
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:
            break
        if block == 0x21:
            pos += 2
        elif block == 0x2C:
            found.append(pos)
            local = data[pos + 9]
            pos += 10
            if local & 0x80:
                pos += 3 * (2 ** ((local & 0x07) + 1))
            pos += 1  # LZW minimum code size
        else:
            raise ValueError("unexpected GIF block")
        while data[pos] != 0:
            pos += data[pos] + 1
        pos += 1
    return found


def gif_later_frame_bomb() -> bytes:
    """A GIF whose first frame is small and whose second frame declares 65535x65535 pixels."""
    data = bytearray(animated_gif(frames=2, size=(32, 32)))
    second = _gif_image_descriptors(bytes(data))[1]
    struct.pack_into("<HH", data, second + 5, 65535, 65535)
    return bytes(data)


def hostile_corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, why it must be refused)."""
    jpeg = image_bytes("JPEG", seed=3)
    png = image_bytes("PNG", seed=4)
    gif = image_bytes("GIF", seed=5)
    webp = image_bytes("WEBP", seed=6)
    return {
        "empty.jpg": (b"", "empty"),
        "bomb.png": (png_bomb(), "too large"),
        "later-frame-bomb.gif": (gif_later_frame_bomb(), "too large"),
        "truncated.jpg": (jpeg[: len(jpeg) // 3], "damaged"),
        "truncated.png": (png[: len(png) // 2], "damaged"),
        "truncated.gif": (gif[: len(gif) // 2], "damaged"),
        "truncated.webp": (webp[: len(webp) // 2], "damaged"),
        "corrupt.jpg": (jpeg[:200] + bytes(random.Random(1).randrange(256) for _ in range(4000)), "damaged"),
        "html-behind-png-header.png": (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "damaged"),
        "script.svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        "page.jpg": (b"<!DOCTYPE html><html><body>hello</body></html>", "Web pages"),
        "program.png": (b"MZ\x90\x00" + b"\x00" * 200, "not accepted"),
        "huge-dimensions.png": (png_bomb(30000, 30000), "too large"),
        "broken-container.mp4": (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x13" * 5000, "video"),
        "broken.pdf": (b"%PDF-1.4\n1 0 obj\n<<>>\n", "PDF"),
    }


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def video_bytes(
    seconds: float = 3.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    codec: str = "mpeg4",
    fmt: str = "mp4",
    *,
    start_s: int = 0,
    seed_offset: int = 0,
) -> bytes:
    """A clip of synthetic scenes, one per second; start_s skips the first seconds (a cut copy)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(int(start_s * fps), int((start_s + seconds) * fps)):
            # Scenes are drawn at one size and scaled, so a smaller copy shows the same pictures.
            picture = scenery(i // fps + 1 + seed_offset, (320, 240)).resize(size)
            frame = av.VideoFrame.from_image(picture)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
