// The aekit explorer page: reads the JSON document in #aekit-data and shows each panel.
// Vanilla JavaScript, no dependency, no network. Panels are registered by kind in RENDERERS;
// a kind this page does not know is listed and skipped. Every panel exposes state() so that
// the browser test can read back what the page computed (window.aekitExplorer).
"use strict";
(function () {
  const T0 = performance.now();

  // ------------------------------------------------------------------ arrays
  function halfToFloat(h) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    if (e === 0) return s * f * Math.pow(2, -24);
    if (e === 31) return f ? NaN : s * Infinity;
    return s * (1 + f / 1024) * Math.pow(2, e - 15);
  }
  let HALF = null;  // the 65536 float16 values, built on first use
  function decodeArray(a) {
    const bin = atob(a.b64), n = bin.length, bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = bin.charCodeAt(i);
    let data;
    if (a.dtype === "float32") data = new Float32Array(bytes.buffer);
    else if (a.dtype === "int32") data = new Int32Array(bytes.buffer);
    else if (a.dtype === "uint8") data = bytes;
    else if (a.dtype === "float16") {
      if (!HALF) { HALF = new Float32Array(65536); for (let i = 0; i < 65536; i++) HALF[i] = halfToFloat(i); }
      const h = new Uint16Array(bytes.buffer);
      data = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) data[i] = HALF[h[i]];
    } else throw new Error("unknown dtype " + a.dtype);
    return { data: data, shape: a.shape };
  }
  function isArray(o) { return o && typeof o === "object" && typeof o.b64 === "string" && o.dtype && o.shape; }
  function decodeAll(o) {
    if (Array.isArray(o)) return o.map(decodeAll);
    if (o && typeof o === "object") {
      if (isArray(o)) return decodeArray(o);
      const out = {};
      for (const k of Object.keys(o)) out[k] = decodeAll(o[k]);
      return out;
    }
    return o;
  }
  function row(t, i) { const w = t.shape[1]; return t.data.subarray(i * w, (i + 1) * w); }

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }
  function canvasEl(w, h, cls) {
    const c = el("canvas", { class: cls, width: Math.round(w), height: Math.round(h) });
    c.style.width = Math.round(w) + "px"; c.style.height = Math.round(h) + "px";
    return c;
  }
  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return (+v.toPrecision(4)).toString();
  }
  const tooltip = () => document.getElementById("tooltip");
  function showTooltip(x, y, content) {
    const t = tooltip();
    t.replaceChildren(...content);
    t.hidden = false;
    const w = t.offsetWidth, h = t.offsetHeight;
    t.style.left = Math.min(window.innerWidth - w - 8, x + 14) + "px";
    t.style.top = Math.max(4, Math.min(window.innerHeight - h - 8, y + 14)) + "px";
  }
  function hideTooltip() { tooltip().hidden = true; }
  function eventPos(ev, canvas) {  // in the canvas's own pixels (inside its border)
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left - canvas.clientLeft) * canvas.width / canvas.clientWidth,
            (ev.clientY - r.top - canvas.clientTop) * canvas.height / canvas.clientHeight];
  }

  // ------------------------------------------------------------------ colours
  const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                   [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  function viridis(t) {
    t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i, a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + [0, 1, 2].map(c => Math.round(a[c] + f * (b[c] - a[c]))).join(",") + ")";
  }
  // gray (lo..hi clipped) or diverging blue-white-red (symmetric around 0)
  function paintPixels(canvas, values, shape, opts) {
    const [h, w] = shape, ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h);
    let lo = opts && opts.lo, hi = opts && opts.hi;
    const diverging = opts && opts.diverging;
    if (lo === undefined || hi === undefined) {
      lo = Infinity; hi = -Infinity;
      for (let i = 0; i < values.length; i++) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
    }
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1, span = hi > lo ? hi - lo : 1;
    for (let i = 0; i < w * h; i++) {
      const v = values[i];
      let r, g, b;
      if (diverging) {
        const t = Math.max(-1, Math.min(1, v / m));
        if (t >= 0) { r = 255; g = b = Math.round(255 * (1 - t)); } else { b = 255; r = g = Math.round(255 * (1 + t)); }
      } else { r = g = b = Math.round(255 * Math.max(0, Math.min(1, (v - lo) / span))); }
      img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
    }
    const small = document.createElement("canvas");
    small.width = w; small.height = h;
    small.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }
  function pixelCanvas(shape, size, values, opts) {
    const s = Math.max(1, Math.round(size / Math.max(shape[0], shape[1])));
    const c = canvasEl(shape[1] * s, shape[0] * s, "pixels");
    if (values) paintPixels(c, values, shape, opts);
    return c;
  }

  // ------------------------------------------------------------------ datasets
  class Datasets {
    constructor(entries) {
      this.entries = entries || {};
      for (const d of Object.values(this.entries)) {
        d.index = new Map();
        const rows = d.rows.data;
        for (let i = 0; i < rows.length; i++) d.index.set(rows[i], i);
      }
    }
    get(key) { return key === null || key === undefined ? null : this.entries[key] || null; }
    label(key, r) { const d = this.get(key); if (!d || !d.labels) return null; const i = d.index.get(r); return i === undefined ? null : d.labels.data[i]; }
    labelText(key, r) {
      const d = this.get(key), v = this.label(key, r);
      if (v === null) return null;
      if (d.label_kind === "class") return d.label_names ? d.label_names[v] : String(v);
      return fmt(v);
    }
    image(key, r) { const d = this.get(key); if (!d || !d.images) return null; const i = d.index.get(r); return i === undefined ? null : row(d.images, i); }
    values(key, r) { const d = this.get(key); if (!d || !d.values) return null; const i = d.index.get(r); return i === undefined ? null : row(d.values, i); }
    thumb(key, r, size) {
      const d = this.get(key), img = this.image(key, r);
      return img ? pixelCanvas(d.image_shape, size, img, { lo: 0, hi: 255 }) : null;
    }
    // rows that are tokens of a text: {tokens: [...], position} (the row's own token), and as an element
    context(key, r) {
      const d = this.get(key); if (!d || !d.contexts) return null;
      const i = d.index.get(r); return i === undefined ? null : { tokens: d.contexts.tokens[i], position: d.contexts.position.data[i] };
    }
    contextEl(key, r) {
      const c = this.context(key, r); if (!c) return null;
      return el("span", { class: "context", "data-row": r }, ...c.tokens.map((t, i) => (i === c.position ? el("mark", { text: t }) : document.createTextNode(t))));
    }
    // what stands for a row wherever the page shows one: its image, else its text context, else null
    preview(key, r, size) { return this.thumb(key, r, size) || this.contextEl(key, r); }
  }

  // A selection of dataset rows shared by every panel that shows that dataset (linked brushing).
  class Selections {
    constructor() { this.sets = new Map(); this.listeners = new Map(); }
    get(key) { return this.sets.get(key) || null; }
    set(key, rows, source) {
      this.sets.set(key, rows && rows.size ? rows : null);
      for (const fn of this.listeners.get(key) || []) fn(this.get(key), source);
    }
    listen(key, fn) { if (!this.listeners.has(key)) this.listeners.set(key, []); this.listeners.get(key).push(fn); }
  }

  // ------------------------------------------------------------------ the MLP forward pass
  // Activations by the names of aekit.autoencoders.ACTIVATIONS, evaluated in float64.
  const SELU_A = 1.6732632423543772, SELU_S = 1.0507009873554805;
  function erf(x) {  // Taylor series below 3, asymptotic series of erfc above: |error| < 3e-8
    const ax = Math.abs(x);
    if (ax < 3) {
      let term = x, sum = x;
      for (let n = 1; n < 80; n++) { term *= -x * x / n; const t = term / (2 * n + 1); sum += t; if (Math.abs(t) < 1e-17) break; }
      return 2 / Math.sqrt(Math.PI) * sum;
    }
    const x2 = x * x; let term = 1, s = 1;
    for (let n = 1; n < 8; n++) { term *= -(2 * n - 1) / (2 * x2); s += term; }
    const erfc = Math.exp(-x2) / (ax * Math.sqrt(Math.PI)) * s;
    return x > 0 ? 1 - erfc : erfc - 1;
  }
  const ACTIVATIONS = {
    sigmoid: z => 1 / (1 + Math.exp(-z)),
    tanh: Math.tanh,
    relu: z => (z > 0 ? z : 0),
    linear: z => z,
    identity: z => z,
    softplus: z => (z > 20 ? z : Math.log1p(Math.exp(z))),
    leaky_relu: z => (z >= 0 ? z : 0.01 * z),
    elu: z => (z > 0 ? z : Math.expm1(z)),
    selu: z => SELU_S * (z > 0 ? z : SELU_A * Math.expm1(z)),
    gelu: z => 0.5 * z * (1 + erf(z / Math.SQRT2)),
    silu: z => z / (1 + Math.exp(-z)),
    softsign: z => z / (1 + Math.abs(z)),
  };
  // Their derivatives f'(z), for the local filter of deep code units (backpropagation through the encoder).
  const DERIVATIVES = {
    sigmoid: z => { const s = 1 / (1 + Math.exp(-z)); return s * (1 - s); },
    tanh: z => { const t = Math.tanh(z); return 1 - t * t; },
    relu: z => (z > 0 ? 1 : 0),
    linear: () => 1,
    identity: () => 1,
    softplus: z => (z > 20 ? 1 : 1 / (1 + Math.exp(-z))),
    leaky_relu: z => (z >= 0 ? 1 : 0.01),
    elu: z => (z > 0 ? 1 : Math.exp(z)),
    selu: z => SELU_S * (z > 0 ? 1 : SELU_A * Math.exp(z)),
    gelu: z => 0.5 * (1 + erf(z / Math.SQRT2)) + z * Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI),
    silu: z => { const s = 1 / (1 + Math.exp(-z)); return s * (1 + z * (1 - s)); },
    softsign: z => { const a = 1 + Math.abs(z); return 1 / (a * a); },
  };
  function topkIndices(k, z) { return Array.from(z.keys()).sort((a, b) => z[b] - z[a]).slice(0, Math.min(k, z.length)); }
  function derivative(act, z) {
    const out = new Float64Array(z.length);
    if (act.name === "topk") { for (const i of topkIndices(act.k, z)) out[i] = 1; return out; }
    const f = DERIVATIVES[act.name];
    for (let i = 0; i < z.length; i++) out[i] = f(z[i]);
    return out;
  }
  function activate(act, z) {
    if (act.name === "topk") {
      const out = new Float64Array(z.length);
      for (const i of topkIndices(act.k, z)) out[i] = z[i];
      return out;
    }
    const f = ACTIVATIONS[act.name];
    if (!f) throw new Error("activation " + act.name + " is not known to this page");
    const out = new Float64Array(z.length);
    for (let i = 0; i < z.length; i++) out[i] = f(z[i]);
    return out;
  }
  class MLP {
    constructor(panel) {
      const make = (l, enc) => {
        const L = { b: l.bias.data, act: l.activation, offset: l.offset ? l.offset.data : null };
        if (l.weight) { L.W = l.weight.data; L.out = l.weight.shape[0]; L.in = l.weight.shape[1]; L.transposed = false; }
        else { const E = enc[l.transpose_of]; L.W = E.W; L.out = E.in; L.in = E.out; L.transposed = true; }
        return L;
      };
      this.encoder = [];
      for (const l of panel.encoder) this.encoder.push(make(l, this.encoder));
      this.decoder = panel.decoder.map(l => make(l, this.encoder));
      this.d = this.encoder[0].in;
      this.m = this.encoder[this.encoder.length - 1].out;
    }
    static affine(L, a) {
      const z = new Float64Array(L.out), W = L.W, n = L.in;
      if (L.offset) { const c = L.offset; const b = new Float64Array(n); for (let j = 0; j < n; j++) b[j] = a[j] - c[j]; a = b; }
      if (L.transposed) {  // W is the (in, out) encoder weight: z_i = sum_j W[j, i] a_j; zero inputs skipped
        for (let j = 0; j < n; j++) { const aj = a[j]; if (aj === 0) continue; const r = j * L.out; for (let i = 0; i < L.out; i++) z[i] += W[r + i] * aj; }
      } else {
        for (let i = 0; i < L.out; i++) { let s = 0; const r = i * n; for (let j = 0; j < n; j++) s += W[r + j] * a[j]; z[i] = s; }
      }
      for (let i = 0; i < L.out; i++) z[i] += L.b[i];
      return z;
    }
    run(layers, a) { for (const L of layers) a = activate(L.act, MLP.affine(L, a)); return a; }
    encode(x) { return this.run(this.encoder, Float64Array.from(x)); }
    decode(h) { return this.run(this.decoder, Float64Array.from(h)); }
    // pre-activation of the code layer (for the preferred input of first-layer codes)
    firstWeightRow(j) { const L = this.encoder[0]; return L.W.subarray(j * L.in, (j + 1) * L.in); }
    // The local filter of code unit j at input x: the gradient of its pre-activation z_j with respect to x,
    // W_1^T D_1 W_2^T D_2 ... W_n^T e_j (D_l = f_l'(z_l)), so that z_j(x + dx) ≈ z_j(x) + filter · dx.
    // For a first-layer code it is the unit's weight row, whatever x.
    localFilter(x, j) {
      const zs = []; let a = Float64Array.from(x);
      for (const L of this.encoder) { const z = MLP.affine(L, a); zs.push(z); a = activate(L.act, z); }
      let g = new Float64Array(this.m); g[j] = 1;
      for (let l = this.encoder.length - 1; l >= 0; l--) {
        const L = this.encoder[l], W = L.W, ga = new Float64Array(L.in);
        for (let i = 0; i < L.out; i++) {
          const gi = g[i]; if (gi === 0) continue;
          if (L.transposed) for (let k = 0; k < L.in; k++) ga[k] += W[k * L.out + i] * gi;
          else { const r = i * L.in; for (let k = 0; k < L.in; k++) ga[k] += W[r + k] * gi; }
        }
        if (l > 0) { const dz = derivative(this.encoder[l - 1].act, zs[l - 1]); for (let k = 0; k < L.in; k++) ga[k] *= dz[k]; }
        g = ga;
      }
      return g;
    }
  }

  // ------------------------------------------------------------------ corruption (as aekit.datasets)
  function mulberry32(seed) {
    return function () {
      seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  class Noise {  // one fixed random draw per seed, so that the corruption stays put while one draws
    constructor(d, seed) {
      const rand = mulberry32(seed);
      this.keys = new Float64Array(d); this.eps = new Float64Array(d); this.coin = new Uint8Array(d);
      for (let i = 0; i < d; i++) {
        this.keys[i] = rand();
        const u1 = Math.max(rand(), 1e-300), u2 = rand();
        this.eps[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
        this.coin[i] = rand() < 0.5 ? 1 : 0;
      }
      this.order = Array.from(this.keys.keys()).sort((a, b) => this.keys[b] - this.keys[a]);
    }
    // (x_tilde, mask): masking and salt-and-pepper corrupt round(level * d) entries (halves up),
    // salt-and-pepper sets them to the sample's min or max, Gaussian adds level * N(0, 1).
    apply(x, kind, level) {
      const d = x.length, out = Float32Array.from(x), mask = new Uint8Array(d);
      if (kind === "gaussian") { if (level > 0) for (let i = 0; i < d; i++) { out[i] = x[i] + level * this.eps[i]; mask[i] = 1; } return { x: out, mask: mask }; }
      if (kind === "none") return { x: out, mask: mask };
      if (kind !== "masking" && kind !== "salt_and_pepper") throw new Error("corruption " + JSON.stringify(kind) + " is not known to this page");
      const k = Math.min(d, Math.floor(level * d + 0.5));
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < d; i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
      for (let r = 0; r < k; r++) { const i = this.order[r]; mask[i] = 1; out[i] = kind === "masking" ? 0 : (this.coin[i] ? hi : lo); }
      return { x: out, mask: mask };
    }
  }

  // ------------------------------------------------------------------ autoencoder panel
  class AutoencoderPanel {
    constructor(p, ctx, body) {
      this.p = p; this.ctx = ctx; this.mlp = new MLP(p);
      this.shape = p.image_shape; this.d = this.mlp.d; this.m = this.mlp.m;
      [this.lo, this.hi] = p.input_range;
      const [h, w] = this.shape;
      this.cell = Math.max(4, Math.round(280 / Math.max(h, w)));
      this.base = new Float32Array(this.d).fill(this.lo);
      this.noiseSeed = 1; this.noise = new Noise(this.d, this.noiseSeed);
      this.noiseKind = p.corruption ? p.corruption.kind : "none";
      this.noiseLevel = p.corruption ? p.corruption.level : 0.25;
      this.selected = 0; this.mode = "units"; this.sliderUnits = [];
      this.build(body);
      if (p.samples && p.samples.rows.data.length) { this.pick(0); this.samplesBox.firstChild.classList.add("on"); } else this.clear();
      let best = 0; for (let j = 0; j < this.m; j++) if (this.code[j] > this.code[best]) best = j;
      this.selected = best; this.drawCode(); this.resetWalk();
    }
    build(body) {
      const [h, w] = this.shape, view = 140;
      if (this.ctx.precision === "float16" && [...this.mlp.encoder, ...this.mlp.decoder].some(L => L.act.name === "topk"))
        body.append(el("p", { class: "note", text: "weights in float16: the k units kept can differ from the model's for inputs whose k-th and (k+1)-th units are within rounding of each other; write the page without --float16 for exact top-k" }));
      // drawing
      this.draw = canvasEl(w * this.cell, h * this.cell, "draw");
      this.ink = document.createElement("canvas"); this.ink.width = this.draw.width; this.ink.height = this.draw.height;
      this.brush = el("input", { type: "range", min: 0.5, max: 4, step: 0.1, value: 1.6, "aria-label": "brush width in image pixels" });
      this.centre = el("input", { type: "checkbox", checked: true });
      this.centre.addEventListener("change", () => this.update());
      const samples = this.samplesBox = el("div", { class: "samples" });
      if (this.p.samples) {
        const s = this.p.samples;
        for (let i = 0; i < s.rows.data.length; i++) {
          const c = pixelCanvas(this.shape, 34, row(s.inputs, i), { lo: this.lo, hi: this.hi });
          c.title = "row " + s.rows.data[i] + (this.ctx.data.labelText(s.dataset, s.rows.data[i]) !== null ? ", label " + this.ctx.data.labelText(s.dataset, s.rows.data[i]) : "");
          c.addEventListener("click", () => { this.pick(i); samples.querySelectorAll("canvas").forEach(x => x.classList.remove("on")); c.classList.add("on"); });
          samples.append(c);
        }
      }
      this.bindDrawing();
      const drawBox = el("div", { class: "box" },
        el("h3", { text: "draw (mouse) or pick an image" }), this.draw,
        el("div", { class: "toolbar" }, el("button", { text: "clear", onclick: () => this.clear() }),
          el("label", {}, "brush", this.brush), el("label", { title: "shift the drawing's centre of mass to the middle" }, this.centre, "centre")),
        this.p.samples ? el("div", { class: "caption", text: this.p.samples.held_out ? "images not seen in training:" : "training images:" }) : null,
        samples);
      // views
      this.inputView = pixelCanvas(this.shape, view);
      this.noisyView = pixelCanvas(this.shape, view);
      this.reconView = pixelCanvas(this.shape, view);
      this.kindSel = el("select", { "aria-label": "noise kind" }, ...["none", "masking", "gaussian", "salt_and_pepper"].map(k => el("option", { value: k, text: k.replace(/_/g, " ") })));
      this.kindSel.value = this.noiseKind;
      const maxLevel = this.noiseKind === "gaussian" ? Math.max(1, 2 * this.noiseLevel) : 0.95;
      this.levelIn = el("input", { type: "range", min: 0, max: maxLevel, step: 0.01, value: this.noiseLevel, "aria-label": "noise level" });
      this.levelOut = el("output", { text: fmt(this.noiseLevel) });
      this.kindSel.addEventListener("change", () => { this.noiseKind = this.kindSel.value; this.levelIn.max = this.noiseKind === "gaussian" ? Math.max(1, 2 * this.noiseLevel) : 0.95; this.update(); });
      this.levelIn.addEventListener("input", () => { this.noiseLevel = +this.levelIn.value; this.levelOut.textContent = fmt(this.noiseLevel); this.update(); });
      const C = this.p.corruption, what = C ? C.kind.replace(/_/g, " ") + " " + fmt(C.level) : null;
      const model = !C ? "the model was trained without corruption" : !C.source || C.source === "training" ?
        "the model was trained with " + what : "the model's " + C.source + " used " + what;
      const views = el("div", { class: "row" },
        el("div", { class: "box" }, el("h3", { text: "input" }), this.inputView, el("span", { class: "caption", text: h + " x " + w + " pixels" })),
        el("div", { class: "box" }, el("h3", { text: "corrupted input" }), this.noisyView,
          el("div", { class: "toolbar" }, this.kindSel), el("div", { class: "toolbar" }, this.levelIn, this.levelOut),
          el("button", { text: "new noise", onclick: () => { this.noise = new Noise(this.d, ++this.noiseSeed); this.update(); } }),
          el("span", { class: "caption", text: model })),
        el("div", { class: "box" }, el("h3", { text: "reconstruction" }), this.reconView, this.reconCaption = el("span", { class: "caption" })));
      // code
      this.codeCanvas = canvasEl(Math.min(900, Math.max(300, this.m * 6)), 120, "plot");
      this.codeCanvas.addEventListener("click", ev => { const [x] = eventPos(ev, this.codeCanvas); this.select(Math.min(this.m - 1, Math.max(0, Math.floor(x / this.codeCanvas.width * this.m)))); });
      this.codeCanvas.addEventListener("mousemove", ev => {
        const [x] = eventPos(ev, this.codeCanvas), j = Math.min(this.m - 1, Math.max(0, Math.floor(x / this.codeCanvas.width * this.m)));
        showTooltip(ev.clientX, ev.clientY, [el("div", { text: "unit " + j + ": " + fmt(this.code[j]) })]);
      });
      this.codeCanvas.addEventListener("mouseleave", hideTooltip);
      this.chips = el("div", { class: "chips" });
      this.codeCaption = el("div", { class: "caption" });
      const code = el("div", { class: "box" }, el("h3", { text: "code: " + this.m + " units (click a bar or a unit to inspect it)" }), this.codeCanvas, this.codeCaption, this.chips);
      // walk
      this.sliderBox = el("div", { class: "sliders" });
      this.walkView = pixelCanvas(this.shape, view);
      const modeSel = el("select", { "aria-label": "walk mode" }, el("option", { value: "units", text: "the most active units" }),
        this.p.directions ? el("option", { value: "directions", text: "principal directions of the codes" }) : null);
      modeSel.addEventListener("change", () => { this.mode = modeSel.value; this.resetWalk(); });
      const walk = el("div", { class: "box" }, el("h3", { text: "walk the code space" }),
        el("div", { class: "toolbar" }, el("label", {}, "sliders on", modeSel), el("button", { text: "reset to the input's code", onclick: () => this.resetWalk() })),
        el("div", { class: "row" }, this.sliderBox, el("div", { class: "box" }, this.walkView, el("span", { class: "caption", text: "decoded from the sliders' code" }))));
      // unit
      this.unitBox = el("div", { class: "row" });
      this.unitNote = el("p", { class: "note unit-note" });
      this.unitNote.hidden = this.p.first_layer_code;
      const unit = el("div", { class: "box" }, this.unitTitle = el("h3"), this.unitNote, this.unitBox);
      body.append(el("div", { class: "row" }, drawBox, el("div", { class: "box" }, views, code)), el("div", { class: "row" }, walk, unit));
    }
    bindDrawing() {
      const c = this.draw, ink = this.ink.getContext("2d");
      let last = null;
      const stroke = (p) => {
        ink.strokeStyle = "#fff"; ink.fillStyle = "#fff"; ink.lineCap = "round"; ink.lineJoin = "round";
        ink.lineWidth = +this.brush.value * this.cell;
        ink.beginPath();
        if (last) { ink.moveTo(last[0], last[1]); ink.lineTo(p[0], p[1]); ink.stroke(); }
        else { ink.arc(p[0], p[1], ink.lineWidth / 2, 0, 2 * Math.PI); ink.fill(); }
        last = p;
        this.update();
      };
      c.addEventListener("pointerdown", ev => { ev.preventDefault(); last = null; this.drawing = true; stroke(eventPos(ev, c)); });
      c.addEventListener("pointermove", ev => { if (this.drawing) stroke(eventPos(ev, c)); });
      window.addEventListener("pointerup", () => { this.drawing = false; last = null; });
    }
    clear() {
      this.ink.getContext("2d").clearRect(0, 0, this.ink.width, this.ink.height);
      this.base = new Float32Array(this.d).fill(this.lo);
      this.update();
    }
    pick(i) {
      this.ink.getContext("2d").clearRect(0, 0, this.ink.width, this.ink.height);
      this.base = Float32Array.from(row(this.p.samples.inputs, i));
      this.update();
    }
    // the ink (canvas coverage, box-averaged over each image pixel) on top of the base image
    rasterize() {
      const [h, w] = this.shape, s = this.cell, px = this.ink.getContext("2d").getImageData(0, 0, w * s, h * s).data;
      const cover = new Float64Array(h * w);
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
        let sum = 0;
        for (let y = i * s; y < (i + 1) * s; y++) for (let x = j * s; x < (j + 1) * s; x++) sum += px[4 * (y * w * s + x) + 3];
        cover[i * w + j] = sum / (255 * s * s);
      }
      if (this.centre.checked) shiftToCentre(cover, h, w);
      const x = new Float32Array(h * w);
      for (let i = 0; i < h * w; i++) x[i] = Math.min(this.hi, this.base[i] + cover[i] * (this.hi - this.lo));
      return x;
    }
    update() {
      const ctx = this.draw.getContext("2d");
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, this.draw.width, this.draw.height);
      const base = pixelCanvas(this.shape, this.draw.width); paintPixels(base, this.base, this.shape, { lo: this.lo, hi: this.hi });
      ctx.globalAlpha = 0.6; ctx.imageSmoothingEnabled = false; ctx.drawImage(base, 0, 0, this.draw.width, this.draw.height); ctx.globalAlpha = 1;
      ctx.drawImage(this.ink, 0, 0);
      this.x = this.rasterize();
      const noisy = this.noise.apply(this.x, this.noiseKind, this.noiseLevel);
      this.xt = noisy.x; this.mask = noisy.mask;
      this.code = this.mlp.encode(this.xt);
      this.recon = this.mlp.decode(this.code);
      const range = { lo: this.lo, hi: this.hi };
      paintPixels(this.inputView, this.x, this.shape, range);
      paintPixels(this.noisyView, this.xt, this.shape, range);
      paintPixels(this.reconView, this.recon, this.shape, range);
      let err = 0; for (let i = 0; i < this.d; i++) err += (this.recon[i] - this.x[i]) ** 2;
      this.reconCaption.textContent = "squared error to the input " + fmt(err);
      this.drawCode();
      this.resetWalk();
      if (this.ctx.ready) this.showUnit();
    }
    drawCode() {
      const c = this.codeCanvas, g = c.getContext("2d"), m = this.m, h = this.code;
      let lo = 0, hi = 0; for (let j = 0; j < m; j++) { lo = Math.min(lo, h[j]); hi = Math.max(hi, h[j]); }
      if (this.p.units && this.p.units.max) for (let j = 0; j < m; j++) hi = Math.max(hi, this.p.units.max.data[j]);
      hi = hi || 1;
      g.clearRect(0, 0, c.width, c.height);
      const zero = c.height - 4 - (0 - lo) / (hi - lo) * (c.height - 8), bw = c.width / m;
      g.fillStyle = "#0969da";
      for (let j = 0; j < m; j++) {
        const y = c.height - 4 - (h[j] - lo) / (hi - lo) * (c.height - 8);
        g.fillRect(j * bw, Math.min(y, zero), Math.max(1, bw - (bw > 3 ? 1 : 0)), Math.abs(zero - y));
      }
      g.fillStyle = "#cf222e"; g.fillRect(this.selected * bw, 0, Math.max(1, bw - 1), 3);
      g.strokeStyle = "#8c959f"; g.beginPath(); g.moveTo(0, zero); g.lineTo(c.width, zero); g.stroke();
      const order = Array.from(h.keys()).sort((a, b) => h[b] - h[a]);
      let active = 0; for (let j = 0; j < m; j++) if (Math.abs(h[j]) > 1e-3) active++;
      this.codeCaption.textContent = active + " of " + m + " units above 0.001 (bar height: the unit's value; scale up to " + fmt(hi) + "); the most active:";
      this.chips.replaceChildren(...order.slice(0, 16).filter(j => Math.abs(h[j]) > 1e-3).map(j => el("span", { class: "chip" + (j === this.selected ? " on" : ""), "data-unit": j, text: j + ": " + fmt(h[j]), onclick: () => this.select(j) })));
    }
    select(j) { this.selected = j; this.drawCode(); this.showUnit(); if (this.mode === "units") this.resetWalk(); }
    resetWalk() {
      this.walk = Float64Array.from(this.code);
      const box = this.sliderBox; box.replaceChildren();
      this.sliders = [];
      if (this.mode === "directions" && this.p.directions) {
        const D = this.p.directions;
        this.walk = Float64Array.from(this.code);
        this.origin = Float64Array.from(this.code);
        this.t = new Float64Array(D.vectors.shape[0]);
        for (let i = 0; i < D.vectors.shape[0]; i++) this.addSlider("direction " + (i + 1), -3, 3, 0, v => { this.t[i] = v; this.walkDirections(); }, "σ");
      } else {
        const order = Array.from(this.code.keys()).sort((a, b) => this.code[b] - this.code[a]);
        const units = [this.selected, ...order.filter(j => j !== this.selected)].slice(0, 6);
        this.sliderUnits = units;
        for (const j of units) {
          const top = this.p.units && this.p.units.max ? Math.max(this.p.units.max.data[j], this.code[j]) * 1.5 : Math.max(1, this.code[j] * 1.5);
          const bottom = this.mlp.encoder[this.mlp.encoder.length - 1].act.name === "tanh" ? -1 : Math.min(0, this.code[j]);
          this.addSlider("unit " + j, bottom, top || 1, this.code[j], v => { this.walk[j] = v; this.walkDecode(); }, "");
        }
      }
      this.walkDecode();
    }
    addSlider(name, lo, hi, value, onInput, unit) {
      const input = el("input", { type: "range", min: lo, max: hi, step: (hi - lo) / 200, value: value, "aria-label": name });
      const out = el("output", { text: fmt(value) + unit });
      input.addEventListener("input", () => { out.textContent = fmt(+input.value) + unit; onInput(+input.value); });
      this.sliderBox.append(el("span", { text: name }), input, out);
      this.sliders.push(input);
    }
    walkDirections() {
      const D = this.p.directions, m = this.m, w = Float64Array.from(this.origin);
      for (let i = 0; i < this.t.length; i++) { const v = row(D.vectors, i), s = D.std.data[i] * this.t[i]; for (let j = 0; j < m; j++) w[j] += s * v[j]; }
      this.walk = w; this.walkDecode();
    }
    walkDecode() { this.walked = this.mlp.decode(this.walk); paintPixels(this.walkView, this.walked, this.shape, { lo: this.lo, hi: this.hi }); }
    showUnit() {
      const j = this.selected, u = this.p.units || {}, size = 112, boxes = [];
      this.unitTitle.textContent = "unit " + j + (u.mean ? " (mean activation on the data " + fmt(u.mean.data[j]) + ", max " + fmt(u.max.data[j]) + ")" : "");
      if (this.p.first_layer_code) {
        const w = this.mlp.firstWeightRow(j);
        boxes.push(el("div", { class: "box" }, el("span", { class: "caption", text: "filter (first-layer weights)" }), pixelCanvas(this.shape, size, w, { diverging: true })));
        let n = 0; for (let i = 0; i < w.length; i++) n += w[i] * w[i];
        const rho = u.norm || 1, x = new Float64Array(w.length); for (let i = 0; i < w.length; i++) x[i] = rho * w[i] / Math.sqrt(n || 1);
        boxes.push(el("div", { class: "box" }, el("span", { class: "caption", text: "maximizing input, ||x|| = " + fmt(rho) }), pixelCanvas(this.shape, size, x)));
        this.filter = Float64Array.from(w);
      } else {
        // No weight row is this unit's filter: it sees the input through the layers below it. Shown instead: its
        // local filter at the current input (what a weight filter is for a first-layer code, at every input).
        this.filter = this.mlp.localFilter(this.xt, j);
        this.unitNote.textContent = "A weight filter (a row of the first weight matrix) belongs to first-layer codes only; this code is layer " +
          this.mlp.encoder.length + " of the encoder, so shown are its local filter at the current input (the gradient of its pre-activation: " +
          "how each pixel moves it here) and the input of the data's norm that maximizes it.";
        boxes.push(el("div", { class: "box" }, el("span", { class: "caption", text: "local filter at this input (∂z/∂x)" }),
          pixelCanvas(this.shape, size, this.filter, { diverging: true })));
        if (u.preferred_inputs) boxes.push(el("div", { class: "box" }, el("span", { class: "caption", text: "maximizing input, ||x|| = " + fmt(u.norm) + " (gradient ascent)" }),
          pixelCanvas(this.shape, size, row(u.preferred_inputs.images, j), { lo: 0, hi: 255 })));
      }
      // what turning the unit up does to the reconstruction of the current input
      const up = Float64Array.from(this.code), top = u.max ? u.max.data[j] : 1; up[j] = Math.max(top, this.code[j] + 1e-6);
      const y = this.mlp.decode(up), diff = new Float64Array(this.d); for (let i = 0; i < this.d; i++) diff[i] = y[i] - this.recon[i];
      boxes.push(el("div", { class: "box" }, el("span", { class: "caption", text: "unit at " + fmt(up[j]) + ": change of the reconstruction" }), pixelCanvas(this.shape, size, diff, { diverging: true })));
      if (u.top_rows) {
        const figs = [];
        const rows = row(u.top_rows, j), vals = row(u.top_values, j);
        for (let i = 0; i < rows.length; i++) {
          const t = this.ctx.data.preview(u.dataset, rows[i], 48);
          if (t) figs.push(el("figure", { "data-row": rows[i] }, t, el("figcaption", { text: fmt(vals[i]) })));
        }
        boxes.push(el("div", { class: "box" }, el("span", { class: "caption", text: "top-activating training images (activation)" }), el("div", { class: "thumbs" }, ...figs)));
      }
      this.unitBox.replaceChildren(...boxes);
    }
    state() {
      return { input: Array.from(this.x), corrupted: Array.from(this.xt), mask: Array.from(this.mask), code: Array.from(this.code),
               reconstruction: Array.from(this.recon), noise: { kind: this.noiseKind, level: this.noiseLevel, seed: this.noiseSeed },
               walk: Array.from(this.walk), walked: Array.from(this.walked), mode: this.mode, sliderUnits: this.sliderUnits,
               directions: this.mode === "directions" ? Array.from(this.t) : null,
               selected: this.selected, unitTitle: this.unitTitle.textContent, filter: Array.from(this.filter || []),
               topRows: Array.from(this.unitBox.querySelectorAll("figure[data-row]")).map(f => +f.dataset.row) };
    }
  }
  function shiftToCentre(a, h, w) {  // move the centre of mass to the middle (integer shift)
    let s = 0, sy = 0, sx = 0;
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) { const v = a[i * w + j]; s += v; sy += v * i; sx += v * j; }
    if (s <= 0) return;
    const dy = Math.round((h - 1) / 2 - sy / s), dx = Math.round((w - 1) / 2 - sx / s);
    if (!dy && !dx) return;
    const b = Float64Array.from(a); a.fill(0);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const y = i + dy, x = j + dx;
      if (y >= 0 && y < h && x >= 0 && x < w) a[y * w + x] = b[i * w + j];
    }
  }

  // ------------------------------------------------------------------ scatter plots
  class Scatter {  // points on a canvas, with a hover overlay and rectangle brushing
    constructor(width, height, n, project, colours, onHover, onBrush) {
      this.w = width; this.h = height; this.n = n; this.project = project; this.colours = colours;
      this.onHover = onHover; this.onBrush = onBrush;
      this.base = canvasEl(width, height, "plot"); this.over = canvasEl(width, height, "plot");
      this.over.style.background = "transparent"; this.over.style.borderColor = "transparent";
      this.el = el("div", { class: "stack" }, this.base, this.over);
      this.xy = new Float32Array(2 * n); this.selected = null; this.hovered = -1;
      let start = null;
      this.over.addEventListener("mousedown", ev => { start = eventPos(ev, this.over); });
      this.over.addEventListener("mousemove", ev => {
        const p = eventPos(ev, this.over);
        if (start && (Math.abs(p[0] - start[0]) > 3 || Math.abs(p[1] - start[1]) > 3)) { this.drawRect(start, p); return; }
        const t = performance.now(), i = this.nearest(p[0], p[1], 8);
        this.hover(i, ev);
        this.hoverMs = performance.now() - t;  // the whole hover: lookup, highlight, linked views, tooltip
      });
      window.addEventListener("mouseup", ev => {
        if (!start) return;
        const p = eventPos(ev, this.over), a = start; start = null;
        if (Math.abs(p[0] - a[0]) > 3 || Math.abs(p[1] - a[1]) > 3) {
          const x0 = Math.min(a[0], p[0]), x1 = Math.max(a[0], p[0]), y0 = Math.min(a[1], p[1]), y1 = Math.max(a[1], p[1]), picked = [];
          for (let i = 0; i < this.n; i++) { const x = this.xy[2 * i], y = this.xy[2 * i + 1]; if (x >= x0 && x <= x1 && y >= y0 && y <= y1) picked.push(i); }
          this.onBrush(picked);
        } else if (ev.target === this.over) this.onBrush([]);  // a click clears
      });
      this.over.addEventListener("mouseleave", () => { this.hover(-1, null); });
    }
    layout() { for (let i = 0; i < this.n; i++) { const p = this.project(i); this.xy[2 * i] = p[0]; this.xy[2 * i + 1] = p[1]; } }
    nearest(x, y, radius) {
      let best = -1, bd = radius * radius;
      for (let i = 0; i < this.n; i++) { const dx = this.xy[2 * i] - x, dy = this.xy[2 * i + 1] - y, d = dx * dx + dy * dy; if (d < bd) { bd = d; best = i; } }
      return best;
    }
    // Every point a square of side 3 (5 below 3000 points) written straight into the pixels: no path per point,
    // so that 10 000 points redraw in a few milliseconds. Unselected points (grey) first, under the selection.
    draw() {
      const g = this.base.getContext("2d"), sel = this.selected, side = this.n > 3000 ? 3 : 5, w = this.w, h = this.h;
      if (!this.pixels) { this.pixels = g.createImageData(w, h); this.rgba = this.colours.map(packColour); }
      const buf = new Uint32Array(this.pixels.data.buffer), xy = this.xy, grey = packColour("#d8dee4");
      buf.fill(0);
      const square = (i, c) => {
        const xa = Math.round(xy[2 * i] - side / 2), ya = Math.round(xy[2 * i + 1] - side / 2);
        const x0 = Math.max(0, xa), y0 = Math.max(0, ya), x1 = Math.min(w, xa + side), y1 = Math.min(h, ya + side);
        for (let y = y0; y < y1; y++) buf.fill(c, y * w + x0, y * w + x1);
      };
      if (sel) for (let i = 0; i < this.n; i++) if (!sel.has(i)) square(i, grey);
      for (let i = 0; i < this.n; i++) if (!sel || sel.has(i)) square(i, this.rgba[i]);
      g.putImageData(this.pixels, 0, 0);
      this.drawOverlay();
    }
    drawRect(a, b) {
      this.drawOverlay();
      const g = this.over.getContext("2d");
      g.strokeStyle = "#0969da"; g.setLineDash([4, 3]); g.strokeRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]), Math.abs(b[1] - a[1])); g.setLineDash([]);
    }
    drawOverlay() {
      const g = this.over.getContext("2d");
      g.clearRect(0, 0, this.w, this.h);
      if (this.hovered >= 0) {
        const x = this.xy[2 * this.hovered], y = this.xy[2 * this.hovered + 1];
        g.strokeStyle = "#000"; g.lineWidth = 2; g.beginPath(); g.arc(x, y, 6, 0, 2 * Math.PI); g.stroke(); g.lineWidth = 1;
      }
    }
    hover(i, ev) { this.hovered = i; this.drawOverlay(); this.onHover(i, ev); }
    highlight(i) { this.hovered = i; this.drawOverlay(); }
  }
  function packColour(c) {  // "#rrggbb" or "rgb(r,g,b)" -> opaque RGBA as one little-endian uint32
    const v = c[0] === "#" ? [1, 3, 5].map(k => parseInt(c.slice(k, k + 2), 16)) : c.slice(c.indexOf("(") + 1, -1).split(",").map(Number);
    return ((255 << 24) | (v[2] << 16) | (v[1] << 8) | v[0]) >>> 0;
  }
  function frame(values, n, stride, w, h, pad) {  // axis-fitted linear maps of columns 0 and 1 to pixels
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) { const x = values[stride * i], y = values[stride * i + 1]; x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    const sx = (w - 2 * pad) / ((x1 - x0) || 1), sy = (h - 2 * pad) / ((y1 - y0) || 1);
    return [v => pad + (v - x0) * sx, v => h - pad - (v - y0) * sy];
  }
  function colourOf(ctx, key, rows) {
    const d = ctx.data.get(key), n = rows ? rows.length : 0, out = new Array(n).fill("#0969da");
    if (!d || !d.labels) return { colours: rows ? out : null, legend: null };
    let lo = Infinity, hi = -Infinity;
    const labels = rows.map(r => ctx.data.label(key, r));
    for (const v of labels) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (let i = 0; i < n; i++) if (labels[i] !== null) out[i] = d.label_kind === "class" ? TAB10[((labels[i] % 10) + 10) % 10] : viridis((labels[i] - lo) / ((hi - lo) || 1));
    let legend;
    if (d.label_kind === "class") {
      const classes = Array.from(new Set(labels.filter(v => v !== null))).sort((a, b) => a - b);
      legend = el("div", { class: "legend" }, ...classes.map(c => el("span", {}, el("span", { class: "swatch", style: "background:" + TAB10[((c % 10) + 10) % 10] }), " " + (d.label_names ? d.label_names[c] : c))));
    } else legend = el("div", { class: "legend" }, el("span", { text: "colour: label from " + fmt(lo) + " (purple) to " + fmt(hi) + " (yellow)" }));
    return { colours: out, legend: legend };
  }

  class EmbeddingPanel {
    constructor(p, ctx, body) {
      this.p = p; this.ctx = ctx;
      const P = p.points, n = P.shape[0], key = p.dataset, rows = p.rows ? Array.from(p.rows.data) : null;
      this.n = n; this.rows = rows; this.key = key;
      const d = ctx.data.get(key), W = 560, H = 460;
      const { colours, legend } = colourOf(ctx, key, rows || new Array(n).fill(0));
      this.colours = colours || new Array(n).fill("#0969da");
      const [fx, fy] = frame(P.data, n, 2, W, H, 12);
      this.scatter = new Scatter(W, H, n, i => [fx(P.data[2 * i]), fy(P.data[2 * i + 1])], this.colours,
        (i, ev) => this.hover(i, ev, "embedding"), picked => this.brush(picked));
      this.scatter.layout(); this.scatter.draw();
      this.info = el("div", { class: "info" }, el("p", { class: "muted", text: "hover a point; drag a rectangle to select points (a click clears)" }));
      this.selText = el("span", { class: "caption" });
      const views = [el("div", { class: "box" }, el("span", { class: "caption", text: "x: " + p.axes[0] + ", y: " + (p.axes[1] || "") }), this.scatter.el, legend, this.selText)];
      // raw 3-D points beside the embedding, linked
      if (d && d.values && d.values.shape[1] === 3 && rows) {
        this.raw = rows.map(r => ctx.data.values(key, r));
        this.az = 0; this.el3 = 0.3;
        const mk = (name, v, set) => { const s = el("input", { type: "range", min: -3.14, max: 3.14, step: 0.01, value: v, "aria-label": name }); s.addEventListener("input", () => { set(+s.value); this.layout3d(); }); return el("label", {}, name, s); };
        this.scatter3 = new Scatter(420, 420, n, i => this.project3d(i), this.colours, (i, ev) => this.hover(i, ev, "raw"), picked => this.brush(picked));
        this.layout3d();
        views.push(el("div", { class: "box" }, el("span", { class: "caption", text: "the data in 3-D (" + d.name + ")" }), this.scatter3.el,
          el("div", { class: "toolbar" }, mk("azimuth", this.az, v => { this.az = v; }), mk("elevation", this.el3, v => { this.el3 = v; }))));
      }
      views.push(this.info);
      body.append(el("div", { class: "row" }, ...views));
      if (key !== null && key !== undefined) ctx.selections.listen(key, (set) => this.showSelection(set));
      this.lastHover = null;
    }
    project3d(i) {
      if (!this.fit3) {  // centre, scale, and the coordinate of least variance toward the viewer
        const n = this.raw.length, c = [0, 0, 0], vr = [0, 0, 0]; let r = 0;
        for (const v of this.raw) for (let k = 0; k < 3; k++) c[k] += v[k] / n;
        for (const v of this.raw) {
          r = Math.max(r, Math.hypot(v[0] - c[0], v[1] - c[1], v[2] - c[2]));
          for (let k = 0; k < 3; k++) vr[k] += (v[k] - c[k]) ** 2;
        }
        const depth = vr.indexOf(Math.min(...vr)), [a, b] = [0, 1, 2].filter(k => k !== depth);
        const unit = k => [0, 1, 2].map(i => (i === k ? 1 : 0));
        this.fit3 = { c: c, s: 190 / (r || 1), axes: [unit(a), unit(b), unit(depth)] };
      }
      const v = this.raw[i], c = this.fit3.c, A = this.fit3.axes, u = [v[0] - c[0], v[1] - c[1], v[2] - c[2]];
      const dot = a => a[0] * u[0] + a[1] * u[1] + a[2] * u[2];
      const x = dot(A[0]), y = dot(A[1]), z = dot(A[2]);
      const ca = Math.cos(this.az), sa = Math.sin(this.az), ce = Math.cos(this.el3), se = Math.sin(this.el3);
      const x1 = ca * x + sa * z, z1 = -sa * x + ca * z, y1 = ce * y - se * z1;
      return [210 + this.fit3.s * x1, 210 - this.fit3.s * y1];
    }
    layout3d() { this.scatter3.layout(); this.scatter3.draw(); }
    hover(i, ev, where) {
      const other = where === "raw" ? this.scatter : this.scatter3;
      if (other) other.highlight(i);
      if (i < 0) { hideTooltip(); this.lastHover = null; return; }
      const r = this.rows ? this.rows[i] : null, content = [];
      const P = this.p.points.data;
      content.push(el("div", { text: (r !== null ? "row " + r : "point " + i) + (r !== null && this.ctx.data.labelText(this.key, r) !== null ? " · label " + this.ctx.data.labelText(this.key, r) : "") }));
      content.push(el("div", { class: "muted", text: "(" + fmt(P[2 * i]) + ", " + fmt(P[2 * i + 1]) + ")" }));
      const thumb = r !== null ? this.ctx.data.thumb(this.key, r, 84) : null;
      const text = r !== null && !thumb ? this.ctx.data.contextEl(this.key, r) : null;
      if (thumb) content.push(thumb);
      if (text) content.push(text);
      const vals = r !== null ? this.ctx.data.values(this.key, r) : null;
      if (vals) content.push(el("div", { text: "x = (" + Array.from(vals).map(fmt).join(", ") + ")" }));
      this.lastHover = { index: i, row: r, label: r !== null ? this.ctx.data.labelText(this.key, r) : null, image: !!thumb, context: text ? text.textContent : null, text: content.map(c => c.textContent).join(" | ") };
      if (ev) showTooltip(ev.clientX, ev.clientY, content);
    }
    brush(picked) {
      if (this.key !== null && this.key !== undefined && this.rows) this.ctx.selections.set(this.key, new Set(picked.map(i => this.rows[i])), this);
      else this.showSelection(picked.length ? new Set(picked) : null, true);
    }
    showSelection(rowsSet, local) {
      let sel = null;
      if (rowsSet) { sel = new Set(); for (let i = 0; i < this.n; i++) if (rowsSet.has(local ? i : this.rows[i])) sel.add(i); }
      this.selection = sel;
      for (const s of [this.scatter, this.scatter3]) if (s) { s.selected = sel; s.draw(); }
      this.selText.textContent = sel ? sel.size + " of " + this.n + " points selected" : "";
    }
    state() { return { n: this.n, hover: this.lastHover, selected: this.selection ? Array.from(this.selection) : [], linked: !!this.scatter3,
                       hovered3d: this.scatter3 ? this.scatter3.hovered : null, hovered2d: this.scatter.hovered,
                       xy: Array.from(this.scatter.xy.subarray(0, 2 * Math.min(this.n, 50000))), xy3: this.scatter3 ? Array.from(this.scatter3.xy) : null }; }
  }

  // ------------------------------------------------------------------ SOM
  class SomPanel {
    constructor(p, ctx, body) {
      this.p = p; this.ctx = ctx;
      const [rows, cols] = p.grid_shape, hex = p.topology === "hexagonal";
      this.units = rows * cols; this.hex = hex;
      const cell = Math.max(18, Math.min(56, Math.floor(520 / Math.max(rows, cols))));
      this.cell = cell;
      const pos = p.positions.data;  // (row, col) in map units
      this.centres = [];
      for (let u = 0; u < this.units; u++) this.centres.push([cell * (pos[2 * u + 1] + 0.75), cell * (pos[2 * u] + 0.75)]);
      const W = cell * (cols + 1), H = cell * ((hex ? (rows - 1) * Math.sqrt(3) / 2 : rows - 1) + 1.5);
      this.canvas = canvasEl(W, H, "plot");
      this.layer = "u_matrix";
      const opts = [["u_matrix", "U-matrix"], ["hits", "hit map"]];
      if (p.image_shape) opts.push(["prototypes", "prototypes"]);
      const sel = el("select", { "aria-label": "SOM layer" }, ...opts.filter(o => o[0] !== "hits" || p.hit_map).map(o => el("option", { value: o[0], text: o[1] })));
      sel.addEventListener("change", () => { this.layer = sel.value; this.draw(); });
      this.info = el("div", { class: "info" }, el("p", { class: "muted", text: "hover a unit" }));
      this.canvas.addEventListener("mousemove", ev => this.hover(this.unitAt(eventPos(ev, this.canvas))));
      this.canvas.addEventListener("mouseleave", () => { this.hovered = -1; this.draw(); });
      this.hovered = -1;
      body.append(el("div", { class: "row" }, el("div", { class: "box" }, el("div", { class: "toolbar" }, el("label", {}, "show", sel)), this.canvas,
        el("span", { class: "caption", text: "U-matrix: mean distance of a prototype to its neighbours' (dark = far: cluster borders)" })), this.info));
      this.draw();
    }
    unitAt(p) {
      let best = -1, bd = Infinity;
      for (let u = 0; u < this.units; u++) { const dx = this.centres[u][0] - p[0], dy = this.centres[u][1] - p[1], d = dx * dx + dy * dy; if (d < bd) { bd = d; best = u; } }
      return bd <= this.cell * this.cell ? best : -1;
    }
    cellPath(g, u) {
      const [x, y] = this.centres[u], c = this.cell;
      g.beginPath();
      if (this.hex) { const r = c / Math.sqrt(3); for (let k = 0; k < 6; k++) { const a = Math.PI / 6 + k * Math.PI / 3; g.lineTo(x + r * Math.cos(a), y + r * Math.sin(a)); } g.closePath(); }
      else g.rect(x - c / 2, y - c / 2, c, c);
    }
    draw() {
      const g = this.canvas.getContext("2d"), p = this.p;
      g.clearRect(0, 0, this.canvas.width, this.canvas.height);
      const vals = this.layer === "hits" ? p.hit_map.data : p.u_matrix.data;
      let lo = Infinity, hi = -Infinity; for (const v of vals) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      for (let u = 0; u < this.units; u++) {
        this.cellPath(g, u);
        const t = (vals[u] - lo) / ((hi - lo) || 1);
        if (this.layer === "prototypes") g.fillStyle = "#000";
        else if (this.layer === "hits") g.fillStyle = viridis(t);
        else { const v = Math.round(255 * (1 - t)); g.fillStyle = "rgb(" + v + "," + v + "," + v + ")"; }
        g.fill();
        if (this.layer === "prototypes") {
          const c = this.cell * (this.hex ? 0.8 : 0.92), [x, y] = this.centres[u];
          const img = pixelCanvas(p.image_shape, c, row(p.codebook, u), this.range());
          g.imageSmoothingEnabled = false; g.drawImage(img, x - c / 2, y - c / 2, c, c);
        }
        if (u === this.hovered) { g.strokeStyle = "#cf222e"; g.lineWidth = 3; this.cellPath(g, u); g.stroke(); g.lineWidth = 1; }
      }
    }
    range() {
      if (!this.cbRange) { let lo = Infinity, hi = -Infinity; for (const v of this.p.codebook.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); } this.cbRange = { lo: lo, hi: hi }; }
      return this.cbRange;
    }
    hover(u) {
      if (u === this.hovered) return;
      this.hovered = u; this.draw();
      if (u < 0) return;
      const p = this.p, [rows, cols] = p.grid_shape, parts = [];
      parts.push(el("h3", { text: "unit " + u + " (row " + Math.floor(u / cols) + ", column " + (u % cols) + ")" }));
      parts.push(el("table", {}, el("tr", {}, el("td", { text: "U-matrix" }), el("td", { text: fmt(p.u_matrix.data[u]) })),
        p.hit_map ? el("tr", {}, el("td", { text: "samples won" }), el("td", { "data-hits": p.hit_map.data[u], text: String(p.hit_map.data[u]) })) : null));
      if (p.image_shape) parts.push(el("div", { class: "box" }, el("span", { class: "caption", text: "prototype" }), pixelCanvas(p.image_shape, 96, row(p.codebook, u), this.range())));
      else parts.push(el("div", { class: "caption", text: "prototype: (" + Array.from(row(p.codebook, u)).slice(0, 8).map(fmt).join(", ") + (p.codebook.shape[1] > 8 ? ", …" : "") + ")" }));
      if (p.winners) {
        const won = Array.from(row(p.winners, u)).filter(r => r >= 0), figs = [];
        for (const r of won) {
          const t = this.ctx.data.preview(p.dataset, r, 40), lab = this.ctx.data.labelText(p.dataset, r);
          figs.push(el("figure", { "data-row": r }, t || el("span", { text: "row " + r }), lab !== null ? el("figcaption", { text: lab }) : null));
        }
        parts.push(el("div", { class: "box" }, el("span", { class: "caption", text: won.length ? "samples it wins (closest first)" : "it wins no sample" }), el("div", { class: "thumbs" }, ...figs)));
      }
      this.info.replaceChildren(...parts);
    }
    state() { return { hovered: this.hovered, layer: this.layer, info: this.info.textContent,
                       shownRows: Array.from(this.info.querySelectorAll("figure[data-row]")).map(f => +f.dataset.row),
                       centres: this.centres }; }
  }

  // ------------------------------------------------------------------ training curves
  class CurvesPanel {
    constructor(p, ctx, body) {
      this.p = p; this.series = p.series.map((s, i) => ({ name: s.name, x: s.x, y: s.y, on: s.visible, colour: TAB10[i % 10] }));
      this.W = 820; this.H = 360; this.pad = { l: 64, r: 16, t: 12, b: 36 };
      this.canvas = canvasEl(this.W, this.H, "plot");
      this.log = el("input", { type: "checkbox", checked: this.wideRange() });
      this.log.addEventListener("change", () => this.draw());
      this.legend = el("div", { class: "legend" }, ...this.series.map((s, i) => {
        const box = el("input", { type: "checkbox", checked: s.on, "data-series": s.name });
        box.addEventListener("change", () => { s.on = box.checked; this.draw(); });
        return el("label", {}, box, el("span", { class: "swatch", style: "background:" + s.colour }), s.name);
      }));
      this.hoverX = null;
      this.canvas.addEventListener("mousemove", ev => this.hover(ev));
      this.canvas.addEventListener("mouseleave", () => { this.hoverX = null; this.draw(); hideTooltip(); this.lastTip = null; });
      body.append(el("div", { class: "box" }, el("div", { class: "toolbar" }, el("label", {}, this.log, "log scale")), this.canvas, this.legend));
      this.draw();
    }
    wideRange() {  // log scale by default when the shown values span more than two decades
      let lo = Infinity, hi = 0;
      for (const s of this.series) if (s.on) for (const v of s.y) if (v !== null && v > 0) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      return hi / lo > 100;
    }
    scales() {
      const on = this.series.filter(s => s.on), log = this.log.checked;
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const s of on) for (let i = 0; i < s.x.length; i++) {
        const v = s.y[i]; if (v === null || (log && v <= 0)) continue;
        x0 = Math.min(x0, s.x[i]); x1 = Math.max(x1, s.x[i]); const t = log ? Math.log10(v) : v; y0 = Math.min(y0, t); y1 = Math.max(y1, t);
      }
      if (!isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
      if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
      const m = (y1 - y0) * 0.05; y0 -= m; y1 += m;
      const P = this.pad, W = this.W, H = this.H;
      return { log: log, x0: x0, x1: x1, y0: y0, y1: y1,
               fx: x => P.l + (x - x0) / ((x1 - x0) || 1) * (W - P.l - P.r),
               fy: v => H - P.b - ((log ? Math.log10(v) : v) - y0) / (y1 - y0) * (H - P.t - P.b) };
    }
    draw() {
      const g = this.canvas.getContext("2d"), S = this.scales(), P = this.pad, W = this.W, H = this.H;
      this.S = S;
      g.clearRect(0, 0, W, H);
      g.strokeStyle = "#d0d7de"; g.fillStyle = "#57606a"; g.font = "11px system-ui, sans-serif";
      const ticks = S.log ? logTicks(S.y0, S.y1) : niceTicks(S.y0, S.y1, 6);
      for (const t of ticks) {
        const y = S.log ? S.fy(Math.pow(10, t)) : S.fy(t);
        g.beginPath(); g.moveTo(P.l, y); g.lineTo(W - P.r, y); g.stroke();
        g.textAlign = "right"; g.fillText(S.log ? fmt(Math.pow(10, t)) : fmt(t), P.l - 4, y + 4);
      }
      for (const t of niceTicks(S.x0, S.x1, 8)) { const x = S.fx(t); g.textAlign = "center"; g.fillText(fmt(t), x, H - P.b + 14); }
      g.fillText(this.p.x_label, (P.l + W - P.r) / 2, H - 6);
      g.strokeStyle = "#8c959f"; g.strokeRect(P.l, P.t, W - P.l - P.r, H - P.t - P.b);
      for (const s of this.series) {
        if (!s.on) continue;
        g.strokeStyle = s.colour; g.lineWidth = 1.6; g.beginPath(); let pen = false;
        for (let i = 0; i < s.x.length; i++) {
          const v = s.y[i]; if (v === null || (S.log && v <= 0)) { pen = false; continue; }
          const x = S.fx(s.x[i]), y = S.fy(v); if (pen) g.lineTo(x, y); else g.moveTo(x, y); pen = true;
        }
        g.stroke(); g.lineWidth = 1;
      }
      if (this.hoverX !== null) { const x = S.fx(this.hoverX); g.strokeStyle = "#1d2125"; g.setLineDash([3, 3]); g.beginPath(); g.moveTo(x, P.t); g.lineTo(x, H - P.b); g.stroke(); g.setLineDash([]); }
    }
    hover(ev) {
      const [px] = eventPos(ev, this.canvas), S = this.S, on = this.series.filter(s => s.on);
      if (!on.length) return;
      let best = null, bd = Infinity;
      for (const s of on) for (const x of s.x) { const d = Math.abs(S.fx(x) - px); if (d < bd) { bd = d; best = x; } }
      this.hoverX = best; this.draw();
      const values = on.map(s => { const i = s.x.indexOf(best); return { name: s.name, value: i >= 0 ? s.y[i] : null }; });
      this.lastTip = { x: best, values: values };
      showTooltip(ev.clientX, ev.clientY, [el("div", { text: this.p.x_label + " " + fmt(best) }),
        ...values.map(v => el("div", {}, el("span", { class: "swatch", style: "display:inline-block;width:9px;height:9px;background:" + this.series.find(s => s.name === v.name).colour }), " " + v.name + ": " + fmt(v.value)))]);
    }
    state() { return { visible: this.series.filter(s => s.on).map(s => s.name), tip: this.lastTip || null, log: this.log.checked }; }
  }
  function niceTicks(lo, hi, n) {
    const span = hi - lo; if (!(span > 0)) return [lo];
    const step0 = span / n, mag = Math.pow(10, Math.floor(Math.log10(step0))), f = step0 / mag;
    const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag, out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(+t.toPrecision(12));
    return out;
  }
  function logTicks(lo, hi) {
    const out = []; for (let t = Math.ceil(lo); t <= Math.floor(hi); t++) out.push(t);
    return out.length >= 2 ? out : niceTicks(lo, hi, 5);
  }

  // ------------------------------------------------------------------ sparse autoencoder latents
  // Bars of counts over x positions xs (n + 1 edges, already on the drawn scale), trimmed to the non-empty bins.
  function drawBars(canvas, counts, xs, opts) {
    const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, P = { l: 34, r: 6, t: 6, b: 26 };
    g.clearRect(0, 0, W, H);
    let a = 0, b = counts.length - 1;
    while (a < b && !counts[a]) a++;
    while (b > a && !counts[b]) b--;
    const x0 = xs[a], x1 = xs[b + 1], span = (x1 - x0) || 1;
    let top = 0; for (let i = a; i <= b; i++) top = Math.max(top, counts[i]);
    const fx = x => P.l + (x - x0) / span * (W - P.l - P.r), fy = c => H - P.b - c / (top || 1) * (H - P.t - P.b);
    g.fillStyle = opts.colour || "#d47500";
    for (let i = a; i <= b; i++) if (counts[i]) g.fillRect(fx(xs[i]), fy(counts[i]), Math.max(0.8, fx(xs[i + 1]) - fx(xs[i]) - 0.5), H - P.b - fy(counts[i]));
    g.strokeStyle = "#0969da"; g.lineWidth = 1.2;
    for (const m of opts.marks || []) if (m >= x0 && m <= x1) { g.beginPath(); g.moveTo(fx(m), P.t); g.lineTo(fx(m), H - P.b); g.stroke(); }
    g.lineWidth = 1; g.strokeStyle = "#8c959f"; g.beginPath(); g.moveTo(P.l, H - P.b); g.lineTo(W - P.r, H - P.b); g.stroke();
    g.fillStyle = "#57606a"; g.font = "10px system-ui, sans-serif"; g.textAlign = "right";
    g.fillText(String(top), P.l - 3, P.t + 8); g.fillText("0", P.l - 3, H - P.b);
    g.textAlign = "center";
    const ticks = []; for (let t = Math.ceil(x0); t <= Math.floor(x1); t++) ticks.push(t);
    if (x1 - x0 < 1.5) for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) for (const m of [2, 5]) { const t = e + Math.log10(m); if (t >= x0 && t <= x1) ticks.push(t); }
    for (const t of ticks) g.fillText(opts.tick(t), fx(t), H - P.b + 12);
    g.fillText(opts.label, (P.l + W - P.r) / 2, H - 2);
    return { first: a, last: b, top: top };
  }
  function visibleToken(t) { return t.replace(/\r/g, "").replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5"); }
  function decadeLabel(t) { const v = Math.pow(10, t); return v >= 0.01 && v < 1e4 ? fmt(+v.toPrecision(3)) : "1e" + Math.round(t); }

  class LatentsPanel {
    constructor(p, ctx, body) {
      this.p = p; this.ctx = ctx; this.L = p.latents.data.length; this.N = p.top_rows.shape[1];
      this.logEdges = Array.from(p.edges.data, v => Math.log10(v));
      this.selected = 0;
      const facts = el("table", { class: "facts" }, ...p.facts.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v }))));
      this.density = canvasEl(330, 120, "plot");
      this.list = el("div", { class: "latent-list" });
      for (let i = 0; i < this.L; i++) {
        const j = p.latents.data[i];
        this.list.append(el("span", { class: "chip", "data-latent": j, text: j + " · " + this.percent(i), onclick: () => this.select(i) }));
      }
      this.view = el("div", { class: "box latent-view" });
      const D = p.density;
      body.append(el("div", { class: "row" },
        el("div", { class: "box latent-index" }, facts,
          el("h3", { text: "firing frequency of every latent (" + D.dead + " of " + D.n_latents + " never fired; the selected one in blue)" }), this.density,
          el("h3", { text: "latents (click one)" }), this.list),
        this.view));
      this.select(0);
    }
    percent(i) { return (+(100 * this.p.counts.data[i] / this.p.n_rows).toPrecision(3)).toString() + " %"; }
    select(i) {
      this.selected = i;
      const p = this.p, j = p.latents.data[i], D = p.density;
      this.list.querySelectorAll(".chip").forEach((c, k) => c.classList.toggle("on", k === i));
      const f = p.counts.data[i] / p.n_rows;
      drawBars(this.density, D.counts.data, D.log10_edges.data, { marks: f > 0 ? [Math.log10(f)] : [], tick: decadeLabel, label: "firing frequency (log scale)" });
      const top = p.top_values.data[i * this.N];
      const parts = [el("h3", { class: "latent-title", text: "latent " + j }),
        el("p", { class: "muted", text: "fires on " + this.percent(i) + " of " + p.unit + " (" + p.counts.data[i] + " of " + p.n_rows + ") · largest activation " + fmt(top) + " · mean when firing " + fmt(p.mean.data[i]) })];
      const shown = []; for (let n = 0; n < this.N; n++) if (p.top_rows.data[i * this.N + n] >= 0) shown.push(n);
      if (p.dataset !== null && p.context_values) parts.push(el("div", { class: "caption", text: "top " + shown.length + " contexts (the activating token outlined; shade: the latent's activation on each token)" }), this.contexts(i, shown, top));
      else if (p.images) parts.push(el("div", { class: "caption", text: "top " + shown.length + " images (activation below)" }), this.images(i, shown));
      else parts.push(el("div", { class: "caption", text: "top rows: " + shown.map(n => p.top_rows.data[i * this.N + n] + " (" + fmt(p.top_values.data[i * this.N + n]) + ")").join(", ") }));
      const hist = canvasEl(330, 120, "plot");
      const side = el("div", { class: "box" }, el("h3", { text: "activations when firing (" + p.counts.data[i] + ")" }), hist);
      if (p.promoted) side.append(el("h3", { text: "tokens it promotes (logit lens of its atom)" }), this.tokens(p.promoted, i), el("h3", { text: "tokens it suppresses" }), this.tokens(p.suppressed, i));
      parts.push(side);
      this.view.replaceChildren(...parts);
      const B = p.histogram.shape[1];
      drawBars(hist, p.histogram.data.subarray(i * B, (i + 1) * B), this.logEdges, { tick: decadeLabel, label: "activation (log scale)" });
    }
    contexts(i, shown, top) {
      const p = this.p, w = p.context_values.shape[2], rows = [];
      for (const n of shown) {
        const r = p.top_rows.data[i * this.N + n], c = this.ctx.data.context(p.dataset, r);
        const pre = el("span"), post = el("td", { class: "text post" });
        if (c) {
          const offset = p.before - c.position;
          c.tokens.forEach((t, q) => {
            const v = p.context_values.data[(i * this.N + n) * w + q + offset], alpha = Math.min(1, Math.max(0, v / (top || 1)));
            const span = el(q === c.position ? "mark" : "span", { text: visibleToken(t), title: v ? fmt(v) : null });
            if (alpha > 0.005) span.style.background = "rgba(255,140,0," + alpha.toFixed(2) + ")";
            (q < c.position ? pre : post).append(span);
          });
        }
        rows.push(el("tr", { "data-row": r }, el("td", { class: "num", text: fmt(p.top_values.data[i * this.N + n]) }), el("td", { class: "text pre" }, pre), post));
      }
      return el("table", { class: "kwic" }, ...rows);
    }
    images(i, shown) {
      const p = this.p, [h, w] = [p.images.shape[2], p.images.shape[3]], figs = [];
      for (const n of shown) {
        const k = i * this.N + n, img = p.images.data.subarray(k * h * w, (k + 1) * h * w);
        figs.push(el("figure", { "data-row": p.top_rows.data[k] }, pixelCanvas([h, w], 64, img, { lo: 0, hi: 255 }), el("figcaption", { text: fmt(p.top_values.data[k]) })));
      }
      return el("div", { class: "thumbs" }, ...figs);
    }
    tokens(list, i) {
      const k = list.values.shape[1];
      return el("ol", { class: "tokens" }, ...list.tokens[i].map((t, q) => el("li", {}, el("span", { class: "tok", text: visibleToken(t) }), " " + (list.values.data[i * k + q] > 0 ? "+" : "") + fmt(list.values.data[i * k + q]))));
    }
    state() {
      const rows = Array.from(this.view.querySelectorAll("table.kwic tr"));
      return { latent: this.p.latents.data[this.selected],
               contexts: rows.map(r => r.querySelector(".pre").textContent + r.querySelector(".post").textContent),
               marked: rows.map(r => { const m = r.querySelector("mark"); return m ? m.textContent : null; }),
               values: rows.map(r => +r.querySelector(".num").textContent),
               rows: rows.map(r => +r.dataset.row),
               images: this.view.querySelectorAll(".thumbs figure").length,
               promoted: Array.from(this.view.querySelectorAll("ol.tokens")).slice(0, 1).flatMap(o => Array.from(o.querySelectorAll(".tok"), t => t.textContent)) };
    }
  }

  // ------------------------------------------------------------------ the page
  const RENDERERS = { autoencoder: AutoencoderPanel, embedding: EmbeddingPanel, som: SomPanel, curves: CurvesPanel, latents: LatentsPanel };

  function main() {
    const doc = decodeAll(JSON.parse(document.getElementById("aekit-data").textContent));
    const ctx = { data: new Datasets(doc.datasets), selections: new Selections(), ready: false, precision: doc.precision };
    document.getElementById("title").textContent = doc.title;
    document.getElementById("meta").textContent = doc.runs.length + " run" + (doc.runs.length > 1 ? "s" : "") +
      " · " + doc.panels.length + " panels · weights in " + doc.precision + " · written " + doc.created + " · aekit " + doc.aekit_version;
    const main = document.getElementById("panels"), nav = document.getElementById("nav");
    main.replaceChildren();
    const panels = {}, unknown = [];
    doc.panels.forEach((p, i) => {
      const Renderer = RENDERERS[p.kind], id = "panel-" + i;
      const section = el("section", { class: "panel", id: id, "data-kind": p.kind, "data-panel": p.id },
        el("h2", { text: p.title }), el("p", { class: "muted", text: "run " + p.run + " · " + p.kind }), ...(p.notes || []).map(n => el("p", { class: "note", text: n })));
      main.append(section);
      nav.append(el("a", { href: "#" + id, text: p.title }));
      if (!Renderer) { unknown.push(p.kind); section.append(el("p", { class: "note", text: "this page does not know panels of kind " + JSON.stringify(p.kind) + "; write it again with a newer aekit" })); return; }
      panels[p.id] = new Renderer(p, ctx, section);
    });
    ctx.ready = true;
    for (const p of Object.values(panels)) if (p.showUnit) p.showUnit();
    window.aekitExplorer = {
      ready: true, readyMs: performance.now(), scriptMs: performance.now() - T0, unknownKinds: unknown,
      panelIds: Object.keys(panels), panel: id => panels[id],
      state: id => JSON.stringify(panels[id].state()),
      activations: ACTIVATIONS, erf: erf,
    };
  }
  try { main(); } catch (e) {
    const m = document.getElementById("panels");
    m.prepend(el("p", { class: "note", text: "the explorer failed: " + e.message }));
    throw e;
  }
})();
