"""Runs evidence/probe.py on a file in a child process with a wall-clock timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

from evidence.validation import Refused

ROOT = Path(__file__).resolve().parent.parent


def probe(path: Path, kind: str, out_dir: Path, *, full: bool = False, timeout: float | None = None) -> dict[str, Any]:
    limits = settings.EVIDENCE_LIMITS
    cmd = [
        sys.executable, "-m", "evidence.probe",
        "--kind", kind,
        "--out", str(out_dir),
        "--max-pixels", str(limits["max_pixels"]),
        "--max-frames", str(limits["max_video_frames"] if kind == "video" else limits["max_image_frames"]),
        "--max-duration", str(limits["max_duration_s"]),
        "--memory-mb", str(limits["parse_memory_mb"]),
        "--cpu-seconds", str(limits["parse_cpu_s"] * (8 if full else 1)),
    ]  # fmt: skip
    if full:
        cmd.append("--full")
    cmd.append(str(path))
    wall = timeout or limits["parse_timeout_s"] * (8 if full else 1)
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=wall, check=False, env={"PATH": "/usr/bin:/bin"})  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise Refused("The file took too long to check and was refused; it may be damaged or crafted.", 422) from exc
    if done.returncode != 0 or not done.stdout.strip():
        # Killed by its limits (memory, CPU) or crashed in a decoder: the file is not accepted.
        raise Refused("The file could not be checked safely and was refused; it may be damaged or crafted.", 422)
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise Refused("The file could not be checked safely and was refused.", 422) from exc
    if not result.get("ok"):
        raise Refused(str(result.get("error", "The file was refused.")), 422)
    return result
