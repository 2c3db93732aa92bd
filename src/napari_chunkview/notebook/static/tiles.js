// Which tiles are wanted (coarse first, then the view, then a ring around it), the
// requests in flight over the chosen transport (the kernel's loopback HTTP server or
// widget messages), decoding and the tile cache: methods of Viewer (mixed in).

const Tiles = {
  // tiles of `level` in view, nearest the centre first; with `margin`, only the ring of
  // `margin` tiles around the view (prefetched while panning)
  tilesInView(level, margin = 0) {
    const vr = this.visibleRange(level);
    const out = [];
    if (vr.empty) return out;
    const T = this.model.get("tile_size");
    const lv = this.levels[level];
    const [cv, cu] = [this.cam.cy, this.cam.cx];
    const ny = Math.ceil(lv.height / T), nx = Math.ceil(lv.width / T);
    const y0 = Math.max(0, vr.ty[0] - margin), y1 = Math.min(ny - 1, vr.ty[1] + margin);
    const x0 = Math.max(0, vr.tx[0] - margin), x1 = Math.min(nx - 1, vr.tx[1] + margin);
    for (let ty = y0; ty <= y1; ty++) {
      for (let tx = x0; tx <= x1; tx++) {
        if (margin && ty >= vr.ty[0] && ty <= vr.ty[1] && tx >= vr.tx[0] && tx <= vr.tx[1]) continue;
        const v = lv.origin[0] + (ty + 0.5) * T * lv.factor[0];
        const u = lv.origin[1] + (tx + 0.5) * T * lv.factor[1];
        out.push({ level, ty, tx, d: (v - cv) ** 2 + (u - cu) ** 2 });
      }
    }
    out.sort((a, b) => a.d - b.d);
    return out;
  },

  renderSpec() {
    const chans = this.model.get("channels");
    const indices = this.model.get("indices");
    let channels;
    if (this.layout.composite) {
      channels = chans.filter((c) => c.visible !== false)
        .map((c) => ({ index: c.index, color: c.color, window: c.window }));
    } else {
      const c = chans[this.currentChannel()] || chans[0];
      channels = [{ index: c.index, color: c.color, window: c.window }];
    }
    return { indices, channels };
  },

  renderKey(spec) {
    const text = JSON.stringify([spec, this.model.get("tile_size")]);
    let id = this.rkIds.get(text);
    if (id === undefined) {
      id = this.rkIds.size + 1;
      this.rkIds.set(text, id);
    }
    return id;
  },

  tileKey(rk, t) {
    return `${rk}|${t.level}/${t.ty}/${t.tx}`;
  },

  schedule() {
    if (!this.cam || !this.transport) return;
    const spec = this.renderSpec();
    const rk = this.renderKey(spec);
    const L = this.chooseLevel();
    const target = this.tilesInView(L);
    const batches = [];
    // coarse tiles first: the finest coarser level that covers the view in ≤ 4 tiles
    if (spec.channels.length) {
      for (let k = L + 1; k < this.levels.length; k++) {
        const coarse = this.tilesInView(k);
        if (coarse.length <= 4) {
          batches.push(coarse);
          break;
        }
      }
      batches.push(target);
      batches.push(this.tilesInView(L, 1)); // then the ring around the view
    }
    const now = performance.now();
    this.queue = [];
    for (const batch of batches) {
      const group = [];
      for (const t of batch) {
        const key = this.tileKey(rk, t);
        if (this.cache.has(key) || this.pending.has(key)) continue;
        const f = this.failed.get(key);
        if (f && (f.until === Infinity || now < f.until)) continue;
        group.push({ key, level: t.level, ty: t.ty, tx: t.tx });
      }
      if (group.length) this.queue.push({ rk, spec, tiles: group });
    }
    this.pump();
  },

  pump() {
    const max = Math.max(1, this.model.get("max_in_flight"));
    const per = Math.max(1, this.model.get("tiles_per_request"));
    while (this.inflight < max && this.queue.length) {
      const group = this.queue[0];
      const tiles = group.tiles.splice(0, per);
      if (!group.tiles.length) this.queue.shift();
      this.request(group, tiles);
    }
    this.updateState();
  },

  async request(group, tiles) {
    for (const t of tiles) this.pending.add(t.key);
    this.inflight++;
    const L = this.chooseLevel();
    const vr = this.visibleRange(L);
    const msg = {
      type: "tiles", id: this.nextId++, tile_size: this.model.get("tile_size"),
      format: this.model.get("tile_format"),
      local: this.transport === "http" || LOOPBACK.has(location.hostname),
      render: group.spec,
      tiles: tiles.map((t) => ({ level: t.level, ty: t.ty, tx: t.tx })),
      view: this.viewMessage(L, vr),
    };
    const t0 = performance.now();
    this.stats.requests++;
    let reply = null, error = "";
    try {
      reply = await this.send(msg);
    } catch (e) {
      error = String(e && e.message ? e.message : e);
    }
    this.inflight--;
    if (this.destroyed) return;
    this.stats.rtts.push(performance.now() - t0);
    if (this.stats.rtts.length > 1000) this.stats.rtts.splice(0, 500);
    const byRef = new Map(tiles.map((t) => [`${t.level}/${t.ty}/${t.tx}`, t]));
    const decoding = [];
    if (reply) {
      const { header, buffers } = reply;
      (header.tiles || []).forEach((entry, i) => {
        const t = byRef.get(`${entry.level}/${entry.ty}/${entry.tx}`);
        if (!t) return;
        byRef.delete(`${entry.level}/${entry.ty}/${entry.tx}`);
        if (entry.error) {
          this.tileFailed(t, entry.error, true);
          return;
        }
        decoding.push(this.decode(entry, buffers[i]).then((bitmap) => {
          this.store(group.rk, t, bitmap);
          this.stats.tiles++;
          this.stats.bytes += buffers[i].byteLength;
        }, (e) => this.tileFailed(t, `decode: ${e}`, true)));
      });
      if (header.error && !header.tiles?.length) error = header.error;
    }
    for (const t of byRef.values()) this.tileFailed(t, error || "no answer for this tile", false);
    await Promise.all(decoding);
    for (const t of tiles) this.pending.delete(t.key);
    if (!this.destroyed) {
      this.schedule();
      this.requestDraw();
    }
  },

  tileFailed(t, error, permanent) {
    const f = this.failed.get(t.key) || { attempts: 0 };
    f.attempts++;
    f.error = error;
    f.until = permanent || f.attempts > RETRY_MS.length ? Infinity : performance.now() + RETRY_MS[f.attempts - 1];
    this.failed.set(t.key, f);
    this.stats.errors++;
    this.stats.lastError = error;
    if (!permanent && f.until !== Infinity) setTimeout(() => this.schedule(), RETRY_MS[f.attempts - 1] + 10);
    if (!permanent && this.transport === "http" && f.attempts >= 2) {
      // the tile server went away (kernel restarted?): fall back to comm messages
      this.transport = "comm";
      this.root.dataset.transport = "comm";
    }
  },

  send(msg) {
    if (this.transport === "http") {
      return fetch(`${this.model.get("_tile_url")}/msg`, {
        method: "POST", body: JSON.stringify(msg), cache: "no-store",
        headers: { "Content-Type": "text/plain" },
        signal: AbortSignal.any([this.aborter.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      }).then(async (r) => {
        if (!r.ok) throw new Error(`tile server: HTTP ${r.status} ${await r.text()}`);
        const body = new Uint8Array(await r.arrayBuffer());
        const n = new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true);
        const header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + n)));
        const rest = body.subarray(4 + n);
        const buffers = (header.tiles || []).map((e) =>
          e.length ? rest.subarray(e.offset, e.offset + e.length) : new Uint8Array(0));
        return { header, buffers };
      });
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msg.id);
        reject(new Error(`no reply from the kernel in ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(msg.id, { resolve, reject, timer });
      this.model.send(msg);
    });
  },

  // fire-and-forget messages the tile server may carry (view, hover, click, select_node)
  post(msg) {
    if (this.transport === "http") {
      fetch(`${this.model.get("_tile_url")}/msg`, {
        method: "POST", body: JSON.stringify(msg), headers: { "Content-Type": "text/plain" },
        signal: this.aborter.signal,
      }).catch(() => {});
    } else if (this.transport) {
      this.model.send(msg);
    }
  },

  async decode(entry, bytes) {
    if (entry.format === "raw") {
      const n = entry.w * entry.h;
      const rgba = new Uint8ClampedArray(n * 4);
      if (entry.mode === "L") {
        for (let i = 0, j = 0; i < n; i++, j += 4) {
          const g = bytes[i];
          rgba[j] = g; rgba[j + 1] = g; rgba[j + 2] = g; rgba[j + 3] = 255;
        }
      } else {
        for (let i = 0, j = 0, k = 0; i < n; i++, j += 4, k += 3) {
          rgba[j] = bytes[k]; rgba[j + 1] = bytes[k + 1]; rgba[j + 2] = bytes[k + 2]; rgba[j + 3] = 255;
        }
      }
      return createImageBitmap(new ImageData(rgba, entry.w, entry.h),
                               { premultiplyAlpha: "none", colorSpaceConversion: "none" });
    }
    const type = entry.format === "png" ? "image/png" : "image/jpeg";
    return createImageBitmap(new Blob([bytes], { type }),
                             { premultiplyAlpha: "none", colorSpaceConversion: "none" });
  },

  store(rk, t, bitmap) {
    if (this.destroyed) { bitmap.close?.(); return; }
    const old = this.cache.get(t.key);
    if (old) old.bitmap.close?.();
    this.cache.set(t.key, { bitmap, level: t.level, ty: t.ty, tx: t.tx, rk });
    this.failed.delete(t.key);
    const pos = `${t.level}/${t.ty}/${t.tx}`;
    this.lastAt.set(pos, t.key);
    if (this.stats.firstTileMs === null) this.stats.firstTileMs = performance.now() - this.stats.t0;
    while (this.cache.size > MAX_CACHED_TILES) {
      const [k, v] = this.cache.entries().next().value;
      this.cache.delete(k);
      v.bitmap.close?.();
    }
  },

  touch(key) {
    const v = this.cache.get(key);
    if (v) { this.cache.delete(key); this.cache.set(key, v); }
    return v;
  },
};
