// Image fingerprints computed in the browser, so that a picture never has to leave the device.
//
// window.Fingerprint.fromFile(file) resolves to the same four fingerprints the server computes in
// hashing/image.py (fingerprint_image): pHash as imagehash computes it (64 bits, 16 hex digits),
// PDQ as Meta's reference / the pdqhash package computes it (256 bits, 64 hex digits in the
// ThreatExchange format, plus its quality 0-100), and both again for the horizontally mirrored
// picture. Only those hex strings are meant to be sent; the pixels stay in this page's memory.
//
// Plain JavaScript, no dependencies, no eval: it runs under a strict Content-Security-Policy.
// It makes no network request. docs/intake-fingerprints.md explains every step and measures the
// distance to the server's hashes; tests/browser/test_fingerprint_js.py checks it.
//
// The pixel pipeline replicates Pillow's, step for step and in the same integer arithmetic:
//   decode (createImageBitmap, EXIF orientation applied, no colour management, alpha on white)
//   pHash: luma as Image.convert("L"), LANCZOS resize to 32x32 (Pillow's resampler, ported),
//          2-D DCT-II as scipy.fftpack.dct, top-left 8x8 against their median
//   PDQ:   BILINEAR resize of RGB to pdq_input_size (Pillow's resampler again), float luma,
//          Jarosz box filter and decimation to 64x64, 16x16 DCT, Torben median, quality
//          (a port of Meta's C++ in single-precision arithmetic, as pdqhash runs it)
// So where the decoder gives the same pixels as Pillow's, the hashes are the server's bit for bit.
(function (root) {
  "use strict";

  var PHASH_SIDE = 32; // imagehash.phash: hash_size 8 * highfreq_factor 4
  var PDQ_SIDE = 384; // hashing.image.PDQ_SIDE: each side longer than this is scaled to it
  var MIN_SIDE = 5; // hashing.image.MIN_SIDE (and Meta's MIN_HASHABLE_DIM)
  var MAX_PIXELS = 100000000; // EVIDENCE_MAX_PIXELS on the server
  var STRIP_PIXELS = 1 << 22; // pixels read back from the canvas at a time (16 MiB of RGBA)
  var PRECISION_BITS = 32 - 8 - 2; // Pillow's Resample.c fixed point
  var fround = Math.fround;

  function FingerprintError(code, message) {
    var error = new Error(message);
    error.name = "FingerprintError";
    error.code = code; // unsupported | unreadable | too_small | too_large | canvas_blocked
    return error;
  }

  // -------------------------------------------------------------------------------------------
  // Pillow's resampler (libImaging/Resample.c): separable convolution, coefficients in fixed
  // point, each pass rounded and clipped to 8 bits. Ported exactly, so the thumbnails match.

  function sinc(x) {
    if (x === 0) { return 1; }
    x = x * Math.PI;
    return Math.sin(x) / x;
  }
  var LANCZOS = {
    support: 3,
    filter: function (x) { return (-3 <= x && x < 3) ? sinc(x) * sinc(x / 3) : 0; },
  };
  var BILINEAR = {
    support: 1,
    filter: function (x) {
      if (x < 0) { x = -x; }
      return x < 1 ? 1 - x : 0;
    },
  };

  // precompute_coeffs + normalize_coeffs_8bpc for a resize of one axis from inSize to outSize.
  function axisCoefficients(inSize, outSize, filter) {
    var scale = inSize / outSize;
    var filterscale = scale < 1 ? 1 : scale;
    var support = filter.support * filterscale;
    var ksize = Math.ceil(support) * 2 + 1;
    var bounds = new Int32Array(outSize * 2);
    var kk = new Float64Array(outSize * ksize); // integers, exact in a double
    var weights = new Float64Array(ksize);
    var ss = 1 / filterscale;
    for (var xx = 0; xx < outSize; xx++) {
      var center = (xx + 0.5) * scale;
      var xmin = Math.trunc(center - support + 0.5);
      if (xmin < 0) { xmin = 0; }
      var xmax = Math.trunc(center + support + 0.5);
      if (xmax > inSize) { xmax = inSize; }
      xmax -= xmin;
      var ww = 0;
      var x;
      for (x = 0; x < xmax; x++) {
        var w = filter.filter((x + xmin - center + 0.5) * ss);
        weights[x] = w;
        ww += w;
      }
      for (x = 0; x < xmax; x++) {
        var k = ww !== 0 ? weights[x] / ww : weights[x];
        kk[xx * ksize + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
      }
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
    return { inSize: inSize, outSize: outSize, ksize: ksize, bounds: bounds, kk: kk, identity: inSize === outSize };
  }

  var ROUNDING = 1 << (PRECISION_BITS - 1);
  var CLIP_HIGH = 1 << PRECISION_BITS << 8;
  function clip8(v) {
    if (v >= CLIP_HIGH) { return 255; }
    if (v <= 0) { return 0; }
    return v >> PRECISION_BITS;
  }

  // One line of `channels` interleaved 8-bit channels: src[srcAt + i * srcStep + c] for input
  // pixel i, written to dst[dstAt + o * dstStep + c] for output pixel o.
  function resampleLine(axis, channels, src, srcAt, srcStep, dst, dstAt, dstStep) {
    var kk = axis.kk, bounds = axis.bounds, ksize = axis.ksize;
    for (var o = 0; o < axis.outSize; o++) {
      var xmin = bounds[o * 2], xmax = bounds[o * 2 + 1], kAt = o * ksize;
      for (var c = 0; c < channels; c++) {
        var ss = ROUNDING;
        var at = srcAt + xmin * srcStep + c;
        for (var x = 0; x < xmax; x++) {
          ss += src[at] * kk[kAt + x];
          at += srcStep;
        }
        dst[dstAt + o * dstStep + c] = clip8(ss);
      }
    }
  }

  // Image.resize(size, filter) of an image fed one row at a time, as ImagingResample computes it:
  // two separable passes, each rounded to 8 bits. Pillow 13 runs the vertical pass first when
  // the height shrinks and by more than twice what the width shrinks (PR #9549; measured here on
  // 400 random sizes: in > out and in_h - out_h > 2 (in_w - out_w)), the horizontal pass first
  // otherwise. The order changes a few thumbnail pixels by one level, so it is followed. Either
  // way the full-size image is never stored: the horizontal pass reduces each row as it arrives,
  // and the vertical-first order accumulates each row into the output rows it contributes to.
  function Resizer(width, height, outWidth, outHeight, filter, channels) {
    this.channels = channels;
    this.width = width;
    this.x = axisCoefficients(width, outWidth, filter);
    this.y = axisCoefficients(height, outHeight, filter);
    this.verticalFirst = !this.x.identity && !this.y.identity && height > outHeight && height - outHeight > 2 * (width - outWidth);
    if (this.verticalFirst) {
      // Output rows each input row contributes to, with its fixed-point weight.
      this.contributions = [];
      for (var r = 0; r < height; r++) { this.contributions.push([]); }
      for (var o = 0; o < outHeight; o++) {
        var ymin = this.y.bounds[o * 2], ymax = this.y.bounds[o * 2 + 1];
        for (var i = 0; i < ymax; i++) { this.contributions[ymin + i].push(o, this.y.kk[o * this.y.ksize + i]); }
      }
      // Integer sums as in the C code (int); they stay far below 2^31.
      this.sums = new Int32Array(outHeight * width * channels).fill(ROUNDING);
    } else {
      this.rows = new Uint8Array(height * outWidth * channels); // after the horizontal pass
    }
  }

  // Input row y: channel c of pixel i is src[at + i * step + c].
  Resizer.prototype.addRow = function (y, src, at, step) {
    var channels = this.channels, i, c;
    if (this.verticalFirst) {
      var list = this.contributions[y], width = this.width, sums = this.sums;
      for (var j = 0; j < list.length; j += 2) {
        var k = list[j + 1], base = list[j] * width * channels;
        for (i = 0; i < width; i++) {
          for (c = 0; c < channels; c++) { sums[base + i * channels + c] += src[at + i * step + c] * k; }
        }
      }
      return;
    }
    var outWidth = this.x.outSize, rowAt = y * outWidth * channels;
    if (this.x.identity) {
      for (i = 0; i < outWidth; i++) {
        for (c = 0; c < channels; c++) { this.rows[rowAt + i * channels + c] = src[at + i * step + c]; }
      }
    } else {
      resampleLine(this.x, channels, src, at, step, this.rows, rowAt, channels);
    }
  };

  Resizer.prototype.finish = function () {
    var channels = this.channels, outWidth = this.x.outSize, outHeight = this.y.outSize;
    var rowLength = outWidth * channels, col;
    var out = new Uint8Array(outHeight * rowLength);
    if (this.verticalFirst) {
      var inRow = this.width * channels;
      var temp = new Uint8Array(this.sums.length);
      for (var i = 0; i < temp.length; i++) { temp[i] = clip8(this.sums[i]); }
      for (var o = 0; o < outHeight; o++) {
        resampleLine(this.x, channels, temp, o * inRow, channels, out, o * rowLength, channels);
      }
    } else if (this.y.identity) {
      out.set(this.rows);
    } else {
      for (col = 0; col < outWidth; col++) {
        resampleLine(this.y, channels, this.rows, col * channels, rowLength, out, col * channels, rowLength);
      }
    }
    return out;
  };

  // -------------------------------------------------------------------------------------------
  // pHash, as imagehash.phash: scipy.fftpack.dct (type II, unnormalised) along axis 0, then
  // axis 1; the 8x8 lowest frequencies compared with their median (numpy's: mean of the middle two).

  var PHASH_COS = (function () {
    var table = new Float64Array(8 * PHASH_SIDE);
    for (var k = 0; k < 8; k++) {
      for (var n = 0; n < PHASH_SIDE; n++) {
        table[k * PHASH_SIDE + n] = Math.cos((Math.PI * k * (2 * n + 1)) / (2 * PHASH_SIDE));
      }
    }
    return table;
  })();

  // A coefficient this small relative to its line is a zero lost in rounding. scipy's FFT-based
  // DCT returns exact zeros for flat or symmetric lines (flat images, pure gradients), and the
  // median comparison then depends on them being zero, so they are snapped to zero here.
  var DCT_ZERO = 1e-9;

  // 2 * sum(x[n] cos(pi k (2n + 1) / 2N)) for k < 8 of one line of 32 values.
  function dctLow(src, at, step, dst, dstAt, dstStep) {
    var magnitude = 0, n;
    for (n = 0; n < PHASH_SIDE; n++) { magnitude += Math.abs(src[at + n * step]); }
    for (var k = 0; k < 8; k++) {
      var sum = 0;
      for (n = 0; n < PHASH_SIDE; n++) { sum += src[at + n * step] * PHASH_COS[k * PHASH_SIDE + n]; }
      dst[dstAt + k * dstStep] = Math.abs(sum) <= DCT_ZERO * magnitude ? 0 : 2 * sum;
    }
  }

  function phashHex(pixels) { // 32x32 Uint8Array, row-major
    var N = PHASH_SIDE, k;
    var cols = new Float64Array(8 * N); // dct along axis 0 (down each column), low 8 rows
    for (var col = 0; col < N; col++) { dctLow(pixels, col, N, cols, col, N); }
    var low = new Float64Array(64); // then along axis 1, low 8 columns
    for (k = 0; k < 8; k++) { dctLow(cols, k * N, 1, low, k * 8, 1); }
    var sorted = Float64Array.from(low).sort();
    var median = (sorted[31] + sorted[32]) / 2;
    var hex = "";
    for (var nibble = 0; nibble < 16; nibble++) {
      var v = 0;
      for (var b = 0; b < 4; b++) { v = (v << 1) | (low[nibble * 4 + b] > median ? 1 : 0); }
      hex += v.toString(16);
    }
    return hex;
  }

  function mirrorRows(pixels, width, height) {
    var out = new pixels.constructor(pixels.length);
    for (var y = 0; y < height; y++) {
      var at = y * width;
      for (var x = 0; x < width; x++) { out[at + x] = pixels[at + width - 1 - x]; }
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // PDQ: Meta's pdq/cpp/hashing/pdqhashing.cpp and downscaling.cpp, in float32 arithmetic
  // (Math.fround after every operation, as the C++ computes in float).

  function jaroszWindow(oldDimension, newDimension) {
    return Math.floor((oldDimension + 2 * newDimension - 1) / (2 * newDimension));
  }

  function box1D(input, output, start, length, stride, windowSize) {
    var half = Math.floor((windowSize + 2) / 2);
    var phase1 = half - 1;
    var phase2 = windowSize - half + 1;
    var phase3 = length - windowSize;
    var phase4 = half - 1;
    var li = start, ri = start, oi = start;
    var sum = 0, current = 0, i;
    for (i = 0; i < phase1; i++) {
      sum = fround(sum + input[ri]);
      current++;
      ri += stride;
    }
    for (i = 0; i < phase2; i++) {
      sum = fround(sum + input[ri]);
      current++;
      output[oi] = sum / current;
      ri += stride;
      oi += stride;
    }
    for (i = 0; i < phase3; i++) {
      sum = fround(sum + input[ri]);
      sum = fround(sum - input[li]);
      output[oi] = sum / current;
      li += stride;
      ri += stride;
      oi += stride;
    }
    for (i = 0; i < phase4; i++) {
      sum = fround(sum - input[li]);
      current--;
      output[oi] = sum / current;
      li += stride;
      oi += stride;
    }
  }

  var PDQ_DCT = (function () { // 16 x 64, row-major
    var matrix = new Float32Array(16 * 64);
    var scaleFactor = fround(Math.sqrt(2 / 64));
    for (var i = 0; i < 16; i++) {
      for (var j = 0; j < 64; j++) {
        matrix[i * 64 + j] = scaleFactor * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
      }
    }
    return matrix;
  })();

  // luma: Float32Array of rows x cols (it is overwritten by the blur).
  function pdqFromLuma(luma, rows, cols) {
    var buffer64 = new Float32Array(64 * 64);
    var i, j, k;
    if (rows === 64 && cols === 64) {
      buffer64.set(luma);
    } else {
      var scratch = new Float32Array(rows * cols);
      var alongRows = jaroszWindow(cols, 64);
      var alongCols = jaroszWindow(rows, 64);
      for (var pass = 0; pass < 2; pass++) {
        for (i = 0; i < rows; i++) { box1D(luma, scratch, i * cols, cols, 1, alongRows); }
        for (j = 0; j < cols; j++) { box1D(scratch, luma, j, rows, cols, alongCols); }
      }
      for (i = 0; i < 64; i++) {
        var ini = Math.trunc(((i + 0.5) * rows) / 64);
        for (j = 0; j < 64; j++) {
          var inj = Math.trunc(((j + 0.5) * cols) / 64);
          buffer64[i * 64 + j] = luma[ini * cols + inj];
        }
      }
    }

    // Quality: significant gradients of the 64x64 image (pdqImageDomainQualityMetric).
    var gradientSum = 0, d;
    for (i = 0; i < 63; i++) {
      for (j = 0; j < 64; j++) {
        d = Math.trunc(fround(fround(fround(buffer64[i * 64 + j] - buffer64[(i + 1) * 64 + j]) * 100) / 255));
        gradientSum += Math.abs(d);
      }
    }
    for (i = 0; i < 64; i++) {
      for (j = 0; j < 63; j++) {
        d = Math.trunc(fround(fround(fround(buffer64[i * 64 + j] - buffer64[i * 64 + j + 1]) * 100) / 255));
        gradientSum += Math.abs(d);
      }
    }
    var quality = Math.min(100, Math.floor(gradientSum / 90));

    // dct64To16: B = D A D^T, accumulated in the C++ order.
    var T = new Float32Array(16 * 64);
    var B = new Float32Array(256);
    var sum;
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 64; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) { sum = fround(sum + fround(PDQ_DCT[i * 64 + k] * buffer64[k * 64 + j])); }
        T[i * 64 + j] = sum;
      }
    }
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 16; j++) {
        sum = 0;
        for (k = 0; k < 64; k++) { sum = fround(sum + fround(T[i * 64 + k] * PDQ_DCT[j * 64 + k])); }
        B[i * 16 + j] = sum;
      }
    }

    // Torben's median of 256 values is the 128th smallest. Bit k = 16 i + j is set when B[i][j]
    // exceeds it; Hash256 keeps bit k in word k >> 4 and prints words 15..0, four hex digits each.
    var median = Float32Array.from(B).sort()[127];
    var hex = "";
    for (i = 15; i >= 0; i--) {
      var word = 0;
      for (j = 0; j < 16; j++) {
        if (B[i * 16 + j] > median) { word |= 1 << j; }
      }
      hex += (word + 0x10000).toString(16).slice(1);
    }
    return { hex: hex, quality: quality };
  }

  // pdqhash.compute: luma = R*0.299 + G*0.587 + B*0.114 in float64 (numpy), stored as float32.
  function pdqLuma(rgb, count) {
    var luma = new Float32Array(count);
    for (var p = 0, q = 0; p < count; p++, q += 3) {
      luma[p] = rgb[q] * 0.299 + rgb[q + 1] * 0.587 + rgb[q + 2] * 0.114;
    }
    return luma;
  }

  // -------------------------------------------------------------------------------------------
  // The pipeline. The picture's rows arrive a strip at a time (RGBA, alpha already composited on
  // white) and go straight into the two resizers, so the full-size picture is never copied: only
  // the decoded bitmap, one strip of it and the small intermediate images are in memory.

  function pdqInputSize(width, height) {
    return [Math.min(width, PDQ_SIDE), Math.min(height, PDQ_SIDE)];
  }

  function Hasher(width, height) {
    this.width = width;
    this.height = height;
    var pdqSize = pdqInputSize(width, height);
    this.pdqWidth = pdqSize[0];
    this.pdqHeight = pdqSize[1];
    // pHash: Image.convert("L") then resize((32, 32), LANCZOS), as imagehash.phash.
    this.thumb = new Resizer(width, height, PHASH_SIDE, PHASH_SIDE, LANCZOS, 1);
    // PDQ: the RGB image resized with BILINEAR to pdq_input_size, as hashing.image._pdq_input.
    this.small = new Resizer(width, height, this.pdqWidth, this.pdqHeight, BILINEAR, 3);
    this.grayLine = new Uint8Array(width);
    this.row = 0;
  }

  // rgba: Uint8ClampedArray / Uint8Array of `rows` full rows, alpha ignored (already composited).
  Hasher.prototype.addRows = function (rgba, rows) {
    var width = this.width, gray = this.grayLine;
    for (var r = 0; r < rows; r++, this.row++) {
      var at = r * width * 4;
      for (var x = 0, p = at; x < width; x++, p += 4) {
        // Pillow's rgb2l: L24 fixed point, exactly ImagingConvert "RGB" -> "L".
        gray[x] = (rgba[p] * 19595 + rgba[p + 1] * 38470 + rgba[p + 2] * 7471 + 0x8000) >>> 16;
      }
      this.thumb.addRow(this.row, gray, 0, 1);
      this.small.addRow(this.row, rgba, at, 4);
    }
  };

  Hasher.prototype.finish = function () {
    if (this.row !== this.height) { throw new Error("Fingerprint: " + this.row + " of " + this.height + " rows were read"); }
    var thumb = this.thumb.finish();
    var small = this.small.finish();
    var w = this.pdqWidth, h = this.pdqHeight;
    var luma = pdqLuma(small, w * h);
    var mirroredLuma = mirrorRows(luma, w, h); // before pdqFromLuma overwrites luma
    var pdq = pdqFromLuma(luma, h, w);
    var pdqMirrored = pdqFromLuma(mirroredLuma, h, w);
    return {
      phash: phashHex(thumb),
      pdq: pdq.hex,
      pdq_quality: pdq.quality,
      phash_mirrored: phashHex(mirrorRows(thumb, PHASH_SIDE, PHASH_SIDE)),
      pdq_mirrored: pdqMirrored.hex,
      pdq_mirrored_quality: pdqMirrored.quality,
      width: this.width,
      height: this.height,
    };
  };

  // Fingerprints of raw RGBA pixels (alpha must already be composited): for tests and workers.
  function fromRGBA(rgba, width, height) {
    checkSize(width, height, MAX_PIXELS);
    var hasher = new Hasher(width, height);
    hasher.addRows(rgba, height);
    return hasher.finish();
  }

  function checkSize(width, height, maxPixels) {
    if (Math.min(width, height) < MIN_SIDE) {
      throw FingerprintError("too_small", "the image is " + width + "x" + height + " pixels; at least " + MIN_SIDE + " are needed on each side");
    }
    if (width * height > maxPixels) {
      throw FingerprintError("too_large", "the image is " + width + "x" + height + " pixels; at most " + maxPixels + " are allowed");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Decoding and reading pixels back.

  function makeCanvas(width, height) {
    if (typeof OffscreenCanvas !== "undefined") { return new OffscreenCanvas(width, height); }
    if (typeof document !== "undefined") {
      var canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      return canvas;
    }
    throw FingerprintError("unsupported", "this browser has no canvas to read pixels from");
  }

  function context2d(canvas) {
    // alpha: false makes the canvas opaque, so what is drawn on its white background is read
    // back as is (no premultiplied-alpha round trip); willReadFrequently keeps it in memory.
    var ctx = canvas.getContext("2d", { alpha: false, willReadFrequently: true });
    if (!ctx) { throw FingerprintError("unsupported", "this browser cannot draw the image"); }
    ctx.imageSmoothingEnabled = false;
    return ctx;
  }

  // Some browsers perturb or blank canvas read-back against fingerprinting (Tor Browser, Firefox
  // with resistFingerprinting, Brave, Safari's private browsing). Draw a known pattern and read
  // it back: returns the largest difference seen (0 when pixels are read faithfully).
  var readbackCheck = null;
  function checkReadback() {
    if (readbackCheck !== null) { return readbackCheck; }
    var size = 16;
    var ctx = context2d(makeCanvas(size, size));
    var pattern = ctx.createImageData(size, size);
    for (var i = 0; i < size * size; i++) {
      pattern.data[i * 4] = (i * 37) & 255;
      pattern.data[i * 4 + 1] = (i * 91 + 50) & 255;
      pattern.data[i * 4 + 2] = (i * 13 + 200) & 255;
      pattern.data[i * 4 + 3] = 255;
    }
    ctx.putImageData(pattern, 0, 0);
    var back = ctx.getImageData(0, 0, size, size).data;
    var worst = 0;
    for (var j = 0; j < back.length; j++) {
      worst = Math.max(worst, Math.abs(back[j] - pattern.data[j]));
    }
    readbackCheck = worst;
    return worst;
  }

  function nextTask() {
    return new Promise(function (resolve) { setTimeout(resolve, 0); });
  }

  async function decode(blob) {
    if (typeof createImageBitmap !== "function") {
      throw FingerprintError("unsupported", "this browser cannot decode images for fingerprinting");
    }
    // EXIF orientation applied (as ImageOps.exif_transpose); no colour-profile conversion,
    // because Pillow ignores embedded profiles too. Browsers that reject an option get the next
    // attempt with fewer (both are today's defaults for orientation in current browsers).
    var attempts = [
      { imageOrientation: "from-image", colorSpaceConversion: "none" },
      { imageOrientation: "from-image" },
      undefined,
    ];
    var lastError = null;
    for (var i = 0; i < attempts.length; i++) {
      try {
        return await (attempts[i] ? createImageBitmap(blob, attempts[i]) : createImageBitmap(blob));
      } catch (error) {
        lastError = error;
        if (!(error instanceof TypeError)) { break; } // a decoding failure, not an unknown option
      }
    }
    throw FingerprintError("unreadable", "this file could not be read as an image (" + (lastError && lastError.message) + ")");
  }

  async function fromFile(file, options) {
    var maxPixels = (options && options.maxPixels) || MAX_PIXELS;
    if (!(file instanceof Blob)) { throw new TypeError("Fingerprint.fromFile expects a File or Blob"); }
    var bitmap = await decode(file);
    try {
      var width = bitmap.width, height = bitmap.height;
      checkSize(width, height, maxPixels);
      var altered = checkReadback();
      if (altered > 8) {
        throw FingerprintError("canvas_blocked", "this browser blocks reading image pixels (anti-fingerprinting protection)");
      }
      var hasher = new Hasher(width, height);
      var stripRows = Math.max(1, Math.min(height, Math.floor(STRIP_PIXELS / width)));
      var ctx = context2d(makeCanvas(width, stripRows));
      for (var y = 0; y < height; y += stripRows) {
        var rows = Math.min(stripRows, height - y);
        ctx.fillStyle = "#ffffff"; // transparent pixels count as white, as on the server
        ctx.fillRect(0, 0, width, rows);
        ctx.drawImage(bitmap, 0, y, width, rows, 0, 0, width, rows);
        hasher.addRows(ctx.getImageData(0, 0, width, rows).data, rows);
        if (y + rows < height) { await nextTask(); } // keep the page responsive
      }
      var result = hasher.finish();
      result.readback_exact = altered === 0;
      return result;
    } finally {
      if (bitmap.close) { bitmap.close(); }
    }
  }

  root.Fingerprint = {
    fromFile: fromFile,
    fromRGBA: fromRGBA,
    pdqInputSize: pdqInputSize,
    PHASH_SIDE: PHASH_SIDE,
    PDQ_SIDE: PDQ_SIDE,
  };
})(typeof window !== "undefined" ? window : globalThis);
