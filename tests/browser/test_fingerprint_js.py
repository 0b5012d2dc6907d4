"""static/js/fingerprint.js computes the server's fingerprints in the browser (docs/intake-fingerprints.md).

A victim who does not upload a picture sends only its pHash and PDQ, computed on the device. These
tests run the script in Chromium on synthetic pictures (never real photographs) and compare it
with hashing.image.fingerprint_image: within 4 of 64 bits for pHash and 16 of 256 for PDQ, and in
practice bit for bit. No page is served: the script is injected into a blank page, and the test
checks that computing the fingerprints makes no network request at all.
"""

from __future__ import annotations

import base64
import io
import statistics
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from hashing.image import PDQ, PHASH, fingerprint_image, hamming_hex
from tests import media
from tests.hashing.synthetic import scenery

pytestmark = pytest.mark.browser

SCRIPT = Path(__file__).resolve().parents[2] / "static" / "js" / "fingerprint.js"
PHASH_MAX = 4  # of 64 bits
PDQ_MAX = 16  # of 256 bits

# Runs in the page: base64 -> Blob -> Fingerprint.fromFile. Errors come back as {error: code}.
FROM_FILE = """async ([b64, options]) => {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const blob = new Blob([bytes]);
  const started = performance.now();
  try {
    const result = await Fingerprint.fromFile(blob, options || undefined);
    result.ms = performance.now() - started;
    return result;
  } catch (error) {
    return {error: error.code || error.name, message: error.message};
  }
}"""

FROM_RGBA = """([b64, width, height]) => {
  const binary = atob(b64);
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0, q = 0; p < width * height; p++, q += 3) {
    rgba[p * 4] = binary.charCodeAt(q);
    rgba[p * 4 + 1] = binary.charCodeAt(q + 1);
    rgba[p * 4 + 2] = binary.charCodeAt(q + 2);
    rgba[p * 4 + 3] = 255;
  }
  return Fingerprint.fromRGBA(rgba, width, height);
}"""


def _encode(img: Image.Image, fmt: str, **save: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **save)
    return buffer.getvalue()


def _rotated_jpeg(seed: int, size: tuple[int, int], orientation: int) -> bytes:
    """A JPEG whose EXIF orientation tag asks viewers to rotate it, as phone cameras write."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(scenery(seed, *size), "JPEG", quality=90, exif=exif.tobytes())


def _transparent_png(seed: int, size: tuple[int, int]) -> bytes:
    """RGBA with an alpha ramp and a fully transparent band: the server composites it on white."""
    rgba = np.asarray(scenery(seed, *size).convert("RGBA")).copy()
    rgba[..., 3] = np.linspace(0, 255, size[0]).astype(np.uint8)[None, :]
    rgba[: size[1] // 6, :, 3] = 0
    return _encode(Image.fromarray(rgba, "RGBA"), "PNG")


def _cases() -> list[tuple[str, bytes]]:
    return [
        ("jpeg 3000x2000 q90", _encode(scenery(1, 3000, 2000), "JPEG", quality=90)),
        ("png 320x240", _encode(scenery(2, 320, 240), "PNG")),
        ("jpeg 640x480 q75", _encode(scenery(3, 640, 480), "JPEG", quality=75)),
        ("jpeg 600x2000 q85 (tall)", _encode(scenery(4, 600, 2000), "JPEG", quality=85)),
        ("jpeg 1000x750 4:4:4 q95", _encode(scenery(5, 1000, 750), "JPEG", quality=95, subsampling=0)),
        ("jpeg 900x600 greyscale", _encode(scenery(6, 900, 600).convert("L"), "JPEG", quality=85)),
        ("png 1024x768", _encode(scenery(7, 1024, 768), "PNG")),
        ("jpeg 1200x900 progressive", _encode(scenery(8, 1200, 900), "JPEG", quality=80, progressive=True)),
        ("jpeg 800x600 EXIF rotate 90", _rotated_jpeg(9, (800, 600), 6)),
        ("png 400x300 transparent", _transparent_png(10, (400, 300))),
        ("jpeg 800x600 q60 (media)", media.image_bytes("JPEG", seed=11, size=(800, 600), quality=60)),
        ("png 500x375 (media)", media.image_bytes("PNG", seed=12, size=(500, 375))),
        ("jpeg 2400x300 q85 (wide)", _encode(scenery(13, 2400, 300), "JPEG", quality=85)),
    ]


def _reference(data: bytes) -> dict[tuple[str, bool], tuple[str, int | None]]:
    fingerprints = fingerprint_image(Image.open(io.BytesIO(data)))
    return {(f.algorithm, f.mirrored): (f.value, f.quality) for f in fingerprints}


@pytest.fixture
def fp_page(browser):
    """A blank page with fingerprint.js and a record of every request it makes."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    context.on("request", lambda request: requests.append(request.url))
    page.set_content("<html><body></body></html>")
    page.add_script_tag(path=str(SCRIPT))
    requests.clear()  # set_content itself is not the script's doing
    yield page, requests
    context.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _summary(label: str, values: list[int]) -> str:
    return f"{label}: min {min(values)}, median {statistics.median(values):g}, max {max(values)}"


