"""Video fingerprints: the file's MD5 plus pHash and PDQ of sampled frames.

Frames are sampled on a fixed time grid (by default the first decoded frame at or after every
whole second) plus the first frame of every scene cut, so that a short scene
between two grid points is not missed. Each sampled frame gets the same four fingerprints as a
still image (pHash and PDQ, plain and mirrored), with frame_ms set. Because the grid is in time,
not in frame numbers, a re-encode at another frame rate samples (nearly) the same moments.

Decoding is the cost, so: frame threads ("AUTO"), non-reference frames are never decoded
(skip_frame="NONREF": no other frame depends on them, so the frames we do decode are
bit-identical to a full decode), scene detection uses a 32x18 luma thumbnail made by swscale,
and only sampled frames are converted to RGB, directly at hashing size.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Final

import av
import av.error
import numpy as np
from av.video.frame import VideoFrame
from av.video.reformatter import VideoReformatter
from PIL import Image

from hashing.errors import UnreadableVideo, VideoTooLarge, VideoTooLong
from hashing.image import MIN_SIDE, Fingerprint, fingerprint_luma, pdq_input_size

# Mean absolute difference (0-1, on 32x18 luma thumbnails) between consecutive decoded frames
# from which a frame starts a new scene. Measured on the synthetic clips (docs/hashing.md): pans
# and moving objects stay below 0.035, cuts between different pictures are 0.15 and above.
SCENE_THRESHOLD: Final = 0.1
# At most one scene-cut frame per this many seconds: strobe or flicker must not make every
# frame a "cut" (the grid frames are unaffected).
MIN_SCENE_GAP_S: Final = 0.5
# Default cap on decoded frame size: above 8K UHD a "video" is a memory bomb, not evidence.
MAX_FRAME_PIXELS: Final = 7680 * 4320
_MD5_CHUNK: Final = 1024 * 1024
_THUMB: Final = (32, 18)
# Container durations are rounded; a frame a little past the declared limit is not a reason to refuse.
_DURATION_SLACK_S: Final = 1.0
_GRID_TOLERANCE_S: Final = 1e-3


@dataclass(frozen=True)
class VideoFingerprints:
    md5: str  # hex MD5 of the whole file, for exact-copy lookups and hash lists that use MD5
    duration_ms: int | None  # as declared by the container, else the last decoded frame's time
    frame_count: int  # video packets read (= frames, for every common codec)
    fingerprints: tuple[Fingerprint, ...]  # four per sampled frame, ordered by frame_ms


def file_md5(path: str | os.PathLike[str] | IO[bytes]) -> str:
    """MD5 of a file, read in 1 MiB chunks (videos can be gigabytes). An open binary file is read
    from its start and left where it was: a demuxer may be reading the same file."""
    digest = hashlib.md5(usedforsecurity=False)
    if not isinstance(path, str | os.PathLike):
        position = path.tell()
        path.seek(0)
        while chunk := path.read(_MD5_CHUNK):
            digest.update(chunk)
        path.seek(position)
        return digest.hexdigest()
    with open(path, "rb") as fh:
        while chunk := fh.read(_MD5_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _declared_duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _thumbnail(frame: VideoFrame, reformatter: VideoReformatter) -> np.ndarray:
    """Tiny luma picture for scene-cut detection; swscale does any pixel format, 10-bit included.
    One reformatter per video keeps swscale's context: building it costs ~1 ms, more than the scaling."""
    small = reformatter.reformat(frame, width=_THUMB[0], height=_THUMB[1], format="gray", interpolation="AREA")
    return small.to_ndarray().astype(np.float32)


_TRANSPOSE_FOR_ROTATION: Final = {
    90: Image.Transpose.ROTATE_90,
    -90: Image.Transpose.ROTATE_270,
    270: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    -180: Image.Transpose.ROTATE_180,
}


def _frame_luma(frame: VideoFrame, sample_aspect: Fraction | None, reformatter: VideoReformatter) -> Image.Image:
    """The frame as a viewer sees it, in luma, scaled by swscale straight to PDQ's input size:
    anamorphic pixels stretched by the sample aspect ratio, the display-matrix rotation (phone
    videos) applied."""
    display_width = frame.width * sample_aspect if sample_aspect else frame.width
    width, height = pdq_input_size(max(1, round(display_width)), frame.height)
    # RGB then Pillow's luma, as for still images, so a screenshot of a frame hashes alike.
    rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation="AREA")
    gray = rgb.to_image().convert("L")
    rotation = round(frame.rotation or 0)
    transpose = _TRANSPOSE_FOR_ROTATION.get(rotation)
    return gray.transpose(transpose) if transpose is not None else gray


