"""Video fingerprints on clips encoded by the tests themselves with PyAV."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from hashing.errors import UnreadableVideo, VideoTooLarge, VideoTooLong
from hashing.image import PDQ, PDQ_THRESHOLD, PHASH, Fingerprint, fingerprint_image, hamming_hex
from hashing.video import MAX_FRAME_PIXELS, VideoFingerprints, fingerprint_video
from tests.hashing.synthetic import scenery, write_video


def fingerprint(path: Path, max_frame_pixels: int = MAX_FRAME_PIXELS) -> VideoFingerprints:
    """fingerprint_video with limits that the test clips are well within."""
    return fingerprint_video(path, max_duration_s=60.0, max_frames=5000, max_frame_pixels=max_frame_pixels)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """8 s of H.264 at 25 fps, cuts every 2.5 s (so at 2.5 and 7.5 s between grid points)."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    cuts = write_video(path, seconds=8, fps=25, scene_seconds=2.5, seed=1)
    return path, cuts


@pytest.fixture(scope="module")
def clip_result(clip: tuple[Path, list[float]]) -> VideoFingerprints:
    return fingerprint(clip[0])


def frames_of(result: VideoFingerprints) -> dict[int, dict[tuple[str, bool], Fingerprint]]:
    frames: dict[int, dict[tuple[str, bool], Fingerprint]] = {}
    for f in result.fingerprints:
        assert f.frame_ms is not None
        frames.setdefault(f.frame_ms, {})[(f.algorithm, f.mirrored)] = f
    return frames


def test_md5_is_the_file_md5(clip: tuple[Path, list[float]], clip_result: VideoFingerprints) -> None:
    assert clip_result.md5 == hashlib.md5(clip[0].read_bytes()).hexdigest()


def test_one_frame_per_second_plus_scene_cuts(clip: tuple[Path, list[float]], clip_result: VideoFingerprints) -> None:
    _, cuts = clip
    frames = frames_of(clip_result)
    assert clip_result.frame_count == 200
    assert clip_result.duration_ms == pytest.approx(8000, abs=100)
    # Every sampled frame has the four fingerprints of a still image.
    assert all(set(f) == {(PHASH, False), (PDQ, False), (PHASH, True), (PDQ, True)} for f in frames.values())
    times = sorted(frames)
    # Grid: the first decoded frame at or after each whole second (non-reference frames are not
    # decoded, so "at or after" can be a few frames late).
    for second in range(8):
        assert any(0 <= ms - second * 1000 <= 200 for ms in times), (second, times)
    # Cuts between grid points: 2.5 s and 7.5 s (5.0 s is a grid point anyway).
    for cut in (2.5, 7.5):
        assert any(0 <= ms - cut * 1000 <= 200 for ms in times), (cut, times)
    assert cuts == [2.5, 5.0, 7.5]
    assert len(times) == 10


def test_frames_match_stills_of_the_same_picture(clip: tuple[Path, list[float]], clip_result: VideoFingerprints) -> None:
    """The first frame, decoded and hashed as a still image, matches the video's frame 0."""
    with av.open(str(clip[0])) as container:
        first = next(container.decode(video=0)).to_image()
    still = {(f.algorithm, f.mirrored): f for f in fingerprint_image(first)}
    frame0 = frames_of(clip_result)[0]
    assert hamming_hex(still[(PDQ, False)].value, frame0[(PDQ, False)].value) <= 12
    assert hamming_hex(still[(PHASH, False)].value, frame0[(PHASH, False)].value) <= 4


def transcode(source: Path, target: Path, *, codec: str, width: int, height: int, fps: int, options: dict[str, str]) -> None:
    """A re-upload: decoded, scaled, re-encoded with another codec, size and frame rate."""
    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        out = dst.add_stream(codec, rate=fps)
        assert isinstance(out, av.VideoStream)
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        out.time_base = Fraction(1, fps)
        out.options = dict(options)
        next_index = 0
        for frame in src.decode(video=0):
            # Keep the frames falling on the new rate's grid: drops frames when slowing down.
            if frame.time is None or frame.time + 1e-6 < next_index / fps:
                continue
            scaled = frame.reformat(width=width, height=height, format="yuv420p")
            scaled.pts, scaled.time_base = next_index, Fraction(1, fps)
            next_index += 1
            for packet in out.encode(scaled):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)


