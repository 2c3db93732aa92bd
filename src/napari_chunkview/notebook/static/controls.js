// Sliders for the axes not drawn, and a window / colour / visibility row per channel:
// methods of Viewer (mixed in), synced both ways with the model's traits.

const Controls = {
  buildSliders() {
    this.sliders.replaceChildren();
    this.sliderInputs = {};
    const indices = this.model.get("indices");
    for (const s of this.layout.sliders) {
      const range = h("input", { type: "range", min: 0, max: s.size - 1, step: 1,
                                 value: indices[s.name] ?? 0, "data-axis": s.name });
      const num = h("input", { type: "number", min: 0, max: s.size - 1, step: 1,
                               value: indices[s.name] ?? 0, class: "cv-num" });
      const set = (v) => {
        v = Math.max(0, Math.min(s.size - 1, Math.round(Number(v))));
        if (!Number.isFinite(v)) return;
        range.value = v;
        num.value = v;
        const next = { ...this.model.get("indices"), [s.name]: v };
        this.model.set("indices", next);
        this.model.save_changes();
        this.viewChanged();
      };
      range.addEventListener("input", () => set(range.value));
      num.addEventListener("change", () => set(num.value));
      this.sliderInputs[s.name] = { range, num };
      this.sliders.append(h("div", { class: "cv-slider" },
        h("span", { class: "cv-axis", text: s.name }), range, num,
        h("span", { class: "cv-of", text: `/ ${s.size - 1}` })));
    }
  },

  syncSliders() {
    const indices = this.model.get("indices");
    for (const [name, { range, num }] of Object.entries(this.sliderInputs)) {
      const v = indices[name] ?? 0;
      if (Number(range.value) !== v) range.value = v;
      if (Number(num.value) !== v) num.value = v;
    }
  },

  buildChannels() {
    this.channelBox.replaceChildren();
    this.channelRows = [];
    const chans = this.model.get("channels");
    const composite = this.layout.composite;
    chans.forEach((c, i) => {
      const [rlo, rhi] = c.range || c.window;
      const step = this.info.dtype.startsWith("float") ? (rhi - rlo) / 1000 || 1e-6 : 1;
      const mk = (cls) => h("input", { type: "range", class: cls, min: rlo, max: rhi, step });
      const lo = mk("cv-lo"), hi = mk("cv-hi");
      const loN = h("input", { type: "number", class: "cv-num", step });
      const hiN = h("input", { type: "number", class: "cv-num", step });
      const vis = h("input", { type: "checkbox", title: "Show this channel" });
      const color = h("input", { type: "color", title: "Colour" });
      const update = (patch) => {
        const list = this.model.get("channels").map((x) => ({ ...x }));
        Object.assign(list[i], patch);
        this.model.set("channels", list);
        this.model.save_changes();
        this.syncChannels();
        this.viewChanged();
      };
      const setWindow = (a, b) => {
        a = Number(a); b = Number(b);
        if (!Number.isFinite(a) || !Number.isFinite(b)) return;
        update({ window: [a, b] });
      };
      lo.addEventListener("input", () => setWindow(lo.value, this.model.get("channels")[i].window[1]));
      hi.addEventListener("input", () => setWindow(this.model.get("channels")[i].window[0], hi.value));
      loN.addEventListener("change", () => setWindow(loN.value, this.model.get("channels")[i].window[1]));
      hiN.addEventListener("change", () => setWindow(this.model.get("channels")[i].window[0], hiN.value));
      vis.addEventListener("change", () => update({ visible: vis.checked }));
      color.addEventListener("input", () => update({ color: color.value.toUpperCase() }));
      const auto = h("button", { class: "cv-btn", text: "auto", title: "Window from the coarsest level's plane",
                                 onclick: () => this.model.send({ type: "auto_contrast", channel: i }) });
      const row = h("div", { class: "cv-channel", "data-channel": i },
        composite ? vis : null, color, h("span", { class: "cv-name", text: c.name }),
        lo, loN, hi, hiN, auto);
      this.channelRows.push({ lo, hi, loN, hiN, vis, color, row });
      this.channelBox.append(row);
    });
    this.syncChannels();
  },

  syncChannels() {
    const chans = this.model.get("channels");
    const composite = this.layout.composite;
    const cur = this.currentChannel();
    chans.forEach((c, i) => {
      const r = this.channelRows[i];
      if (!r) return;
      const [a, b] = c.window;
      if (Number(r.lo.value) !== a) r.lo.value = a;
      if (Number(r.hi.value) !== b) r.hi.value = b;
      if (Number(r.loN.value) !== a) r.loN.value = fmtNum(a);
      if (Number(r.hiN.value) !== b) r.hiN.value = fmtNum(b);
      r.vis.checked = c.visible !== false;
      r.color.value = (c.color || "#ffffff").toLowerCase();
      r.row.style.display = composite || i === cur ? "" : "none";
    });
  },

  currentChannel() {
    const ch = this.layout.channel_axis;
    if (ch === null || ch === undefined || this.layout.composite) return 0;
    return this.model.get("indices")[this.layout.axes[ch]] ?? 0;
  },
};
