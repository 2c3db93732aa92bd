// napari-chunkview notebook viewer: a tiled 2D canvas over a multiscale pyramid, with
// sliders, per-channel contrast and colour, and the chunk inspector's panels.
// Plain ES module (no build step, no network): the kernel renders tiles (contrast and
// colour applied there); this module asks for the tiles in view, caches them and draws.
//
// Coordinates: the camera is {cx, cy, s}: the view centre in level-0 pixel-edge
// coordinates and CSS pixels per level-0 pixel. Pixel j of level k covers
// [origin + j*factor, origin + (j+1)*factor) in level-0 coordinates.

class Viewer {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.info = model.get("info");
    this.layout = this.info.layout;
    this.levels = this.layout.levels;
    this.dpr = window.devicePixelRatio || 1;
    this.cam = null;
    this.size = { w: 0, h: 0 };
    this.cache = new Map(); // tile key -> {bitmap, level, ty, tx, rk}
    this.lastAt = new Map(); // "level/ty/tx" -> tile key last stored there
    this.pending = new Set(); // tile keys requested
    this.failed = new Map(); // tile key -> {until, attempts, error}
    this.queue = [];
    this.inflight = 0;
    this.nextId = 1;
    this.waiting = new Map(); // comm request id -> {resolve, reject, timer}
    this.transport = null;
    this.rkIds = new Map();
    this.aborter = new AbortController();
    this.stats = { t0: performance.now(), firstTileMs: null, firstCompleteMs: null,
                   requests: 0, rtts: [], tiles: 0, bytes: 0, errors: 0, lastError: "" };
    this.destroyed = false;
    this.frame = 0;
    this.build();
    this.bindModel();
    this.start();
  }

  // -- DOM ------------------------------------------------------------------------------
  build() {
    const info = this.info;
    this.root = h("div", { class: "cv-root", "data-state": "starting", "data-lm-suppress-shortcuts": "true" });
    this.levelLabel = h("span", { class: "cv-level" });
    this.statusLabel = h("span", { class: "cv-status" });
    const btn = (text, title, fn) => h("button", { class: "cv-btn", title, text, onclick: fn });
    this.toolbar = h("div", { class: "cv-toolbar" },
      h("span", { class: "cv-title", text: info.name || "pyramid", title: info.uri }),
      btn("Fit", "Show the whole image", () => this.fit(true)),
      btn("1:1", "One level-0 pixel per screen pixel", () => this.zoomTo(1 / this.dpr)),
      btn("−", "Zoom out", () => this.zoomBy(0.5)),
      btn("+", "Zoom in", () => this.zoomBy(2)),
      h("label", { class: "cv-check", title: "Overlay the chunk grid of the level shown" },
        (this.gridToggle = h("input", { type: "checkbox", onchange: () => this.requestDraw() })),
        " chunks"),
      this.levelLabel, this.statusLabel);
    this.canvas = h("canvas", { class: "cv-canvas", tabindex: "0" });
    this.readout = h("div", { class: "cv-readout" });
    this.wrap = h("div", { class: "cv-canvas-wrap" }, this.canvas, this.readout);
    this.sliders = h("div", { class: "cv-sliders" });
    this.channelBox = h("div", { class: "cv-channels" });
    this.inspectorBox = h("div", { class: "cv-inspector" });
    this.root.append(this.toolbar, this.wrap, this.sliders, this.channelBox, this.inspectorBox);
    this.el.append(this.root);
    this.root.__chunkview = this; // tests and benchmarks read stats and state here
    this.buildSliders();
    this.buildChannels();
    this.bindCanvas();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this.wrap);
    this.applySize();
  }

  applySize() {
    const w = this.model.get("width");
    this.wrap.style.height = `${this.model.get("height")}px`;
    this.wrap.style.width = w > 0 ? `${w}px` : "100%";
    this.resize();
  }

  resize() {
    const w = Math.round(this.wrap.clientWidth);
    const hgt = Math.round(this.wrap.clientHeight);
    if (w <= 0 || hgt <= 0) return; // not laid out yet
    this.dpr = window.devicePixelRatio || 1;
    if (w === this.size.w && hgt === this.size.h && this.canvas.width === Math.round(w * this.dpr)) return;
    this.size = { w, h: hgt };
    this.canvas.width = Math.round(w * this.dpr);
    this.canvas.height = Math.round(hgt * this.dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${hgt}px`;
    if (!this.cam) this.applyCamera(this.model.get("camera"));
    else if (this.fitted) this.fit(true);
    else this.viewChanged();
  }

  // -- model ----------------------------------------------------------------------------
  bindModel() {
    const m = this.model;
    this.onIndices = () => { this.syncSliders(); this.syncChannels(); this.viewChanged(); };
    this.onChannels = () => {
      const chans = m.get("channels");
      if (!this.channelRows || chans.length !== this.channelRows.length) this.buildChannels();
      else this.syncChannels();
      this.viewChanged();
    };
    this.onCamera = () => this.applyCamera(m.get("camera"));
    this.onSize = () => this.applySize();
    this.onCustom = (msg, buffers) => this.onMessage(msg, buffers);
    this.onOptions = () => this.viewChanged();
    m.on("change:indices", this.onIndices);
    m.on("change:channels", this.onChannels);
    m.on("change:camera", this.onCamera);
    m.on("change:height", this.onSize);
    m.on("change:width", this.onSize);
    m.on("change:tile_size", () => { this.cache.clear(); this.viewChanged(); });
    m.on("change:tile_format", this.onOptions);
    m.on("change:show_inspector", () => this.inspectorBox.style.display = m.get("show_inspector") ? "" : "none");
    m.on("msg:custom", this.onCustom);
  }

  onMessage(msg, buffers) {
    if (!msg) return;
    if (msg.type === "tiles" && this.waiting.has(msg.id)) {
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      clearTimeout(w.timer);
      w.resolve({ header: msg, buffers: (buffers || []).map(toBytes) });
    } else if (msg.type === "fit") {
      this.fit(true);
    }
  }

  async start() {
    this.inspectorBox.style.display = this.model.get("show_inspector") ? "" : "none";
    this.connectInspector();
    this.transport = await this.chooseTransport();
    this.root.dataset.transport = this.transport;
    this.viewChanged();
  }

  async chooseTransport() {
    const want = this.model.get("transport");
    const url = this.model.get("_tile_url");
    if (want !== "comm" && url) {
      try {
        const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2000), cache: "no-store" });
        if (r.ok) return "http";
      } catch (e) {
        /* not reachable from this browser: fall back to comm messages */
      }
    }
    return "comm";
  }

  // -- camera ---------------------------------------------------------------------------
  fitCamera() {
    const lv0 = this.levels[0];
    const { w, h: hh } = this.size;
    const s = Math.min(w / lv0.width, hh / lv0.height);
    return { cx: lv0.width / 2, cy: lv0.height / 2, s };
  }

  fit(save) {
    if (!this.size.w) return;
    this.cam = this.fitCamera();
    this.fitted = true; // stays fitted when the canvas is resized, until moved
    this.viewChanged(save);
  }

  applyCamera(c) {
    if (!this.size.w) return;
    if (!c || c.scale === undefined) {
      this.fit(true);
      return;
    }
    const cur = this.cam;
    if (cur && Math.abs(cur.cx - c.x) < 1e-9 && Math.abs(cur.cy - c.y) < 1e-9 && Math.abs(cur.s - c.scale) < 1e-12) return;
    this.cam = { cx: Number(c.x), cy: Number(c.y), s: Math.max(1e-6, Number(c.scale)) };
    this.fitted = false;
    this.viewChanged();
  }

  clampScale(s) {
    const fit = this.fitCamera().s;
    return Math.min(Math.max(s, fit / 8), 64);
  }

  zoomTo(s, mx, my) {
    if (!this.cam) return;
    const { w, h: hh } = this.size;
    mx = mx ?? w / 2;
    my = my ?? hh / 2;
    const u = this.cam.cx + (mx - w / 2) / this.cam.s;
    const v = this.cam.cy + (my - hh / 2) / this.cam.s;
    const s2 = this.clampScale(s);
    this.cam = { cx: u - (mx - w / 2) / s2, cy: v - (my - hh / 2) / s2, s: s2 };
    this.fitted = false;
    this.viewChanged(true);
  }

  zoomBy(f, mx, my) {
    if (this.cam) this.zoomTo(this.cam.s * f, mx, my);
  }

  saveCamera() {
    clearTimeout(this.camTimer);
    this.camTimer = setTimeout(() => {
      if (!this.cam || this.destroyed) return;
      this.model.set("camera", { x: this.cam.cx, y: this.cam.cy, scale: this.cam.s });
      this.model.save_changes();
    }, 150);
  }

  bindCanvas() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      if (!this.cam || e.button !== 0) return;
      c.setPointerCapture(e.pointerId);
      drag = { x: e.clientX, y: e.clientY, cx: this.cam.cx, cy: this.cam.cy, moved: false };
    });
    c.addEventListener("pointermove", (e) => {
      const r = c.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      if (drag) {
        const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 0) drag.moved = true;
        this.cam = { ...this.cam, cx: drag.cx - dx / this.cam.s, cy: drag.cy - dy / this.cam.s };
        this.fitted = false;
        this.viewChanged(true);
      } else {
        this.hover(mx, my, "hover");
      }
    });
    const end = (e) => {
      if (!drag) return;
      const r = c.getBoundingClientRect();
      if (!drag.moved) this.hover(e.clientX - r.left, e.clientY - r.top, "click");
      drag = null;
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", () => { drag = null; });
    c.addEventListener("pointerleave", () => { if (!drag) this.readout.textContent = ""; });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      this.zoomBy(Math.exp(-e.deltaY * unit * 0.002), e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    c.addEventListener("dblclick", (e) => {
      const r = c.getBoundingClientRect();
      this.zoomBy(e.shiftKey ? 0.5 : 2, e.clientX - r.left, e.clientY - r.top);
    });
  }

  // level-0 coordinates under a canvas point
  toLevel0(mx, my) {
    const { w, h: hh } = this.size;
    return [this.cam.cy + (my - hh / 2) / this.cam.s, this.cam.cx + (mx - w / 2) / this.cam.s];
  }

  hover(mx, my, kind) {
    if (!this.cam) return;
    const L = this.chooseLevel();
    const lv = this.levels[L];
    const [v, u] = this.toLevel0(mx, my);
    const row = (v - lv.origin[0]) / lv.factor[0], col = (u - lv.origin[1]) / lv.factor[1];
    const inside = row >= 0 && col >= 0 && row < lv.height && col < lv.width;
    const ps = this.info.layout.pixel_size, unit = this.info.layout.unit || "";
    this.readout.textContent = inside
      ? `y ${Math.floor(v)} x ${Math.floor(u)} · level ${L} (${Math.floor(row)}, ${Math.floor(col)})` +
        (unit ? ` · ${fmtNum(v * ps[0])}, ${fmtNum(u * ps[1])} ${unit}` : "")
      : "";
    const now = performance.now();
    if (kind === "hover" && now - (this.lastHover || 0) < 80) return;
    this.lastHover = now;
    this.post({ type: kind, level: L, row: inside ? row : null, col: inside ? col : null,
                render: { indices: this.model.get("indices") } });
  }

  // -- levels and tiles -------------------------------------------------------------------
  chooseLevel() {
    // napari's rule: the coarsest level that still has at least one data pixel per
    // screen (device) pixel
    const sd = this.cam.s * this.dpr;
    let best = 0;
    this.levels.forEach((lv, k) => {
      if (sd * Math.max(lv.factor[0], lv.factor[1]) <= 1 + 1e-9) best = k;
    });
    return best;
  }

  visibleRange(level) {
    const lv = this.levels[level];
    const T = this.model.get("tile_size");
    const { w, h: hh } = this.size;
    const [v0, u0] = this.toLevel0(0, 0);
    const [v1, u1] = this.toLevel0(w, hh);
    const r0 = Math.max(0, Math.floor((v0 - lv.origin[0]) / lv.factor[0]));
    const r1 = Math.min(lv.height, Math.ceil((v1 - lv.origin[0]) / lv.factor[0]));
    const c0 = Math.max(0, Math.floor((u0 - lv.origin[1]) / lv.factor[1]));
    const c1 = Math.min(lv.width, Math.ceil((u1 - lv.origin[1]) / lv.factor[1]));
    const empty = r1 <= r0 || c1 <= c0;
    return {
      rows: [r0, Math.max(r0, r1)], cols: [c0, Math.max(c0, c1)], empty,
      ty: [Math.floor(r0 / T), empty ? Math.floor(r0 / T) - 1 : Math.floor((r1 - 1) / T)],
      tx: [Math.floor(c0 / T), empty ? Math.floor(c0 / T) - 1 : Math.floor((c1 - 1) / T)],
    };
  }

  viewChanged(saveCam) {
    if (!this.cam || this.destroyed) return;
    if (saveCam) this.saveCamera();
    const L = this.chooseLevel();
    if (L !== this.shownLevel) {
      this.shownLevel = L;
      this.model.set("level", L);
      this.model.save_changes();
    }
    this.schedule();
    this.requestDraw();
    this.sendView();
  }

  // -- drawing ----------------------------------------------------------------------------
  requestDraw() {
    if (this.frame || this.destroyed) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  tileRect(level, ty, tx, tw, th) {
    const lv = this.levels[level];
    const T = this.model.get("tile_size");
    const { w, h: hh } = this.size;
    const s = this.cam.s, d = this.dpr;
    const X = (u) => Math.round(((u - this.cam.cx) * s + w / 2) * d);
    const Y = (v) => Math.round(((v - this.cam.cy) * s + hh / 2) * d);
    const u0 = lv.origin[1] + tx * T * lv.factor[1], u1 = lv.origin[1] + (tx * T + tw) * lv.factor[1];
    const v0 = lv.origin[0] + ty * T * lv.factor[0], v1 = lv.origin[0] + (ty * T + th) * lv.factor[0];
    return [X(u0), Y(v0), X(u1) - X(u0), Y(v1) - Y(v0)];
  }

  drawTile(ctx, tile) {
    const b = tile.bitmap;
    const [x, y, w, hh] = this.tileRect(tile.level, tile.ty, tile.tx, b.width, b.height);
    if (w <= 0 || hh <= 0) return;
    // magnified or 1:1: show pixels as they are; minified: smooth
    ctx.imageSmoothingEnabled = w < b.width - 0.5 || hh < b.height - 0.5;
    ctx.drawImage(b, x, y, w, hh);
  }

  draw() {
    if (!this.cam || this.destroyed) return;
    const ctx = this.canvas.getContext("2d", { alpha: false });
    ctx.fillStyle = "#1e1e1e";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const spec = this.renderSpec();
    const rk = this.renderKey(spec);
    const L = this.chooseLevel();
    if (spec.channels.length) {
      const target = this.tilesInView(L);
      // 1. stale tiles (other slice or contrast) where the current one is not there yet
      for (const t of target) {
        if (this.cache.has(this.tileKey(rk, t))) continue;
        const last = this.lastAt.get(`${t.level}/${t.ty}/${t.tx}`);
        const tile = last && this.cache.get(last);
        if (tile) this.drawTile(ctx, tile);
      }
      // 2. current tiles, coarsest level first, the level shown last
      for (let k = this.levels.length - 1; k >= L; k--) {
        for (const t of this.tilesInView(k)) {
          const tile = this.touch(this.tileKey(rk, t));
          if (tile) this.drawTile(ctx, tile);
        }
      }
      // 3. tiles that failed: a red frame
      ctx.strokeStyle = "#d62f2f";
      for (const t of target) {
        const f = this.failed.get(this.tileKey(rk, t));
        if (!f || f.until !== Infinity) continue;
        const T = this.model.get("tile_size"), lv = this.levels[L];
        const [x, y, w, hh] = this.tileRect(L, t.ty, t.tx, Math.min(T, lv.width - t.tx * T),
                                            Math.min(T, lv.height - t.ty * T));
        ctx.strokeRect(x + 0.5, y + 0.5, w - 1, hh - 1);
      }
    }
    if (this.gridToggle.checked) this.drawChunkOverlay(ctx);
    this.updateState();
  }

  drawChunkOverlay(ctx) {
    const g = this.inspector && this.inspector.get("grid");
    if (!g || g.level === undefined || g.level !== this.chooseLevel()) return;
    const lv = this.levels[g.level];
    const { w, h: hh } = this.size;
    const s = this.cam.s, d = this.dpr;
    const X = (c) => ((lv.origin[1] + c * lv.factor[1] - this.cam.cx) * s + w / 2) * d;
    const Y = (r) => ((lv.origin[0] + r * lv.factor[0] - this.cam.cy) * s + hh / 2) * d;
    const [cr, cc] = g.chunk, [br, bc] = g.block;
    ctx.save();
    ctx.globalAlpha = 0.28;
    for (let i = 0; i < g.nr; i++) {
      for (let j = 0; j < g.nc; j++) {
        const st = Number(g.states[i * g.nc + j]);
        if (st === 0) continue;
        const r0 = (g.first[0] + i * br) * cr, c0 = (g.first[1] + j * bc) * cc;
        const r1 = Math.min(g.shape[0], r0 + br * cr), c1 = Math.min(g.shape[1], c0 + bc * cc);
        ctx.fillStyle = STATE_COLORS[st] || "#888";
        ctx.fillRect(X(c0), Y(r0), X(c1) - X(c0), Y(r1) - Y(r0));
      }
    }
    ctx.globalAlpha = 0.6;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 1;
    ctx.beginPath();
    const [[er0, er1], [ec0, ec1]] = g.extent;
    for (let r = er0; r <= er1; r += cr * br) { ctx.moveTo(X(ec0), Y(r)); ctx.lineTo(X(ec1), Y(r)); }
    for (let c = ec0; c <= ec1; c += cc * bc) { ctx.moveTo(X(c), Y(er0)); ctx.lineTo(X(c), Y(er1)); }
    ctx.stroke();
    ctx.strokeStyle = "#ffcc00";
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (const r of g.shard_rows) { ctx.moveTo(X(ec0), Y(r)); ctx.lineTo(X(ec1), Y(r)); }
    for (const c of g.shard_cols) { ctx.moveTo(X(c), Y(er0)); ctx.lineTo(X(c), Y(er1)); }
    ctx.stroke();
    ctx.restore();
  }

  updateState() {
    if (!this.cam) return;
    const spec = this.renderSpec();
    const rk = this.renderKey(spec);
    const L = this.chooseLevel();
    const target = spec.channels.length ? this.tilesInView(L) : [];
    let have = 0, bad = 0;
    for (const t of target) {
      const key = this.tileKey(rk, t);
      if (this.cache.has(key)) have++;
      else if (this.failed.get(key)?.until === Infinity) bad++;
    }
    const done = have + bad === target.length && this.transport !== null;
    const state = done ? "idle" : "loading";
    if (done && this.stats.firstCompleteMs === null) this.stats.firstCompleteMs = performance.now() - this.stats.t0;
    const lv = this.levels[L];
    this.root.dataset.level = L;
    this.root.dataset.rk = rk;
    const zoom = this.cam.s * this.dpr * 100; // of level 0: 100 % = one level-0 pixel per device pixel
    this.levelLabel.textContent = `level ${L}/${this.levels.length - 1} · ${lv.height}×${lv.width}` +
      ` · zoom ${zoom >= 10 ? zoom.toFixed(0) : zoom.toPrecision(2)}%`;
    const err = bad ? ` · ${bad} failed: ${this.stats.lastError}` : "";
    this.statusLabel.textContent = `${have}/${target.length} tiles · ${this.transport || "…"}${err}`;
    this.statusLabel.title = this.stats.lastError || "";
    if (this.root.dataset.state !== state) {
      this.root.dataset.state = state;
      // tell Python (debounced: the state flips at every tile while panning)
      clearTimeout(this.statusTimer);
      this.statusTimer = setTimeout(() => {
        if (this.destroyed) return;
        this.model.set("status", { state: this.root.dataset.state, level: this.chooseLevel(),
                                   transport: this.transport, failed: bad,
                                   error: bad ? this.stats.lastError : "" });
        this.model.save_changes();
      }, 200);
    }
  }

  viewMessage(L, vr) {
    const lv0 = this.levels[0];
    return { level: L, rows: vr.rows, cols: vr.cols, canvas: [this.size.h, this.size.w],
             view0: [Math.min(lv0.height, this.size.h / this.cam.s), Math.min(lv0.width, this.size.w / this.cam.s)],
             render: { indices: this.model.get("indices") } };
  }

  sendView() {
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => {
      if (!this.cam || !this.transport || this.destroyed) return;
      const L = this.chooseLevel();
      this.post({ type: "view", ...this.viewMessage(L, this.visibleRange(L)) });
    }, 120);
  }

  // -- inspector ----------------------------------------------------------------------------
  async connectInspector() {
    const ref = this.model.get("_inspector");
    if (!ref || typeof ref !== "string") { this.inspectorBox.style.display = "none"; return; }
    const id = ref.replace(/^IPY_MODEL_/, "");
    try {
      this.inspector = await this.model.widget_manager.get_model(id);
    } catch (e) {
      this.inspectorBox.textContent = `inspector unavailable: ${e}`;
      return;
    }
    if (this.destroyed) return;
    this.panels = new Panels(this, this.inspector, this.inspectorBox);
  }

  destroy() {
    this.destroyed = true;
    this.aborter.abort();
    cancelAnimationFrame(this.frame);
    clearTimeout(this.camTimer);
    clearTimeout(this.viewTimer);
    clearTimeout(this.statusTimer);
    this.resizeObserver.disconnect();
    this.model.off("msg:custom", this.onCustom);
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    for (const v of this.cache.values()) v.bitmap.close?.();
    this.cache.clear();
    this.panels?.destroy();
  }
}

Object.assign(Viewer.prototype, Controls, Tiles);

function render({ model, el }) {
  const viewer = new Viewer(model, el);
  const live = setInterval(() => viewer.panels?.tab === "loading" && viewer.panels.renderLoading(), 1000);
  return () => { clearInterval(live); viewer.destroy(); };
}

export default { render };