@pytest.mark.parametrize(
    ("codec", "suffix", "size", "fps", "options"),
    [
        ("mpeg4", "mp4", (240, 180), 20, {"qscale": "6"}),
        ("libvpx-vp9", "webm", (480, 360), 15, {"deadline": "realtime", "cpu-used": "8", "crf": "40", "b": "0"}),
    ],
    ids=["mpeg4-smaller", "vp9-larger"],
)
def test_reencoded_copy_matches_frame_by_frame(
    tmp_path: Path,
    clip: tuple[Path, list[float]],
    clip_result: VideoFingerprints,
    codec: str,
    suffix: str,
    size: tuple[int, int],
    fps: int,
    options: dict[str, str],
) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} is not in this PyAV build")
    copy_path = tmp_path / f"copy.{suffix}"
    transcode(clip[0], copy_path, codec=codec, width=size[0], height=size[1], fps=fps, options=options)
    copy = frames_of(fingerprint(copy_path))
    original = frames_of(clip_result)
    distances = []
    for ms, fps_at in original.items():
        nearest = min(copy, key=lambda c: abs(c - ms))
        if abs(nearest - ms) <= 100:
            distances.append(hamming_hex(fps_at[(PDQ, False)].value, copy[nearest][(PDQ, False)].value))
    assert len(distances) >= 8, (sorted(original), sorted(copy))
    within = sum(d <= PDQ_THRESHOLD for d in distances)
    assert within >= 0.8 * len(distances), distances


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    """Phone videos store sensor-oriented frames plus a display matrix; hash what a viewer sees."""
    upright = scenery(3, 180, 320)
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        # Stored turned 90 degrees clockwise; the matrix turns it back counter-clockwise for display.
        stream.set_display_rotation(90)
        stored = upright.transpose(Image.Transpose.ROTATE_270)
        for index in range(10):
            frame = av.VideoFrame.from_image(stored)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    frame0 = frames_of(fingerprint(path))[0]
    still = {(f.algorithm, f.mirrored): f for f in fingerprint_image(upright)}
    assert hamming_hex(still[(PDQ, False)].value, frame0[(PDQ, False)].value) <= 16
    assert hamming_hex(still[(PHASH, False)].value, frame0[(PHASH, False)].value) <= 6


# --- Limits and broken input ---------------------------------------------------------------------


def test_too_long_by_duration(clip: tuple[Path, list[float]]) -> None:
    with pytest.raises(VideoTooLong):
        fingerprint_video(clip[0], max_duration_s=5, max_frames=5000)


def test_too_many_frames(clip: tuple[Path, list[float]]) -> None:
    with pytest.raises(VideoTooLong):
        fingerprint_video(clip[0], max_duration_s=60, max_frames=100)


def test_frames_too_large(clip: tuple[Path, list[float]]) -> None:
    with pytest.raises(VideoTooLarge):
        fingerprint(clip[0], max_frame_pixels=320 * 200)


def test_truncated_container(tmp_path: Path, clip: tuple[Path, list[float]]) -> None:
    # The muxer writes the index (moov) last: half a file has no index.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip[0].read_bytes()[: clip[0].stat().st_size // 2])
    with pytest.raises(UnreadableVideo):
        fingerprint(broken)


@pytest.mark.parametrize(
    "data", [b"", b"not a video" * 1000, bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8))]
)
def test_not_a_video(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "junk.mp4"
    path.write_bytes(data)
    with pytest.raises(UnreadableVideo):
        fingerprint(path)


def test_missing_file_is_not_an_unreadable_video(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fingerprint(tmp_path / "nope.mp4")


def test_header_limits_are_checked_before_reading_the_file(
    clip: tuple[Path, list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(path: object) -> str:
        raise AssertionError("the file was read")

    monkeypatch.setattr("hashing.video.file_md5", fail)
    with pytest.raises(VideoTooLong):
        fingerprint_video(clip[0], max_duration_s=2, max_frames=5000)


def test_audio_only(tmp_path: Path) -> None:
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        assert isinstance(stream, av.AudioStream)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(UnreadableVideo, match="no video stream"):
        fingerprint(path)


def test_grid_at_ntsc_rate(tmp_path: Path) -> None:
    """29.97 fps: frames do not fall on whole seconds; each second is still sampled exactly once."""
    path = tmp_path / "ntsc.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(30000, 1001))
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.time_base = Fraction(1001, 30000)
        picture = scenery(4, 160, 120)
        for index in range(120):
            frame = av.VideoFrame.from_image(picture)
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    times = sorted(frames_of(fingerprint(path)))
    assert times == [0, 1001, 2002, 3003]  # 120 frames: the last one is at 3.97 s
