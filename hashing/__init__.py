"""Perceptual fingerprints: a plain library with no Django imports (and none from the project).

Everything here is pure functions on files and images, so it can be benchmarked (bench/hashing.py)
and reused outside the web application.

* hashing.image: pHash and PDQ of still images (fingerprint_image, fingerprint_file), comparison.
* hashing.video: MD5 and per-frame fingerprints of videos (fingerprint_video).
* hashing.errors: the exceptions raised for refused input.

docs/hashing.md describes the formats, thresholds, limits and measurements.
"""
