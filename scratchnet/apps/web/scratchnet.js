// scratchnet in the browser: the reference network's forward pass, its "not a digit" detector
// and the preprocessing of a drawing, in plain JavaScript, each part beside the Python it
// mirrors (scratchnet/core/layers.py, apps/openset.py, data/preprocess.py, data/strokes.py,
// data/topology.py).
//
//   await scratchnet.ready                     // the weights (model.bin) are loaded
//   const x = scratchnet.preprocess(imageData) // canvas pixels -> Float32Array(784), 28x28 in [0, 1]
//   scratchnet.predict(x)                      // -> {probabilities, digit, isDigit, digitScore}
//   const {pixels, asDrawn} = scratchnet.views(imageData)   // and as drawn, if the pen was thinned
//   scratchnet.predict(pixels, asDrawn)        // a thinned picture scored by both views
//
// model.bin: a 4-byte little-endian header length, a JSON header {format, version,
// model_version, threshold, shape_features, shifts, views, scales, vote, outlier_networks, crc32, arrays: [{name, shape, offset, dtype}]} padded to 4 bytes,
// then the arrays (float32, or int8 with a float32 scale a column, each 4-byte aligned); crc32 is that of their bytes. Written by `python -m scratchnet.export --web`.
"use strict";
(function () {
  const net = {};            // name -> {shape, data: Float32Array}
  let header = null;

  // ------------------------------------------------------------------ loading the weights
  function crc32(bytes) {
    let c, crc = 0xFFFFFFFF;
    for (let i = 0; i < bytes.length; i++) {
      c = (crc ^ bytes[i]) & 0xFF;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xEDB88320 : c >>> 1;
      crc = (crc >>> 8) ^ c;
    }
    return (crc ^ 0xFFFFFFFF) >>> 0;
  }

  async function load(url) {
    const buffer = await (await fetch(url)).arrayBuffer();
    const length = new DataView(buffer).getUint32(0, true);
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
    if (header.format !== "scratchnet.web" || header.version !== 1) throw new Error("not a scratchnet web model");
    const start = 4 + length + ((4 - (length % 4)) % 4);
    if (crc32(new Uint8Array(buffer, start)) !== header.crc32) throw new Error("model.bin is damaged (checksum)");
    for (const a of header.arrays) {
      const size = a.shape.reduce((p, n) => p * n, 1);
      const Kind = a.dtype === "int8" ? Int8Array : Float32Array;
      net[a.name] = {shape: a.shape, data: new Kind(buffer, start + a.offset, size)};
    }
    // int8 weights and a scale a column (apps/openset.py to_int8): q * scale, exact in float32
    for (const name of Object.keys(net)) {
      const scale = net[name + ".scale"];
      if (!scale) continue;
      const q = net[name].data, s = scale.data, M = s.length, w = new Float32Array(q.length);
      for (let i = 0; i < q.length; i++) w[i] = q[i] * s[i % M];
      net[name] = {shape: net[name].shape, data: w};
    }
  }

  // ------------------------------------------------------------------ the network (layers.py)
  // Conv2D (F filters, K x K, no padding) + ReLU + MaxPool 2x2 on a (C, H, H) input: (F, PH, PH)
  // as in fused.py; `name` names the conv layer: "0" the classifier's, "openset.net.0" and
  // "openset.net.3" the first outlier network's two ("openset.net1.0", ... the second's)
  function convReluPool(x, name) {
    const W = net[name + ".W"], b = net[name + ".b"].data, [F, C, K] = W.shape;
    const H = Math.round(Math.sqrt(x.length / C)), OH = H - K + 1, PH = Math.floor(OH / 2);
    const out = new Float32Array(F * PH * PH), sum = new Float64Array(OH * OH), conv = new Float32Array(OH * OH);
    for (let f = 0; f < F; f++) {
      sum.fill(b[f]);
      for (let c = 0; c < C; c++)                 // one weight times a row of the input at a time:
        for (let u = 0; u < K; u++) for (let v = 0; v < K; v++) {   // the inner loop runs along memory
          const w = W.data[((f * C + c) * K + u) * K + v];
          if (w === 0) continue;
          for (let i = 0; i < OH; i++)
            for (let j = 0, o = i * OH, k = (c * H + i + u) * H + v; j < OH; j++, o++, k++) sum[o] += w * x[k];
        }
      for (let o = 0; o < OH * OH; o++) conv[o] = sum[o] > 0 ? sum[o] : 0;   // ReLU
      for (let i = 0; i < PH; i++) for (let j = 0; j < PH; j++) {        // 2x2 max, stride 2
        const r = 2 * i, c = 2 * j;
        out[(f * PH + i) * PH + j] = Math.max(conv[r * OH + c], conv[r * OH + c + 1],
                                               conv[(r + 1) * OH + c], conv[(r + 1) * OH + c + 1]);
      }
    }
    return out;
  }

  function dense(x, name, relu) {          // x (D) @ W (D, M) + b (M)
    const W = net[name + ".W"].data, b = net[name + ".b"].data, D = x.length, M = b.length;
    const sum = Float64Array.from(b);
    for (let d = 0; d < D; d++) {          // W row by row, in memory order; the zeros that
      const v = x[d];                      // ReLU and pooling leave cost nothing
      if (v === 0) continue;
      for (let m = 0, k = d * M; m < M; m++, k++) sum[m] += v * W[k];
    }
    const out = new Float32Array(M);
    for (let m = 0; m < M; m++) out[m] = relu && sum[m] < 0 ? 0 : sum[m];
    return out;
  }

  function logSumExp(z) {
    const top = Math.max(...z);
    return top + Math.log(z.reduce((s, v) => s + Math.exp(v - top), 0));
  }

  function forward(pixels, prefix) {
    const maps = convReluPool(pixels, prefix + "0");      // (32, 13, 13)
    const hidden = dense(maps, prefix + "4", true);       // Flatten -> Dense(5408, 100) -> ReLU
    const logits = dense(hidden, prefix + "6", false);    // Dense(100, 10)
    return {maps, hidden, logits};
  }

  // the picture and its four copies moved by one pixel (apps/openset.py SHIFTS, shifted): the
  // open-set score is the mean over them; what moves out is dropped, zeros come in
  const SHIFTS = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]];
  function shifted(x, dy, dx) {
    const out = new Float32Array(28 * 28);
    for (let r = Math.max(0, dy); r < Math.min(28, 28 + dy); r++)
      for (let c = Math.max(0, dx); c < Math.min(28, 28 + dx); c++) out[r * 28 + c] = x[(r - dy) * 28 + c - dx];
    return out;
  }

  // the detector's log-odds of "a digit" for one picture (apps/openset.py detector_log_odds):
  // its features are each channel's mean and max, hidden, logits, energy, then the topology
  function detectorLogOdds({maps, hidden, logits}, topology) {
    const F = net["0.W"].shape[0], P = maps.length / F, feats = [];
    for (let f = 0; f < F; f++) { let s = 0; for (let k = 0; k < P; k++) s += maps[f * P + k]; feats.push(s / P); }
    for (let f = 0; f < F; f++) { let m = -Infinity; for (let k = 0; k < P; k++) m = Math.max(m, maps[f * P + k]); feats.push(m); }
    feats.push(...hidden, ...logits, logSumExp(logits), ...topology);
    const mean = net["openset.mean"].data, std = net["openset.std"].data;
    const z = Float32Array.from(feats, (v, i) => (v - mean[i]) / std[i]);
    const out = dense(dense(z, "openset.0", true), "openset.2", false);
    return out[1] - out[0];
  }

  // the outlier networks' weights: "openset.net." the first's, then "openset.net1.", ...
  // (apps/openset.py net_prefix); their count is in the header (web_export.py)
  const netPrefix = k => k === 0 ? "openset.net." : `openset.net${k}.`;

  function outlierLogits(pixels, p) {  // an outlier network (apps/openset.py outlier_network)
    if (!net[p + "3.W"]) return forward(pixels, p).logits;    // (a file from before it: the reference CNN's shape)
    const maps = convReluPool(convReluPool(pixels, p + "0"), p + "3");   // (24, 12, 12), then (32, 5, 5)
    return dense(dense(maps, p + "7", true), p + "9", false);           // Flatten -> Dense(800, 256) -> ReLU -> Dense
  }

  function softmax(z) {
    const lse = logSumExp(z);
    return Array.from(z, v => Math.exp(v - lse));
  }

  // the open-set score of one picture (OpenSet._scores), and the outlier networks' mean softmax
  // over the digits for the picture as it is (or null); `seen` is the network's forward pass of it
  function openSetScore(pixels, seen) {
    const topology = header.shape_features ? shapeFeatures(pixels, 28, 28) : [];   // (the same moved)
    const copies = header.shifts ? SHIFTS.map(([dy, dx]) => shifted(pixels, dy, dx)) : [pixels];
    const networks = header.outlier_networks;
    let detector = 0, more = 0, theirs = null;
    for (const [k, x] of copies.entries()) {
      detector += detectorLogOdds(k === 0 ? seen : forward(x, ""), topology);   // (SHIFTS[0]: not moved)
      for (let n = 0; n < networks; n++) {
        const z = outlierLogits(x, netPrefix(n)), none = z.length - 1;   // log P(a digit) - log P(not a digit)
        more += logSumExp(z.slice(0, none)) - z[none];
        if (k !== 0) continue;
        const p = softmax(z.slice(0, none));
        theirs = theirs ? theirs.map((t, d) => t + p[d]) : p;
      }
    }
    detector /= copies.length;
    if (!networks) return {score: detector, theirs};
    more /= copies.length * networks;
    return {score: detector / header.scales[0] + more / header.scales[1], theirs: theirs.map(t => t / networks)};
  }

  // apps/inference.py Predictor.classify, OpenSet.answer; asDrawn: the picture as drawn (views)
  function predict(pixels, asDrawn = null) {
    const seen = forward(pixels, "");
    const answer = probabilities => ({probabilities, digit: probabilities.indexOf(Math.max(...probabilities))});
    if (!net["openset.mean"]) return {...answer(softmax(seen.logits)), isDigit: true, digitScore: null};
    let {score: digitScore, probabilities} = scoreAndAnswer(pixels, seen);
    if (header.views && asDrawn) {      // thinned: the means of the two views' scores and answers
      const drawn = scoreAndAnswer(asDrawn, forward(asDrawn, ""));
      digitScore = (digitScore + drawn.score) / 2;
      probabilities = probabilities.map((p, d) => (p + drawn.probabilities[d]) / 2);
    }
    return {...answer(probabilities), isDigit: digitScore >= header.threshold, digitScore};
  }

  // OpenSet._scores_and_answer: the open-set score, and the answer's probabilities: the
  // network's softmax, averaged with the outlier network's over its digits if it votes
  function scoreAndAnswer(pixels, seen) {
    const {score, theirs} = openSetScore(pixels, seen);
    let probabilities = softmax(seen.logits);
    if (theirs && header.vote)
      probabilities = probabilities.map((p, d) => (p + theirs[d]) / 2);
    return {score, probabilities};
  }

  // ------------------------------------------------------------------ preprocessing (preprocess.py)
  // Python's round (half to even) and int (toward zero), where the Python rounds
  function pyRound(x) { const f = Math.floor(x), d = x - f; return d > 0.5 ? f + 1 : d < 0.5 ? f : (f % 2 === 0 ? f : f + 1); }

  // An image: {h, w, d: Float32Array(h * w)}
  const image = (h, w, d) => ({h, w, d: d || new Float32Array(h * w)});

  // Pillow's resampling of a float image ("F" mode), as Image.resize computes it: separable
  // filters, coefficients normalised per output pixel, horizontal pass first
  const FILTERS = {
    bilinear: {support: 1, f: x => { x = Math.abs(x); return x < 1 ? 1 - x : 0; }},
    lanczos: {support: 3, f: x => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0)},
  };
  function sinc(x) { if (x === 0) return 1; x *= Math.PI; return Math.sin(x) / x; }

  function coefficients(inSize, outSize, filter) {
    const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = filter.support * filterscale;
    const out = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale, ss = 1 / filterscale;
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      const k = [];
      let ww = 0;
      for (let x = xmin; x < xmax; x++) { const w = filter.f((x - center + 0.5) * ss); k.push(w); ww += w; }
      out.push({xmin, k: ww !== 0 ? k.map(w => w / ww) : k});
    }
    return out;
  }

  function resize(img, w, h, name) {
    const filter = FILTERS[name];
    let src = img;
    if (w !== img.w) {
      const cs = coefficients(img.w, w, filter), out = image(img.h, w);
      for (let y = 0; y < img.h; y++) for (let x = 0; x < w; x++) {
        const k = cs[x].k, base = y * img.w + cs[x].xmin;
        let s = 0;
        for (let i = 0; i < k.length; i++) s += k[i] * img.d[base + i];
        out.d[y * w + x] = s;
      }
      src = out;
    }
    if (h !== src.h) {
      const cs = coefficients(src.h, h, filter), out = image(h, src.w);
      for (let y = 0; y < h; y++) {
        const k = cs[y].k, base = cs[y].xmin;
        for (let x = 0; x < src.w; x++) {
          let s = 0;
          for (let i = 0; i < k.length; i++) s += k[i] * src.d[(base + i) * src.w + x];
          out.d[y * src.w + x] = s;
        }
      }
      src = out;
    }
    return src;
  }

  const WORK_SIZE = 160, DIGIT_BOX = 20, FRAME = 28, NOISE_FLOOR = 0.06, FADES = 8;
  const DOT_REACH = 0.6, DOT_BRIGHT = 0.6, MAX_DOTS = 3;      // preprocess: a pen's dot beside the drawing
  const EDGE_BRIGHT = 0.8, EDGE_PEN = 2.0, EDGE_SPAN = 0.9;  // preprocess: a stroke drawn to the picture's edge
  const EDGE = Math.fround(0.08), FAINT_EDGE = Math.fround(0.04), AREA_SIDE = 0.2, MAX_LINES = 32, TOUCHING = 0.1;   // preprocess: a screenshot's drawing area
  const COLOUR = 0.5, INK_SIDE = 2.0;                        // preprocess: ink told by its colour, the ink's side
  const luma = (r, g, b) => 0.299 * r + 0.587 * g + 0.114 * b;   // preprocess.LUMA (ITU-R 601)

  function shrink(img, size) {                          // preprocess._shrink
    if (Math.max(img.h, img.w) <= size) return img;
    const scale = size / Math.max(img.h, img.w);
    return areaMean(areaMean(img, Math.max(1, pyRound(img.h * scale)), true), Math.max(1, pyRound(img.w * scale)), false);
  }

  // preprocess.area_mean: the mean over n equal windows down the rows (alongRows) or
  // across the columns; float32 at each step, in NumPy's order (a Float32Array rounds as it stores)
  function areaMean(img, n, alongRows) {
    const m = alongRows ? img.h : img.w, lines = alongRows ? img.w : img.h;
    const at = alongRows ? img.w : 1, across = alongRows ? 1 : img.w;        // strides in img
    const out = alongRows ? image(n, lines) : image(lines, n);
    const outAt = alongRows ? lines : 1, outAcross = alongRows ? 1 : n;     // strides in out
    const cut = new Int32Array(n + 1), share = new Float32Array(n + 1);     // share[n]: 0
    for (let j = 0; j <= n; j++) {
      const edge = j * (m / n);
      cut[j] = Math.min(Math.trunc(edge), m - 1);
      if (j < n) share[j] = edge - cut[j];
    }
    const f = Math.fround, ratio = f(n / m), d = img.d, sum = new Float32Array(lines);
    for (let j = 0; j < n; j++) {
      const first = cut[j], end = j === n - 1 ? m : cut[j + 1];
      for (let l = 0; l < lines; l++) sum[l] = d[first * at + l * across];
      for (let i = first + 1; i < end; i++) for (let l = 0; l < lines; l++) sum[l] += d[i * at + l * across];
      for (let l = 0; l < lines; l++) {
        const cuts = f(f(share[j + 1] * d[cut[j + 1] * at + l * across]) - f(share[j] * d[first * at + l * across]));
        out.d[j * outAt + l * outAcross] = f(f(sum[l] + cuts) * ratio);
      }
    }
    return out;
  }

  function border(img) {                                // preprocess._border (corners twice)
    const k = Math.max(1, Math.floor(Math.min(img.h, img.w) / 20)), v = [];
    for (let y = 0; y < k; y++) for (let x = 0; x < img.w; x++) v.push(img.d[y * img.w + x]);
    for (let y = img.h - k; y < img.h; y++) for (let x = 0; x < img.w; x++) v.push(img.d[y * img.w + x]);
    for (let y = 0; y < img.h; y++) for (let x = 0; x < k; x++) v.push(img.d[y * img.w + x]);
    for (let y = 0; y < img.h; y++) for (let x = img.w - k; x < img.w; x++) v.push(img.d[y * img.w + x]);
    return v;
  }

  // preprocess.drawing_area: [top, bottom, left, right) of a screenshot's drawing area in the
  // working-size grey picture, or null
  function drawingArea(g, full = null) {
    const area = areaWithSides(g, full, EDGE);
    if (area || !full || Math.max(full.h, full.w) < FADES * Math.max(g.h, g.w)) return area;
    return areaWithSides(g, full, FAINT_EDGE);          // a screen's light grey page
  }

  function areaWithSides(g, full, edge) {               // preprocess._drawing_area
    const {h, w} = g;
    if (Math.min(h, w) < 48) return null;
    const step = (i, j) => Math.abs(Math.fround(g.d[i] - g.d[j])) > edge;
    // running counts of edges along each line: rows y and y + 2 differ; columns x and x + 2
    const rowCounts = [], colCounts = [];
    for (let y = 0; y < h - 2; y++) {
      const c = new Int32Array(w + 1);
      for (let x = 0; x < w; x++) c[x + 1] = c[x] + step(y * w + x, (y + 2) * w + x);
      rowCounts.push(c);
    }
    for (let x = 0; x < w - 2; x++) {
      const c = new Int32Array(h + 1);
      for (let y = 0; y < h; y++) c[y + 1] = c[y] + step(y * w + x, y * w + x + 2);
      colCounts.push(c);
    }
    const lines = (counts, length) => counts.map((c, i) => {      // preprocess._lines
      let run = 0, longest = 0;
      for (let k = 1; k < c.length; k++) { run = c[k] > c[k - 1] ? run + 1 : 0; longest = Math.max(longest, run); }
      return longest >= length ? i : -1;
    }).filter(i => i >= 0);
    const rows = lines(rowCounts, Math.max(12, AREA_SIDE * w)), cols = lines(colCounts, Math.max(12, AREA_SIDE * h));
    if (!(rows.length >= 2 && rows.length <= MAX_LINES && cols.length >= 2 && cols.length <= MAX_LINES)) return null;
    const share = (counts, line, a, b) => {               // preprocess._shares
      const c = counts[line], n = c.length - 1;
      a = Math.min(Math.max(a, 0), n); b = Math.min(Math.max(b, 0), n);
      return b > a ? (c[b] - c[a]) / (b - a) : 0;
    };
    const side = (counts, line, a, b) =>                  // a side from line a to line b, ending there
      share(counts, line, a + 2, b) >= 0.9 && Math.max(share(counts, line, a - 4, a - 1), share(counts, line, b + 3, b + 6)) < 0.5;
    const found = [];
    for (let i = 0; i < rows.length; i++) for (let i2 = i + 1; i2 < rows.length; i2++) {
      const top = rows[i], bottom = rows[i2];
      if (bottom - top < 16) continue;
      for (let j = 0; j < cols.length; j++) for (let j2 = j + 1; j2 < cols.length; j2++) {
        const left = cols[j], right = cols[j2];
        if (right - left >= 16 && side(rowCounts, top, left, right) && side(rowCounts, bottom, left, right)
            && side(colCounts, left, top, bottom) && side(colCounts, right, top, bottom))
          found.push([(bottom - top) * (right - left), top, bottom, left, right]);
      }
    }
    // smallest first, ties as Python's sort of tuples
    found.sort((p, q) => { for (let k = 0; k < 5; k++) if (p[k] !== q[k]) return p[k] - q[k]; return 0; });
    for (const [, t0, b0, l0, r0] of found) {
      if (found.some(([, t, b, l, r]) => t - t0 >= 4 && b0 - b >= 4 && l - l0 >= 4 && r0 - r >= 4)) continue;
      const top = t0 + 3, bottom = b0, left = l0 + 3, right = r0, inside = crop(g, top, bottom, left, right);
      const ring = [];
      for (let y = 0; y < inside.h; y++) for (let x = 0; x < inside.w; x++)
        if (y < 2 || y >= inside.h - 2) ring.push(inside.d[y * inside.w + x]);
      for (let y = 0; y < inside.h; y++) for (let x = 0; x < inside.w; x++)
        if (x < 2 || x >= inside.w - 2) ring.push(inside.d[y * inside.w + x]);
      const paper = median(ring);
      const plain = ring.filter(v => Math.abs(v - paper) <= 0.25), touching = ring.length - plain.length;
      if (touching > 0) {                                 // drawn up to the sides: a canvas of its own shade only
        const page = pageAround(g, t0, b0, l0, r0);
        if (touching / ring.length >= TOUCHING || page === null || Math.abs(page - paper) <= edge) continue;
      }
      if (percentile(plain, 95) - percentile(plain, 5) < 0.1 && Math.abs(median(inside.d) - paper) < 0.05
          && drawnIn(inside, paper, full, [top, bottom, left, right], Math.max(h, w)))
        return [top, bottom, left, right];
    }
    return null;
  }

  // preprocess._drawn: 3 working px that stand out from the paper, or in the picture before
  // it was shrunk as many px as a line 3 working px long (a 1-px pencil shrunk f times keeps 1/f)
  function drawnIn(inside, paper, full, [top, bottom, left, right], side) {
    let drawn = 0;
    for (const v of inside.d) if (Math.abs(v - paper) > 0.25) drawn++;
    if (drawn >= 3) return true;
    if (!full || Math.max(full.h, full.w) <= side) return false;
    const f = Math.max(full.h, full.w) / side, [y0, y1, x0, x1] = under([top, bottom, left, right], f);
    drawn = 0;                                          // (counted in place: no copy of a 4K canvas)
    for (let y = y0; y < y1; y++)
      for (let x = x0; x < x1; x++) if (Math.abs(full.d[y * full.w + x] - paper) > 0.25) drawn++;
    return drawn >= 3 * f;
  }

  // preprocess._under: [top, bottom, left, right) in the picture shrunk `factor` times to the
  // box's, of the pixels the box covers whole
  const under = ([top, bottom, left, right], factor) =>
    [Math.ceil(top * factor), Math.trunc(bottom * factor), Math.ceil(left * factor), Math.trunc(right * factor)];

  function pageAround(g, top, bottom, left, right) {    // preprocess._page_around
    const {h, w} = g;
    if (top < 5 || left < 5 || bottom + 7 > h || right + 7 > w) return null;
    const v = [];
    for (const [y0, y1] of [[top - 5, top - 2], [bottom + 4, bottom + 7]])
      for (let y = y0; y < y1; y++) for (let x = left; x < right; x++) v.push(g.d[y * w + x]);
    for (const [x0, x1] of [[left - 5, left - 2], [right + 4, right + 7]])
      for (let y = top; y < bottom; y++) for (let x = x0; x < x1; x++) v.push(g.d[y * w + x]);
    return median(v);
  }

  function nth(s, k) {                                  // the k-th smallest of s (reordered in place)
    let lo = 0, hi = s.length - 1;
    while (lo < hi) {
      const pivot = s[(lo + hi) >> 1];
      let i = lo, j = hi;
      while (i <= j) {
        while (s[i] < pivot) i++;
        while (s[j] > pivot) j--;
        if (i <= j) { const t = s[i]; s[i] = s[j]; s[j] = t; i++; j--; }
      }
      if (k <= j) hi = j; else if (k >= i) lo = i; else return s[k];
    }
    return s[k];
  }

  function median(v) {                                  // numpy.median
    const s = Float64Array.from(v), n = s.length;
    if (n % 2) return nth(s, (n - 1) / 2);
    const upper = nth(s, n / 2);
    let lower = -Infinity;                              // the largest below the upper middle
    for (let i = 0; i < n / 2; i++) if (s[i] > lower) lower = s[i];
    return (lower + upper) / 2;
  }

  function percentile(v, q) {                           // numpy's default (linear)
    const s = Float64Array.from(v), pos = (s.length - 1) * q / 100, lo = Math.floor(pos);
    const below = nth(s, lo);
    if (lo + 1 >= s.length) return below;
    let next = Infinity;                                // the smallest above it
    for (let i = lo + 1; i < s.length; i++) if (s[i] < next) next = s[i];
    return below + (next - below) * (pos - lo);
  }

  function otsu(d) {                                    // preprocess.otsu_threshold, 128 bins
    const bins = 128, hist = new Float64Array(bins);
    for (const v of d) hist[Math.min(bins - 1, Math.floor(v * bins))] += 1;
    const n = d.length;
    let w0 = 0, m0 = 0, mt = 0, best = -1, level = 0;
    for (let i = 0; i < bins; i++) mt += (hist[i] / n) * ((i + 0.5) / bins);
    for (let i = 0; i < bins; i++) {
      w0 += hist[i] / n; m0 += (hist[i] / n) * ((i + 0.5) / bins);
      let between = (mt * w0 - m0) ** 2 / (w0 * (1 - w0));
      if (!isFinite(between)) between = 0;
      if (between > best) { best = between; level = (i + 1) / bins; }
    }
    return level;
  }

  function components(mask, h, w) {                     // 8-connected labels (0: none)
    const labels = new Int32Array(h * w), sizes = [0], stack = new Int32Array(h * w);
    let next = 0;
    for (let start = 0; start < h * w; start++) {
      if (!mask[start] || labels[start]) continue;
      next += 1; let size = 0, top = 0;
      stack[top++] = start; labels[start] = next;
      while (top) {
        const p = stack[--top], y = Math.floor(p / w), x = p % w; size++;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx, q = yy * w + xx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w && mask[q] && !labels[q]) { labels[q] = next; stack[top++] = q; }
        }
      }
      sizes.push(size);
    }
    return {labels, sizes};
  }

  function rankFilter(d, h, w, k, op, outside) {        // preprocess.rank_filter, edges repeated
    const r = Math.floor(k / 2), rows = new Float32Array(h * w), out = new Float32Array(h * w);
    const isMax = op === Math.max, line = new Float32Array(Math.max(h, w) + 2 * r);
    const pad = outside !== undefined;                  // (or `outside` there)
    for (let y = 0; y < h; y++) {                       // along rows: the row with its edges repeated
      for (let x = -r; x < w + r; x++) {
        line[x + r] = pad && (x < 0 || x >= w) ? outside : d[y * w + Math.min(w - 1, Math.max(0, x))];
      }
      for (let x = 0; x < w; x++) {
        let m = line[x];
        for (let j = 1; j < k; j++) { const v = line[x + j]; if (isMax ? v > m : v < m) m = v; }
        rows[y * w + x] = m;
      }
    }
    for (let x = 0; x < w; x++) {                       // then along columns
      for (let y = -r; y < h + r; y++) {
        line[y + r] = pad && (y < 0 || y >= h) ? outside : rows[Math.min(h - 1, Math.max(0, y)) * w + x];
      }
      for (let y = 0; y < h; y++) {
        let m = line[y];
        for (let i = 1; i < k; i++) { const v = line[y + i]; if (isMax ? v > m : v < m) m = v; }
        out[y * w + x] = m;
      }
    }
    return out;
  }

  // --- paper, lighting and shadows (preprocess._background and the two estimates it combines)
  function smoothBackground(a) {                       // preprocess._smooth_background, 6x6 blocks
    const {h, w} = a, cut = otsu(a.d);
    const by = Math.min(6, h), bx = Math.min(6, w);
    const edges = (n, parts) => Array.from({length: parts + 1}, (_, i) => (i === parts ? n : Math.trunc(i * (n / parts))));
    const ys = edges(h, by), xs = edges(w, bx);
    const blockOf = (edgeList, v) => { let i = 0; while (i + 1 < edgeList.length && edgeList[i + 1] <= v) i++; return Math.min(i, edgeList.length - 2); };
    const rowBlock = Int32Array.from({length: h}, (_, y) => blockOf(ys, y)), colBlock = Int32Array.from({length: w}, (_, x) => blockOf(xs, x));
    // the paper pixels grouped by block, in one typed array (counting first, then placing)
    const sizes = new Int32Array(by * bx), counts = new Int32Array(by * bx);
    let lowest = Infinity;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const b = rowBlock[y] * bx + colBlock[x], v = a.d[y * w + x];
      sizes[b]++; if (v <= cut) counts[b]++; if (v < lowest) lowest = v;
    }
    const starts = new Int32Array(by * bx + 1);
    for (let b = 0; b < by * bx; b++) starts[b + 1] = starts[b] + counts[b];
    const paper = new Float64Array(starts[by * bx]), fill = starts.slice(0, by * bx);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const v = a.d[y * w + x];
      if (v <= cut) paper[fill[rowBlock[y] * bx + colBlock[x]]++] = v;
    }
    const overall = paper.length ? median(paper) : lowest;
    const grid = image(by, bx, Float32Array.from({length: by * bx}, (_, b) =>
      (counts[b] > 0.2 * sizes[b] ? median(paper.subarray(starts[b], starts[b + 1])) : overall)));
    return resize(grid, w, h, "bilinear");
  }

  function openingBackground(a) {                      // preprocess._opening_background
    const {h, w} = a, step = Math.max(1, Math.floor(Math.min(h, w) / 40));
    const sh = Math.ceil(h / step), sw = Math.ceil(w / step), small = image(sh, sw);
    for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) small.d[y * sw + x] = a.d[y * step * w + x * step];
    const k = Math.max(3, Math.floor(Math.max(sh, sw) / 4) | 1);   // a quarter of the longer side
    let paper = Infinity;                               // paper outside the picture, not its edge
    for (const v of small.d) if (v < paper) paper = v;
    const opened = rankFilter(rankFilter(small.d, sh, sw, k, Math.min, paper), sh, sw, k, Math.max, paper);
    return resize(image(sh, sw, opened), w, h, "bilinear");
  }

  function background(a) {                             // preprocess._background
    const paper = smoothBackground(a);
    if (Math.max(a.h, a.w) < 64) return paper;
    const opened = openingBackground(a), {h, w} = a;
    const raised = opened.d.map((v, i) => (v > paper.d[i] + 0.05 ? 1 : 0));
    if (raised.some(v => v)) {          // raised patches inside, or half as bright as ink, are ink
      const {labels, sizes} = components(raised, h, w), reaching = new Set(border({h, w, d: labels}));
      const height = new Float64Array(sizes.length);
      let ink = -Infinity;
      for (let i = 0; i < h * w; i++) {
        if (raised[i]) height[labels[i]] += opened.d[i] - paper.d[i];
        ink = Math.max(ink, a.d[i] - paper.d[i]);
      }
      const inky = 0.5 * ink;
      for (let i = 0; i < h * w; i++) {
        const l = labels[i];
        if (raised[i] && (!reaching.has(l) || height[l] / sizes[l] >= inky || opened.d[i] - paper.d[i] >= inky)) {
          opened.d[i] = paper.d[i];
        }
      }
    }
    return image(h, w, opened.d.map((v, i) => Math.max(v, paper.d[i])));
  }

  function ink(grey) {                                  // preprocess._ink
    const {h, w} = grey, under = background(grey);
    const a = Float32Array.from(grey.d, (v, i) => Math.max(v - under.d[i], 0));
    let top = 0;
    for (const v of a) top = Math.max(top, v);
    if (top < 0.08) throw new Error("no digit found: the image is blank (no ink stands out)");
    const bright = a.filter(v => v >= Math.fround(0.3 * top));
    const level = h * w > 400 ? percentile(bright, 90) : top;
    const scale = Math.max(level, top * 0.5);
    for (let i = 0; i < a.length; i++) a[i] = Math.min(1, Math.max(0, a[i] / scale));
    const cut = Math.max(otsu(a), 0.15), mask = a.map(v => (v > cut ? 1 : 0));   // 5. ink_mask
    const {labels, sizes} = components(mask, h, w);
    const largest = Math.max(...sizes);
    let keep = new Set(sizes.map((s, id) => id).filter(id => id > 0 && sizes[id] >= Math.max(2, 0.08 * largest)));
    const onBorder = new Set(border({h, w, d: labels}));
    const inner = [...keep].filter(id => !onBorder.has(id));
    if (inner.length) keep = new Set([...inner, ...strokesToEdge(a, labels, [...keep].filter(id => onBorder.has(id)), new Set(inner), h, w)]);
    const kept = labels.map(id => (keep.has(id) ? 1 : 0));
    for (const id of penDots(a, labels, sizes, largest, kept, onBorder, h, w)) labels.forEach((l, i) => { if (l === id) kept[i] = 1; });
    if (kept.reduce((s, v) => s + v, 0) < 3) throw new Error("no digit found: the image is blank (no ink stands out)");
    const near = rankFilter(kept, h, w, 5, Math.max);
    return image(h, w, a.map((v, i) => (near[i] && v > NOISE_FLOOR ? v : 0)));
  }

  function strokesToEdge(a, labels, touching, inner, h, w) {   // preprocess._strokes_to_edge
    if (touching.length === 0) return [];
    const drawing = labels.map(l => (inner.has(l) ? 1 : 0));
    const ink = median(a.filter((v, i) => drawing[i])), pen = penWidth(drawing, h, w);
    return touching.filter(id => {
      const piece = labels.map(l => (l === id ? 1 : 0)), [top, bottom, left, right] = box({h, w, d: piece});
      return median(a.filter((v, i) => piece[i])) >= EDGE_BRIGHT * ink && penWidth(piece, h, w) <= EDGE_PEN * pen
        && bottom - 1 - top < EDGE_SPAN * h && right - 1 - left < EDGE_SPAN * w;   // (numpy.ptp of its rows, columns)
    });
  }

  function penWidth(mask, h, w) {                       // preprocess._pen_width
    const at = (y, x) => (y >= 0 && y < h && x >= 0 && x < w ? mask[y * w + x] : 0);
    let area = 0, edge = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (mask[y * w + x]) {
      area++;
      if (!(at(y - 1, x) && at(y + 1, x) && at(y, x - 1) && at(y, x + 1))) edge++;
    }
    return 2 * area / Math.max(edge, 1);
  }

  function penDots(a, labels, sizes, largest, drawing, onBorder, h, w) {   // preprocess._pen_dots
    const small = sizes.map((s, id) => id).filter(id => id > 0 && sizes[id] < Math.max(2, 0.08 * largest) && !onBorder.has(id));
    if (small.length === 0) return [];
    const pen = penWidth(drawing, h, w);
    const ids = small.filter(id => sizes[id] >= Math.max(2, 0.5 * pen * pen));
    if (ids.length === 0 || ids.length > 4 * MAX_DOTS) return [];
    const [top, bottom, left, right] = box({h, w, d: drawing});
    const reach = DOT_REACH * Math.max(bottom - top, right - left);
    const dots = ids.filter(id => {
      let low_y = h, high_y = -1, low_x = w, high_x = -1, bright = 0;
      labels.forEach((l, i) => {
        if (l !== id) return;
        const y = Math.floor(i / w), x = i % w;
        low_y = Math.min(low_y, y); high_y = Math.max(high_y, y); low_x = Math.min(low_x, x); high_x = Math.max(high_x, x);
        bright = Math.max(bright, a[i]);
      });
      return low_y >= top - reach && high_y < bottom + reach && low_x >= left - reach && high_x < right + reach && bright > DOT_BRIGHT;
    });
    return dots.length > MAX_DOTS ? [] : dots;
  }

  const MIN_DOTS = 6, DOT_LONG = 4.0, DOT_FILL = 4.0, DOT_WIDE = 2.5;

  function joinDots(a) {                                // preprocess.join_dots: a dotted line joined
    const {h, w} = a, mask = a.d.map(v => (v > 0.5 ? 1 : 0));
    const {labels, sizes} = components(mask, h, w);
    if (sizes.length - 1 < MIN_DOTS) return a;
    const boxes = sizes.map(() => [h, -1, w, -1]);      // each piece's rows and columns, first and last
    labels.forEach((id, i) => {
      if (!id) return;
      const b = boxes[id], y = Math.floor(i / w), x = i % w;
      b[0] = Math.min(b[0], y); b[1] = Math.max(b[1], y); b[2] = Math.min(b[2], x); b[3] = Math.max(b[3], x);
    });
    const dots = [], pens = [];
    for (let id = 1; id < sizes.length; id++) {
      const long = Math.max(boxes[id][1] - boxes[id][0], boxes[id][3] - boxes[id][2]) + 1;
      const pen = penWidth(labels.map(l => (l === id ? 1 : 0)), h, w);
      if (long <= DOT_LONG * pen) { dots.push(long); pens.push(pen); }
    }
    if (dots.length < Math.max(MIN_DOTS, (sizes.length - 1) / 2) || median(pens) < DOT_WIDE) return a;   // a broken thin line
    const dot = median(dots), area = mask.reduce((t, v) => t + v, 0);
    const close = r => crop(grow(grow(padTo(a, r), r, Math.max), r, Math.min), r, r + h, r, r + w);
    const inked = img => img.d.map(v => (v > 0.5 ? 1 : 0)), count = m => m.reduce((t, v) => t + v, 0);
    for (let r = 1; r <= Math.ceil(dot); r++) {
      const joined = inked(close(r)), pieces = components(joined, h, w).sizes.slice(1);
      if (pieces.length <= 3 && Math.max(...pieces) >= 0.8 * count(joined)) {
        const closed = close(Math.min(Math.ceil(1.5 * r), Math.ceil(dot))), wider = inked(closed);   // waists
        return count(wider) <= DOT_FILL * area && penWidth(wider, h, w) <= 2 * dot ? closed : a;
      }
    }
    return a;
  }

  function box(img) {                                   // preprocess._box: [top, bottom, left, right)
    let top = img.h, bottom = 0, left = img.w, right = 0;
    for (let y = 0; y < img.h; y++) for (let x = 0; x < img.w; x++) if (img.d[y * img.w + x] > 0) {
      top = Math.min(top, y); bottom = Math.max(bottom, y + 1); left = Math.min(left, x); right = Math.max(right, x + 1);
    }
    return [top, bottom, left, right];
  }

  function crop(img, top, bottom, left, right) {
    const out = image(bottom - top, right - left);
    for (let y = top; y < bottom; y++) for (let x = left; x < right; x++) out.d[(y - top) * out.w + x - left] = img.d[y * img.w + x];
    return out;
  }
  const cropInk = img => crop(img, ...box(img));

  // --- stroke width (strokes.py)
  function neighbours(m, h, w, y, x) {                  // north first, clockwise; 0 outside
    const at = (yy, xx) => (yy >= 0 && yy < h && xx >= 0 && xx < w ? m[yy * w + xx] : 0);
    return [at(y - 1, x), at(y - 1, x + 1), at(y, x + 1), at(y + 1, x + 1), at(y + 1, x), at(y + 1, x - 1), at(y, x - 1), at(y - 1, x - 1)];
  }

  function skeleton(mask, h, w) {                       // strokes.skeleton (Zhang-Suen)
    const W = w + 2, m = new Uint8Array((h + 2) * W);   // a frame of zeros: no bounds to check
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) m[(y + 1) * W + x + 1] = mask[y * w + x];
    const around = [-W, -W + 1, 1, W + 1, W, W - 1, -1, -W - 1];   // north first, clockwise
    const P = new Uint8Array(8), peel = new Int32Array(h * w);
    for (let changed = true; changed;) {
      changed = false;
      for (const sweep of [0, 1]) {
        let n = 0;
        for (let y = 1; y <= h; y++) for (let q = y * W + 1, end = q + w; q < end; q++) {
          if (!m[q]) continue;
          let count = 0, steps = 0;
          for (let i = 0; i < 8; i++) { P[i] = m[q + around[i]]; count += P[i]; }
          if (count < 2 || count > 6) continue;
          for (let i = 0; i < 8; i++) if (P[i] === 0 && P[(i + 1) & 7] === 1) steps++;
          const facing = sweep === 0 ? P[0] * P[2] * P[4] === 0 && P[2] * P[4] * P[6] === 0
                                     : P[0] * P[2] * P[6] === 0 && P[0] * P[4] * P[6] === 0;
          if (steps === 1 && facing) peel[n++] = q;
        }
        for (let i = 0; i < n; i++) m[peel[i]] = 0;
        if (n) changed = true;
      }
    }
    const out = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = m[(y + 1) * W + x + 1];
    return out;
  }

  function strokeWidth(mask, h, w) {                    // strokes.stroke_width: [width, open ends]
    const area = mask.reduce((s, v) => s + v, 0);
    if (area === 0) return [0, 0];
    const s = skeleton(mask, h, w), at = (y, x) => (y >= 0 && y < h && x >= 0 && x < w ? s[y * w + x] : 0);
    let length = 0, ends = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      if (!s[y * w + x]) continue;
      const east = at(y, x + 1), south = at(y + 1, x);
      length += east + south + Math.SQRT2 * (at(y + 1, x + 1) * (1 - east) * (1 - south)
                                           + at(y + 1, x - 1) * (1 - at(y, x - 1)) * (1 - south));
      if (neighbours(s, h, w, y, x).reduce((t, v) => t + v, 0) === 1) ends++;
    }
    if (length < 1) return [Math.sqrt(area), ends];
    if (ends === 0) return [area / length, ends];
    return [(Math.sqrt(length * length + 2 * ends * area) - length) / ends, ends];
  }

  // --- how the drawing is put together (topology.py): pieces, holes, ends, junctions, length,
  // area, height, width of the ink (x > 0.5)
  function shapeFeatures(x, h, w) {
    const mask = Uint8Array.from(x, v => (v > 0.5 ? 1 : 0));
    const area = mask.reduce((s, v) => s + v, 0);
    if (area === 0) return [0, 0, 0, 0, 0, 0, 0, 0];
    const [top, bottom, left, right] = box({d: mask, h, w});
    const pieces = components(mask, h, w).sizes.length - 1;
    const at = (y, c) => (y >= 0 && y < h && c >= 0 && c < w ? mask[y * w + c] : 0);
    let q1 = 0, q3 = 0, qd = 0;                         // Gray's bit quads: the Euler number
    for (let y = -1; y < h; y++) for (let c = -1; c < w; c++) {
      const a = at(y, c), b = at(y, c + 1), d = at(y + 1, c), e = at(y + 1, c + 1), s = a + b + d + e;
      if (s === 1) q1++; else if (s === 3) q3++; else if (s === 2 && a === e) qd++;
    }
    const euler = Math.floor((q1 - q3 - 2 * qd) / 4);
    const s = skeleton(mask, h, w);
    let ends = 0, junctions = 0, length = 0;
    for (let y = 0; y < h; y++) for (let c = 0; c < w; c++) {
      if (!s[y * w + c]) continue;
      length++;
      const n = neighbours(s, h, w, y, c).reduce((t, v) => t + v, 0);
      if (n === 1) ends++; else if (n >= 3) junctions++;
    }
    return [pieces, pieces - euler, ends, junctions, length, area, bottom - top, right - left];
  }

  function grow(img, r, op) {                           // strokes._grow: an octagon of radius r
    let d = img.d;
    const {h, w} = img;
    for (let step = 0; step < r; step++) {
      const out = new Float32Array(h * w);
      for (let y = 0; y < h; y++) {
        const up = Math.max(0, y - 1) * w, here = y * w, down = Math.min(h - 1, y + 1) * w;
        for (let x = 0; x < w; x++) {
          const left = Math.max(0, x - 1), right = Math.min(w - 1, x + 1);
          let v = op(d[here + x], d[up + x], d[down + x], d[here + left], d[here + right]);
          if (step % 2 === 1) v = op(v, d[up + left], d[up + right], d[down + left], d[down + right]);
          out[here + x] = v;
        }
      }
      d = out;
    }
    return image(h, w, d);
  }

  const TARGET = 2.2, LOW = 1.0, HIGH = 4.0, MAX_ENDS = 12, BROKEN_ENDS = 36, FAINT = 0.25, MAX_SOFT = 0.6;

  function padTo(img, r) {                              // r px of zeros around
    const padded = image(img.h + 2 * r, img.w + 2 * r);
    for (let y = 0; y < img.h; y++) for (let x = 0; x < img.w; x++) padded.d[(y + r) * padded.w + x + r] = img.d[y * img.w + x];
    return padded;
  }

  function normaliseWidth(img) {                        // strokes.normalise_width, final box 20 px
    let top = 0;
    for (const v of img.d) top = Math.max(top, v);
    let mask = img.d.map(v => (v > 0.5 * top ? 1 : 0));
    let [width, ends] = strokeWidth(mask, img.h, img.w);
    if (ends > MAX_ENDS) {                              // a faded thin line is whole at a quarter
      const faint = img.d.map(v => (v > FAINT * top ? 1 : 0)), measured = strokeWidth(faint, img.h, img.w);
      if (measured[1] <= MAX_ENDS) [mask, width, ends] = [faint, ...measured];
    }
    const area = mask.reduce((s, v) => s + v, 0);
    if (ends > BROKEN_ENDS) return img;                 // speckle
    if (ends > MAX_ENDS) {                              // speckle, unless a 1-px dilation joins it
      const joined = grow(padTo(image(img.h, img.w, Float32Array.from(mask)), 1), 1, Math.max);
      if (strokeWidth(joined.d.map(v => (v > 0.5 ? 1 : 0)), joined.h, joined.w)[1] > MAX_ENDS) return img;
    }
    const size = Math.max(img.h, img.w), final = width * DIGIT_BOX / size;
    if (final >= LOW && final <= HIGH) return img;
    const target = final < LOW ? TARGET : Math.min(HIGH, Math.max(TARGET, final / 2));   // strokes.target_width
    const d = (target * size - DIGIT_BOX * width) / (DIGIT_BOX - target);
    let r = pyRound(d / 2);
    if (r < 0) r = Math.max(r, -Math.floor((width - 1) / 2));
    const after = (width + 2 * r) * DIGIT_BOX / (size + 2 * r);
    if (r === 0 || Math.abs(after - target) > Math.abs(final - target) / 2) return img;
    if (r > 0) return grow(padTo(img, r), r, Math.max);  // strokes.dilate: room to grow, then grow
    let ink = 0, soft = 0;                              // a blurred picture is not thinned
    for (const v of img.d) if (v > 0.05 * top) { ink++; if (v > 0.1 * top && v < 0.9 * top) soft++; }
    if (soft > MAX_SOFT * ink) return img;
    const thinner = grow(img, -r, Math.min);
    const kept = thinner.d.reduce((s, v) => s + (v > 0.5 * top ? 1 : 0), 0) / area;
    return kept >= 0.5 * (width + 2 * r) / width ? thinner : img;
  }

  function centerByMass(digit) {                        // preprocess.center_by_mass
    const {h, w} = digit;
    let total = 0, cy = 0, cx = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const v = digit.d[y * w + x]; total += v; cy += v * y; cx += v * x; }
    const top = Math.trunc(Math.min(Math.max(pyRound(FRAME / 2 - cy / total), 0), FRAME - h));
    const left = Math.trunc(Math.min(Math.max(pyRound(FRAME / 2 - cx / total), 0), FRAME - w));
    const out = new Float32Array(FRAME * FRAME);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(top + y) * FRAME + left + x] = digit.d[y * w + x];
    return out;
  }

  // ImageData (RGBA) -> Float32Array(784): the 28x28 input the network sees (preprocess.to_mnist)
  function preprocess(imageData) {
    return views(imageData).pixels;
  }

  // preprocess._colour_ink: the luma, or, for ink the luma hardly tells from the paper, each
  // pixel's distance from the paper's colour (the border's median), ink bright
  function colourInk(data, full) {
    const {h, w} = full, step = Math.ceil(Math.max(h, w) / WORK_SIZE);   // at most WORK_SIZE px a side
    const sh = Math.ceil(h / step), sw = Math.ceil(w / step), at = i => (Math.floor(i / sw) * w + i % sw) * step;
    const rgb = [0, 1, 2].map(c => image(sh, sw, Float32Array.from({length: sh * sw}, (_, i) => data[4 * at(i) + c] / 255)));
    const paper = rgb.map(channel => median(border(channel)));
    const distance = (r, g, b) => Math.hypot(r - paper[0], g - paper[1], b - paper[2]) / Math.sqrt(3);
    const paperLuma = luma(...paper);
    const colourContrast = percentile(rgb[0].d.map((r, i) => distance(r, rgb[1].d[i], rgb[2].d[i])), 99.9);
    const lumaContrast = percentile(rgb[0].d.map((_, i) => Math.abs(full.d[at(i)] - paperLuma)), 99.9);
    if (lumaContrast >= COLOUR * colourContrast) return full;
    return image(h, w, Float32Array.from({length: h * w}, (_, i) =>
      distance(data[4 * i] / 255, data[4 * i + 1] / 255, data[4 * i + 2] / 255)));
  }

  function darkInk(grey) {                              // preprocess.dark_ink: step 3
    const paper = median(border(grey)), darker = paper - percentile(grey.d, 0.1);
    const lighter = percentile(grey.d, 99.9) - paper;
    if (Math.max(darker, lighter) > Math.max(INK_SIDE * Math.min(darker, lighter), 0.05)) return darker > lighter;
    return paper > 0.5;
  }

  // ImageData -> {pixels, asDrawn}: the input, and the picture as drawn (without step 6) if
  // that step thinned the strokes, else null (preprocess.to_mnist_views)
  function views(imageData) {
    const {width, height, data} = imageData;
    let full = image(height, width), opaque = true;
    for (let i = 0; i < width * height; i++) {          // 1. grey (ITU-R 601), alpha onto white
      const a = data[4 * i + 3] / 255;
      const g = luma(data[4 * i], data[4 * i + 1], data[4 * i + 2]) / 255;
      full.d[i] = g * a + (1 - a);
      opaque = opaque && a > 0.99;
    }
    if (opaque) full = colourInk(data, full);
    let grey = shrink(full, WORK_SIZE);                 // 2. working size
    const area = drawingArea(grey, full);
    if (area) {                                         // a screenshot: the canvas alone
      full = crop(full, ...under(area, Math.max(full.h, full.w) / Math.max(grey.h, grey.w)));
      grey = shrink(full, WORK_SIZE);
    }
    if (darkInk(grey)) {                                // 3. dark ink on light paper
      grey = image(grey.h, grey.w, grey.d.map(v => 1 - v));
      full = image(full.h, full.w, full.d.map(v => 1 - v));
    }
    const factor = Math.max(full.h, full.w) / Math.max(grey.h, grey.w);   // how many times it was shrunk
    let a;                                              // 4-5. the ink
    try {
      a = ink(grey);
    } catch (err) {                                     // a 1-px line shrunk into the paper: widened, again
      if (factor < FADES) throw err;
      full = image(full.h, full.w, rankFilter(full.d, full.h, full.w, 2 * Math.ceil(factor / FADES) + 1, Math.max));
      grey = shrink(full, WORK_SIZE);
      a = ink(grey);
    }
    const [top, bottom, left, right] = box(a), side = Math.max(bottom - top, right - left);
    if (factor > 1.5 && side < WORK_SIZE / 2) {         // a small digit: again, at full resolution
      const margin = Math.floor(side / 2) + 2, at = v => Math.max(0, Math.trunc(v * factor));
      a = ink(shrink(crop(full, at(top - margin), Math.min(full.h, at(bottom + margin)),
                          at(left - margin), Math.min(full.w, at(right + margin))), WORK_SIZE));
    }
    const drawn = cropInk(joinDots(a)), normalised = normaliseWidth(drawn);   // 5. dots joined; 6. pen width
    const sum = img => img.d.reduce((s, v) => s + v, 0);
    const pixels = place(cropInk(normalised));
    return {pixels, asDrawn: sum(normalised) < sum(drawn) ? place(drawn) : null};   // (thickening adds ink)
  }

  function place(c) {                                   // preprocess._place: steps 7-8
    const scale = DIGIT_BOX / Math.max(c.h, c.w);       // 7. longer side -> 20 px
    const digit = resize(c, Math.max(1, pyRound(c.w * scale)), Math.max(1, pyRound(c.h * scale)),
                         scale < 1 ? "lanczos" : "bilinear");
    let most = 1e-6;
    for (let i = 0; i < digit.d.length; i++) { digit.d[i] = Math.max(digit.d[i], 0); most = Math.max(most, digit.d[i]); }
    for (let i = 0; i < digit.d.length; i++) digit.d[i] = Math.min(1, digit.d[i] / most);
    return centerByMass(digit);                         // 8. centre of mass at the centre
  }

  const script = document.currentScript;
  const modelUrl = (script && script.dataset.model) || "model.bin";
  window.scratchnet = {predict, preprocess, views, header: () => header, ready: null, load,
                       parts: {resize, shrink, areaMean, drawingArea, background, ink, normaliseWidth, strokeWidth, skeleton, otsu, image,
                               box, crop, cropInk, centerByMass}};
  if (!(script && script.dataset.manual)) window.scratchnet.ready = load(modelUrl);
})();
