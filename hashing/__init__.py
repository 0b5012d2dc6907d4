"""Perceptual fingerprints and the match index: a plain library with no Django imports.

Everything here is pure functions on bytes and images, so it can be benchmarked and reused
outside the web application. Filled by the evidence and matching issues.
"""