def fingerprint_video(
    path: str | os.PathLike[str] | IO[bytes],
    *,
    max_duration_s: float,
    max_frames: int,
    frame_interval_s: float = 1.0,
    scene_threshold: float = SCENE_THRESHOLD,
    max_frame_pixels: int = MAX_FRAME_PIXELS,
) -> VideoFingerprints:
    """MD5 and per-frame fingerprints of an untrusted video file (a path, or an open binary file:
    the sandboxed probe gets its file as a descriptor, never by name).

    Raises VideoTooLong when the declared or the actual duration exceeds max_duration_s or the
    stream has more than max_frames frames, VideoTooLarge for frames above max_frame_pixels, and
    UnreadableVideo when the file is not a video the bundled FFmpeg can demux and decode.
    Limits declared in the header are checked before decoding; they are checked again while
    decoding, since a header can lie.
    """
    if frame_interval_s <= 0:
        raise ValueError("frame_interval_s must be positive")
    try:
        if isinstance(path, str | os.PathLike):
            container = av.open(os.fspath(path), metadata_errors="ignore")
        else:
            path.seek(0)
            container = av.open(path, mode="r", metadata_errors="ignore")
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise  # our caller's mistake, not the file's
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableVideo(f"not a readable video ({type(exc).__name__}: {str(exc)[:200]})") from exc
    with container:
        if not container.streams.video:
            raise UnreadableVideo("the file holds no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > max_frame_pixels:
            raise VideoTooLarge(f"frames are {width}x{height}; at most {max_frame_pixels:,} pixels are allowed")
        if 0 < min(width, height) < MIN_SIDE:
            raise UnreadableVideo(f"frames are {width}x{height}; at least {MIN_SIDE} pixels are needed on each side")
        duration = _declared_duration_s(container, stream)
        if duration is not None and duration > max_duration_s:
            raise VideoTooLong(f"the video lasts {duration:.0f} s; at most {max_duration_s:.0f} s are allowed")
        rate = float(stream.average_rate) if stream.average_rate else None
        declared_frames = max(stream.frames or 0, round(duration * rate) if duration and rate else 0)
        if declared_frames > max_frames:
            raise VideoTooLong(f"the video has {declared_frames} frames; at most {max_frames} are allowed")

        # Only now read the whole file: a video refused from its header costs no I/O.
        md5 = file_md5(path)
        stream.thread_type = "AUTO"
        stream.codec_context.skip_frame = "NONREF"
        sampler = _Sampler(frame_interval_s, scene_threshold, stream.sample_aspect_ratio)
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
        packets = 0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                    if packets > max_frames:
                        raise VideoTooLong(f"the video has more than {max_frames} frames")
                for frame in packet.decode():
                    if frame.width * frame.height > max_frame_pixels:
                        raise VideoTooLarge(f"a frame is {frame.width}x{frame.height}; at most {max_frame_pixels:,} pixels")
                    if min(frame.width, frame.height) < MIN_SIDE:
                        raise UnreadableVideo(f"a frame is {frame.width}x{frame.height}; too small to fingerprint")
                    # Frames without a timestamp (raw streams) are placed by their packet count.
                    t = frame.time - start if frame.time is not None else packets / (rate or 25.0)
                    if t > max_duration_s + _DURATION_SLACK_S:
                        raise VideoTooLong(f"the video runs past {max_duration_s:.0f} s")
                    sampler.offer(frame, max(0.0, t))
        except av.error.FFmpegError as exc:
            raise UnreadableVideo(f"the video could not be decoded ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not sampler.fingerprints:
        raise UnreadableVideo("the video has no frame that can be decoded")
    if duration is None:
        duration = sampler.last_time
    return VideoFingerprints(
        md5=md5,
        duration_ms=round(duration * 1000) if duration is not None else None,
        frame_count=packets,
        fingerprints=tuple(sampler.fingerprints),
    )


class _Sampler:
    """Picks the frames to fingerprint: the first frame at or after each grid time, and the first
    frame of each scene (compared with the previous decoded frame)."""

    def __init__(self, interval_s: float, scene_threshold: float, sample_aspect: Fraction | None) -> None:
        self.interval_s = interval_s
        self.scene_threshold = scene_threshold
        self.sample_aspect = sample_aspect if sample_aspect and sample_aspect > 0 else None
        self.next_grid = 0.0
        self.last_cut = -math.inf
        self.previous: np.ndarray | None = None
        self.seen_ms: set[int] = set()
        self.last_time: float | None = None
        self.fingerprints: list[Fingerprint] = []
        self.thumbnails = VideoReformatter()
        self.pictures = VideoReformatter()

    def offer(self, frame: VideoFrame, t: float) -> None:
        self.last_time = t if self.last_time is None else max(self.last_time, t)
        thumb = _thumbnail(frame, self.thumbnails)
        cut = False
        if self.previous is not None and self.previous.shape == thumb.shape:
            change = float(np.abs(thumb - self.previous).mean()) / 255.0
            cut = change >= self.scene_threshold and t - self.last_cut >= MIN_SCENE_GAP_S
        self.previous = thumb
        # A small tolerance: a 29.97 fps frame at 0.9997 s is the frame for the 1 s grid point
        # (and the next grid point is then 2 s, not 1 s again).
        on_grid = t >= self.next_grid - _GRID_TOLERANCE_S
        if on_grid:
            self.next_grid = (math.floor((t + _GRID_TOLERANCE_S) / self.interval_s) + 1) * self.interval_s
        if cut:
            self.last_cut = t
        if not (on_grid or cut):
            return
        frame_ms = round(t * 1000)
        # The storage key is (algorithm, mirrored, frame_ms): never emit the same ms twice.
        if frame_ms in self.seen_ms:
            return
        self.seen_ms.add(frame_ms)
        self.fingerprints.extend(fingerprint_luma(_frame_luma(frame, self.sample_aspect, self.pictures), frame_ms=frame_ms))
