"""Parses one untrusted file in a separate, limited process; prints a JSON verdict on stdout.

    python -m evidence.probe --kind image|video|document --out DIR [limits] PATH|-

Run by evidence.sandbox inside its sandbox (bubblewrap: no network, another uid, a read-only view,
seccomp; see that module) with a wall-clock timeout, the file on standard input ("-"): the sandbox
uid could not open the caller's private file by name. It also sets its own CPU and memory limits
before touching the file, so a crafted file can exhaust only this short-lived process, never a web
or worker process. No Django here: it starts fast and holds no secrets.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import warnings
from pathlib import Path
from typing import IO, Any

Source = IO[bytes]


def _limit(memory_mb: int, cpu_s: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _fail(message: str) -> None:
    print(json.dumps({"ok": False, "error": message}))  # noqa: T201 - stdout is the protocol
    sys.exit(0)


def _fp_dicts(fps: Any) -> list[dict[str, Any]]:
    return [
        {"algorithm": f.algorithm, "value": f.value, "quality": f.quality, "mirrored": f.mirrored, "frame_ms": f.frame_ms}
        for f in fps
    ]


def _previews(image: Any, out: Path, stem: str = "preview") -> dict[str, str]:
    """A downscaled copy without metadata, and a blurred one that cannot be sharpened back."""
    from PIL import ImageFilter

    small = image.copy()
    small.thumbnail((800, 800))
    preview = out / f"{stem}.jpg"
    # Re-encoding from pixels drops EXIF, GPS and every other metadata block.
    small.save(preview, "JPEG", quality=80)
    tiny = small.resize((max(1, small.width // 24), max(1, small.height // 24)))
    blurred = tiny.resize(small.size).filter(ImageFilter.GaussianBlur(radius=max(4, small.width // 60)))
    blurred_path = out / f"{stem}_blurred.jpg"
    blurred.save(blurred_path, "JPEG", quality=70)
    return {"preview": preview.name, "preview_blurred": blurred_path.name}


def _rewound(source: Source) -> Source:
    """Each reader starts at the first byte: the same open file serves every pass."""
    source.seek(0)
    return source


def probe_image(path: Source, out: Path, max_pixels: int, max_frames: int) -> dict[str, Any]:
    from PIL import Image, ImageOps

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - HEIC support is optional
        pass
    from hashing.image import fingerprint_crop_variant, fingerprint_image

    Image.MAX_IMAGE_PIXELS = max_pixels
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        with Image.open(_rewound(path)) as img:
            width, height = img.size
            if width * height > max_pixels:
                _fail(f"The image is too large: {width}×{height} pixels (at most {max_pixels:,} pixels).")
            frames = getattr(img, "n_frames", 1)
            if frames > max_frames:
                _fail(f"The image has too many frames: {frames} (at most {max_frames}).")
            # Decode every frame: some bombs and corruptions show only on a later frame.
            for index in range(frames):
                img.seek(index)
                if img.size[0] * img.size[1] > max_pixels:
                    _fail(f"Frame {index + 1} is too large (at most {max_pixels:,} pixels).")
                img.load()
            img.seek(0)
            first = ImageOps.exif_transpose(img.convert("RGBA") if img.mode in ("P", "LA") else img)
            rgb = first.convert("RGB")
            fingerprints = _fp_dicts(fingerprint_image(rgb))
            if min(rgb.size) >= 64:
                fingerprints += _fp_dicts(fingerprint_crop_variant(rgb))
            previews = _previews(rgb, out)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        _fail(f"The image is too large to open safely (more than {max_pixels:,} pixels).")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        _fail(f"The image is damaged or incomplete and cannot be read ({type(exc).__name__}).")
    return {"ok": True, "width": width, "height": height, "frames": frames, "fingerprints": fingerprints, "previews": previews}


def probe_video(path: Source, out: Path, max_pixels: int, max_frames: int, max_duration: float, full: bool) -> dict[str, Any]:
    import av

    try:
        with av.open(_rewound(path), mode="r", metadata_errors="ignore") as container:
            streams = container.streams.video
            if not streams:
                _fail("The file holds no video stream.")
            stream = streams[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > max_pixels:
                _fail(f"The video's frames are too large: {width}×{height} (at most {max_pixels:,} pixels).")
            duration = float(container.duration / av.time_base) if container.duration else None
            if duration is None and stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            if duration is not None and duration > max_duration:
                _fail(f"The video is too long: {duration:.0f} s (at most {max_duration:.0f} s).")
            rate = float(stream.average_rate or 30)
            if duration is not None and duration * rate > max_frames:
                _fail(f"The video has too many frames (at most {max_frames:,}).")
            # Decoding the first frame proves the container and codec are readable.
            first = next(container.decode(stream), None)
            if first is None:
                _fail("The video has no frame that can be decoded.")
    except av.error.FFmpegError as exc:
        _fail(f"The video is damaged or in a form that cannot be read ({type(exc).__name__}).")
    result: dict[str, Any] = {
        "ok": True,
        "width": width,
        "height": height,
        "duration_ms": int(duration * 1000) if duration is not None else None,
    }
    if full:
        result.update(_video_fingerprints_and_sheet(path, out, max_frames, max_duration))
    return result


def _video_fingerprints_and_sheet(path: Source, out: Path, max_frames: int, max_duration: float) -> dict[str, Any]:
    from PIL import Image

    from hashing.video import fingerprint_video

    try:
        result = fingerprint_video(_rewound(path), max_duration_s=max_duration, max_frames=max_frames)
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a refusal of this file
        _fail(f"The video could not be fingerprinted ({type(exc).__name__}: {str(exc)[:200]}).")
    thumbs = _sample_frames(path, 9)
    sheet = Image.new("RGB", (960, 540 if len(thumbs) > 3 else 180), "white")
    for i, thumb in enumerate(thumbs):
        thumb.thumbnail((320, 180))
        sheet.paste(thumb, ((i % 3) * 320, (i // 3) * 180))
    return {"md5": result.md5, "fingerprints": _fp_dicts(result.fingerprints), "previews": _previews(sheet, out, "sheet")}


def _sample_frames(path: Source, count: int) -> list[Any]:
    import av

    frames = []
    with av.open(_rewound(path), mode="r") as container:
        stream = container.streams.video[0]
        total = float(container.duration / av.time_base) if container.duration else 0
        for i in range(count):
            target = total * (i + 0.5) / count if total else 0
            container.seek(int(target / float(stream.time_base)) if stream.time_base else 0, stream=stream, any_frame=False)
            frame = next(container.decode(stream), None)
            if frame is not None:
                frames.append(frame.to_image())
            if not total:
                break
    return frames


def probe_document(fh: Source) -> dict[str, Any]:
    size = fh.seek(0, 2)
    head = _rewound(fh).read(8)
    fh.seek(max(0, size - 2048))
    tail = fh.read()
    if not head.startswith(b"%PDF-") or b"%%EOF" not in tail:
        _fail("The PDF is damaged or incomplete.")
    return {"ok": True}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["image", "video", "document"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-pixels", type=int, default=100_000_000)
    parser.add_argument("--max-frames", type=int, default=1000)
    parser.add_argument("--max-duration", type=float, default=3 * 3600)
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--cpu-seconds", type=int, default=120)
    parser.add_argument("--full", action="store_true", help="video: fingerprints and contact sheet too")
    parser.add_argument("path", help='the file, or "-" for standard input')
    args = parser.parse_args()
    _limit(args.memory_mb, args.cpu_seconds)
    out = Path(args.out)
    path: Source = open(0, "rb", closefd=False) if args.path == "-" else Path(args.path).open("rb")  # noqa: SIM115
    try:
        if args.kind == "image":
            result = probe_image(path, out, args.max_pixels, args.max_frames)
        elif args.kind == "video":
            result = probe_video(path, out, args.max_pixels, args.max_frames, args.max_duration, args.full)
        else:
            result = probe_document(path)
    except MemoryError:
        _fail("The file needs more memory to open than is allowed; it may be crafted to exhaust the server.")
    print(json.dumps(result))  # noqa: T201 - stdout is the protocol


if __name__ == "__main__":
    main()