def test_browser_fingerprints_match_the_server(fp_page) -> None:
    page, requests = fp_page
    distances: dict[str, list[int]] = {"phash": [], "pdq": [], "phash_mirrored": [], "pdq_mirrored": []}
    print()
    for name, data in _cases():
        ref = _reference(data)
        got = page.evaluate(FROM_FILE, [_b64(data), None])
        assert "error" not in got, (name, got)
        upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        assert (got["width"], got["height"]) == upright.size, name
        row = {
            "phash": hamming_hex(got["phash"], ref[(PHASH, False)][0]),
            "pdq": hamming_hex(got["pdq"], ref[(PDQ, False)][0]),
            "phash_mirrored": hamming_hex(got["phash_mirrored"], ref[(PHASH, True)][0]),
            "pdq_mirrored": hamming_hex(got["pdq_mirrored"], ref[(PDQ, True)][0]),
        }
        for key, value in row.items():
            distances[key].append(value)
        print(
            f"  {name:28} {got['ms']:6.0f} ms  pHash {row['phash']} (mirrored {row['phash_mirrored']})  "
            f"PDQ {row['pdq']} (mirrored {row['pdq_mirrored']})  quality {got['pdq_quality']}/{ref[(PDQ, False)][1]}"
        )
        assert len(got["phash"]) == 16 and len(got["phash_mirrored"]) == 16
        assert len(got["pdq"]) == 64 and len(got["pdq_mirrored"]) == 64
        assert row["phash"] <= PHASH_MAX and row["phash_mirrored"] <= PHASH_MAX, (name, row)
        assert row["pdq"] <= PDQ_MAX and row["pdq_mirrored"] <= PDQ_MAX, (name, row)
        assert abs(got["pdq_quality"] - ref[(PDQ, False)][1]) <= 5, name
        assert abs(got["pdq_mirrored_quality"] - ref[(PDQ, True)][1]) <= 5, name
    for key, values in distances.items():
        print("  " + _summary(f"{key} distance", values))
    assert requests == []


