"""Procedurally generated test media: landscapes of gradients, hills, shapes, text and sensor noise.

Everything is drawn from a seed at run time, so no binary test data is committed and no real
photograph (let alone intimate imagery) is ever needed. The pictures are "photo-like" enough for
perceptual hashes: smooth low-frequency structure (sky, hills, lighting) that the hashes key on,
mid-sized objects, fine texture and noise that compression and resizing disturb.
Shared by tests/hashing and bench/hashing.py.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

_WORDS = ["harbour", "station", "market", "ferry", "garden", "bridge", "north", "lantern", "cedar", "harvest", "orbit", "ember"]


def _smooth_noise(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """Low-frequency value noise in [0, 1]: a few random cells upscaled bicubically."""
    grid = Image.fromarray((rng.random((cells, max(2, cells * width // height))) * 255).astype(np.uint8), "L")
    return np.asarray(grid.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0


def scenery(seed: int, width: int, height: int, *, noise: int = 6) -> Image.Image:
    """A synthetic landscape "photograph" of the given size (RGB), fully determined by the seed."""
    rng = np.random.default_rng(seed)
    # The smooth parts (sky, hills, lighting) are computed at a small working size and upscaled:
    # they have no fine detail to lose, and this keeps a 12 MP picture to about a second.
    ws = min(1.0, 640 / max(width, height))
    w0, h0 = max(8, int(width * ws)), max(8, int(height * ws))
    y = np.linspace(0.0, 1.0, h0, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w0, dtype=np.float32)[None, :]
    sky_top, sky_bottom, ground_near, ground_far = (rng.random((4, 3), dtype=np.float32) * 255).reshape(4, 1, 1, 3)
    # Sky: vertical gradient with a lighter "sun" glow somewhere.
    sun_x, sun_y = rng.random(2)
    glow = np.exp(-(((x - sun_x) * 3) ** 2 + ((y - sun_y * 0.5) * 3) ** 2))[..., None] * 90
    sky = sky_top + (sky_bottom - sky_top) * y[..., None] + glow
    # Ground: a horizon made of a few sines, shaded by distance and by smooth blotches (fields, woods).
    horizon = 0.35 + 0.25 * rng.random()
    for _ in range(4):
        horizon = horizon + rng.uniform(0.02, 0.08) * np.sin(x * rng.uniform(2, 14) + rng.uniform(0, 6.3))
    depth = np.clip((y - horizon) / (1.0 - horizon + 1e-3), 0, 1)[..., None]
    blotches = _smooth_noise(rng, w0, h0, int(rng.integers(4, 10)))[..., None]
    ground = (ground_far + (ground_near - ground_far) * depth) * (0.55 + 0.9 * blotches)
    rgb = np.where((y > horizon)[..., None], ground, sky)
    # A second, darker range of hills in the distance.
    ridge = horizon - 0.06 - 0.05 * np.abs(np.sin(x * rng.uniform(5, 20) + rng.uniform(0, 6.3)))
    rgb = np.where(((y > ridge) & (y <= horizon))[..., None], rgb * 0.6 + ground_far * 0.25, rgb)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").resize((width, height), Image.Resampling.BICUBIC)

    # Objects: houses, trees, rocks, clouds as rectangles, ellipses and polygons of random colours.
    draw = ImageDraw.Draw(img, "RGBA")
    scale = min(width, height)
    for _ in range(int(rng.integers(18, 40))):
        cx, cy = rng.random() * width, rng.random() * height
        size = scale * rng.uniform(0.03, 0.25)
        colour = (*(int(c) for c in rng.integers(0, 256, 3)), int(rng.integers(140, 256)))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.rectangle([cx, cy, cx + size * rng.uniform(0.5, 2), cy + size * rng.uniform(0.5, 2)], fill=colour)
        elif kind == 1:
            draw.ellipse([cx, cy, cx + size * rng.uniform(0.5, 2), cy + size * rng.uniform(0.5, 2)], fill=colour)
        else:
            points = [(cx + size * rng.uniform(-1, 1), cy + size * rng.uniform(-1, 1)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(points, fill=colour)
    # Signs: some text, as photographs of streets tend to have.
    for _ in range(int(rng.integers(2, 5))):
        font = ImageFont.load_default(size=max(10, int(scale * rng.uniform(0.03, 0.09))))
        text = " ".join(rng.choice(_WORDS, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.text((rng.random() * width * 0.7, rng.random() * height * 0.9), text, fill=colour, font=font)
    # Fine texture (foliage, gravel, fabric) at a few pixels' scale, then sensor noise: this is what
    # makes JPEG files of realistic size and what recompression and resizing disturb.
    tex_cells = (max(2, width // 6), max(2, height // 6))
    texture = Image.fromarray(rng.integers(0, 256, (tex_cells[1], tex_cells[0]), dtype=np.uint8), "L")
    texture_arr = np.asarray(texture.resize((width, height), Image.Resampling.BILINEAR), dtype=np.int16)
    arr = np.asarray(img, dtype=np.int16) + ((texture_arr - 128) // 6)[..., None]
    if noise:
        arr += rng.integers(-noise, noise + 1, (height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def size_for_megapixels(megapixels: float, aspect: float = 4 / 3) -> tuple[int, int]:
    """Width and height of a landscape picture with about this many megapixels."""
    height = int((megapixels * 1e6 / aspect) ** 0.5)
    return int(height * aspect), height


def write_video(
    path: Path,
    *,
    seconds: float,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    codec: str = "libx264",
    scene_seconds: float = 3.0,
    seed: int = 0,
    grain: int = 0,
    options: dict[str, str] | None = None,
) -> list[float]:
    """Encode a synthetic clip: a slow pan across a scenery picture, with a hard cut to a new picture
    every scene_seconds and a moving disc. grain adds fresh noise to every frame, which raises the
    bitrate to that of a camera clip (and the decoding cost with it). Returns the times (s) of the cuts."""
    rng = np.random.default_rng(seed)
    scenes = max(1, int(np.ceil(seconds / scene_seconds)))
    # Each scene's picture is wider than the frame so the camera can pan across it.
    pictures = [np.asarray(scenery(seed * 100 + i, int(width * 1.5), height, noise=3)) for i in range(scenes)]
    cuts = [i * scene_seconds for i in range(1, scenes)]
    total = round(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        if options:
            stream.options = dict(options)
        yy, xx = np.mgrid[0:height, 0:width]
        for index in range(total):
            t = index / fps
            scene = min(int(t // scene_seconds), scenes - 1)
            local = (t - scene * scene_seconds) / scene_seconds
            offset = int(local * (pictures[scene].shape[1] - width))
            frame_rgb = pictures[scene][:, offset : offset + width].copy()
            # A disc bouncing across the frame: motion that is not a pan.
            cx = int(width * (0.2 + 0.6 * abs(np.sin(t * 0.9))))
            cy = int(height * (0.3 + 0.4 * abs(np.cos(t * 0.7))))
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 < (height // 10) ** 2
            frame_rgb[disc] = (230, 40, 40)
            if grain:
                noisy = frame_rgb.astype(np.int16) + rng.integers(-grain, grain + 1, frame_rgb.shape, dtype=np.int16)
                frame_rgb = np.clip(noisy, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return cuts