def test_lossless_pictures_are_bit_exact(fp_page) -> None:
    """PNG decodes to the same pixels everywhere, and the pipeline replicates Pillow's integer
    arithmetic, so there is nothing left to differ: all four fingerprints and the quality match."""
    page, requests = fp_page
    for seed, size in ((21, (320, 240)), (22, (1500, 1000)), (23, (97, 1311)), (24, (33, 31))):
        data = _encode(scenery(seed, *size), "PNG")
        ref = _reference(data)
        got = page.evaluate(FROM_FILE, [_b64(data), None])
        assert got["phash"] == ref[(PHASH, False)][0], size
        assert got["phash_mirrored"] == ref[(PHASH, True)][0], size
        assert (got["pdq"], got["pdq_quality"]) == ref[(PDQ, False)], size
        assert (got["pdq_mirrored"], got["pdq_mirrored_quality"]) == ref[(PDQ, True)], size
    assert requests == []


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (5, 5),  # the smallest the server hashes
        (32, 32),  # no pHash resize
        (64, 64),  # PDQ's 64x64 shortcut
        (384, 384),  # no PDQ resize
        (14, 1545),  # Pillow resizes vertically first, upscaling the width
        (716, 2184),  # vertically first, both sides shrinking
        (2184, 716),  # horizontally first
        (4000, 25),
    ],
)
def test_port_is_bit_exact_on_raw_pixels(fp_page, width: int, height: int) -> None:
    """Without a decoder in between: raw RGB in, the server's fingerprints out, bit for bit."""
    page, _requests = fp_page
    if min(width, height) >= 8:
        img = scenery(width + height, width, height)
    else:  # scenery needs a few pixels; noise will do
        img = Image.fromarray(np.random.default_rng(width).integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
    ref = _reference(_encode(img, "PNG"))
    got = page.evaluate(FROM_RGBA, [_b64(img.tobytes()), width, height])
    assert got["phash"] == ref[(PHASH, False)][0]
    assert got["phash_mirrored"] == ref[(PHASH, True)][0]
    assert (got["pdq"], got["pdq_quality"]) == ref[(PDQ, False)]
    assert (got["pdq_mirrored"], got["pdq_mirrored_quality"]) == ref[(PDQ, True)]


@pytest.mark.parametrize(
    "pixels",
    [
        np.full((200, 300, 3), 128, np.uint8),  # flat: pHash depends on exact zeros in the DCT
        np.tile(np.linspace(0, 255, 400).astype(np.uint8)[None, :, None], (300, 1, 3)),  # pure gradient
    ],
    ids=["flat", "gradient"],
)
def test_degenerate_pictures_match(fp_page, pixels: np.ndarray) -> None:
    page, _requests = fp_page
    img = Image.fromarray(pixels, "RGB")
    ref = _reference(_encode(img, "PNG"))
    got = page.evaluate(FROM_RGBA, [_b64(img.tobytes()), img.width, img.height])
    assert got["phash"] == ref[(PHASH, False)][0]
    assert (got["pdq"], got["pdq_quality"]) == ref[(PDQ, False)]


def test_refusals(fp_page) -> None:
    page, requests = fp_page
    not_an_image = page.evaluate(FROM_FILE, [_b64(b"<html><body>hello</body></html>"), None])
    assert not_an_image["error"] == "unreadable"
    truncated = page.evaluate(FROM_FILE, [_b64(_encode(scenery(31, 640, 480), "PNG")[:300]), None])
    assert truncated["error"] == "unreadable"
    tiny = page.evaluate(FROM_FILE, [_b64(_encode(Image.new("RGB", (4, 40), "red"), "PNG")), None])
    assert tiny["error"] == "too_small"
    big = page.evaluate(FROM_FILE, [_b64(_encode(scenery(32, 640, 480), "JPEG")), {"maxPixels": 100_000}])
    assert big["error"] == "too_large"
    assert requests == []


def test_request_recorder_sees_requests(fp_page) -> None:
    """The control for the assertions above: a request from the page is recorded."""
    page, requests = fp_page
    page.evaluate("() => fetch('http://127.0.0.1:9/beacon').catch(() => null)")
    assert any(url.endswith("/beacon") for url in requests)


def test_works_under_strict_csp(browser) -> None:
    """Served as the site serves it: a same-origin script under script-src 'self' (no eval, no
    inline script). Requests are answered by Playwright; nothing reaches a network."""
    origin = "https://intake.test"
    csp = "default-src 'none'; script-src 'self'; img-src 'self'; style-src 'self'"
    html = '<!doctype html><html><body><script src="/static/js/fingerprint.js"></script></body></html>'
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60000)

    def serve(route) -> None:
        if route.request.url == f"{origin}/":
            route.fulfill(status=200, content_type="text/html", headers={"Content-Security-Policy": csp}, body=html)
        elif route.request.url == f"{origin}/static/js/fingerprint.js":
            route.fulfill(status=200, content_type="text/javascript", body=SCRIPT.read_text())
        else:
            route.abort()

    context.route("**/*", serve)
    # Injected through DevTools, so the CSP does not stop it: it records every violation.
    context.add_init_script(
        "window.cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.goto(f"{origin}/")
    assert page.evaluate("typeof window.Fingerprint") == "object"
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        data = _encode(scenery(41, 800, 600), "JPEG", quality=85)
        # Under this CSP the page cannot run the test's own script either; evaluate() goes
        # through the DevTools protocol, which CSP does not govern, and only calls the API.
        got = page.evaluate(FROM_FILE, [_b64(data), None])
        ref = _reference(data)
        assert got["phash"] == ref[(PHASH, False)][0]
        assert got["pdq"] == ref[(PDQ, False)][0]
        assert page.evaluate("window.cspViolations") == []
        assert requests == []
    finally:
        context.close()


def test_script_has_no_eval_and_no_network_api() -> None:
    """It runs under script-src 'self' (no eval) and must not be able to send anything itself:
    the intake form sends the hex strings, nothing else."""
    source = SCRIPT.read_text()
    for forbidden in (
        "eval(",
        "Function(",
        "fetch(",
        "XMLHttpRequest",
        "sendBeacon",
        "WebSocket",
        "EventSource",
        "import(",
        "importScripts",
    ):
        assert forbidden not in source, forbidden
