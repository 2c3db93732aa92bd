// The inspector's panels, drawn from the inspector model's traits.
class Panels {
  constructor(viewer, im, box) {
    this.viewer = viewer;
    this.im = im;
    this.ctx = {};
    this.tab = "metadata";
    const tabs = [["metadata", "Metadata"], ["levels", "Levels"], ["chunks", "Chunks"],
                  ["loading", "Loading"], ["qc", "QC"]];
    this.buttons = {};
    this.bodies = {};
    const bar = h("div", { class: "cv-tabs" });
    const bodies = h("div", { class: "cv-panels" });
    for (const [key, label] of tabs) {
      this.buttons[key] = h("button", { class: "cv-tab", text: label, "data-tab": key,
                                        onclick: () => this.select(key) });
      this.bodies[key] = h("div", { class: "cv-panel", "data-panel": key });
      bar.append(this.buttons[key]);
      bodies.append(this.bodies[key]);
    }
    box.replaceChildren(bar, bodies);
    this.select("metadata");
    const on = (names, fn) => {
      for (const n of names) im.on(`change:${n}`, fn, this.ctx);
    };
    on(["message", "header", "tree", "tree_status", "attrs", "levels"], () => { this.renderMetadata(); this.renderLevels(); });
    on(["grid", "chunk"], () => { this.renderChunks(); viewer.requestDraw(); });
    on(["live"], () => this.renderLoading());
    on(["qc"], () => this.renderQC());
    this.renderMetadata(); this.renderLevels(); this.renderChunks(); this.renderLoading(); this.renderQC();
  }

  destroy() { this.im.off(null, null, this.ctx); }

  select(key) {
    this.tab = key;
    for (const [k, b] of Object.entries(this.buttons)) b.classList.toggle("cv-active", k === key);
    for (const [k, b] of Object.entries(this.bodies)) b.style.display = k === key ? "" : "none";
  }

  renderMetadata() {
    const im = this.im, body = this.bodies.metadata;
    const hd = im.get("header") || {};
    const msg = im.get("message");
    const levels = im.get("levels") || [];
    const dl = h("dl", { class: "cv-dl" });
    const row = (k, v) => { if (v) dl.append(h("dt", { text: k }), h("dd", { text: v })); };
    row("Name", hd.title); row("URI", hd.uri); row("Format", hd.format);
    row("Convention", hd.convention); row("Why", hd.reason);
    const codecs = h("table", { class: "cv-table cv-codecs" },
      h("thead", {}, h("tr", {}, h("th", { text: "Level" }), h("th", { text: "Codec chain" }))),
      h("tbody", {}, ...levels.map((r) => h("tr", { "data-level": r.index },
        h("td", { text: r.cells.level }), h("td", { class: "cv-codec", text: r.codecs })))));
    const warn = (hd.warnings || []).map((w) => h("div", { class: "cv-warning", text: `⚠ ${w}` }));
    const tree = h("div", { class: "cv-tree" });
    const t = im.get("tree");
    const self = this;
    function node(n) {
      const label = h("span", { class: "cv-node", text: `${n.name || "/"}${n.role ? ` — ${n.role}` : ""}`,
                                title: n.summary || "", onclick: () => self.viewer.post({ type: "select_node", path: n.path }) });
      if (!n.children) return h("div", { class: "cv-leaf" }, label);
      const d = h("details", { open: true }, h("summary", {}, label));
      for (const c of n.children) d.append(node(c));
      return d;
    }
    if (t && t.name !== undefined) tree.append(node(t));
    const attrs = im.get("attrs") || {};
    function item(a) {
      if (!a.children) return h("div", { class: "cv-attr" }, h("b", { text: `${a.key}: ` }), a.text);
      const d = h("details", {}, h("summary", {}, h("b", { text: a.key }), a.text ? ` ${a.text}` : ""));
      for (const c of a.children) d.append(item(c));
      return d;
    }
    const attrBox = h("div", { class: "cv-attrs" }, h("div", { class: "cv-subtitle", text: attrs.title || "" }),
      ...(attrs.items || []).map(item));
    body.replaceChildren(
      ...(msg ? [h("div", { class: "cv-message", text: msg })] : []), dl, ...warn,
      h("div", { class: "cv-subtitle", text: "Codecs" }), codecs,
      h("div", { class: "cv-cols" },
        h("div", {}, h("div", { class: "cv-subtitle", text: `Hierarchy (${im.get("tree_status") || ""})` }), tree),
        attrBox));
  }

  renderLevels() {
    const cols = this.im.get("columns") || [];
    const rows = this.im.get("levels") || [];
    const shown = this.viewer.shownLevel;
    this.bodies.levels.replaceChildren(h("div", { class: "cv-scroll" }, h("table", { class: "cv-table" },
      h("thead", {}, h("tr", {}, ...cols.map(([, label]) => h("th", { text: label })))),
      h("tbody", {}, ...rows.map((r) => h("tr", { class: r.index === shown ? "cv-current" : "" },
        ...cols.map(([key]) => h("td", { text: r.cells[key] ?? "" }))))))));
  }

  renderChunks() {
    const g = this.im.get("grid") || {};
    const chunk = this.im.get("chunk") || {};
    const body = this.bodies.chunks;
    const legend = h("div", { class: "cv-legend" },
      ...(g.names || []).map((n, i) => h("span", {}, h("i", { style: `background:${STATE_COLORS[i]}` }),
        ` ${n.replace("_", " ")}${g.counts && g.counts[n] ? ` (${g.counts[n]})` : ""}`)));
    const map = h("canvas", { class: "cv-chunkmap" });
    if (g.nr) {
      const cell = Math.max(2, Math.min(24, Math.floor(360 / Math.max(g.nr, g.nc))));
      map.width = g.nc * cell; map.height = g.nr * cell;
      const ctx = map.getContext("2d");
      for (let i = 0; i < g.nr; i++) for (let j = 0; j < g.nc; j++) {
        ctx.fillStyle = STATE_COLORS[Number(g.states[i * g.nc + j])] || "#888";
        ctx.fillRect(j * cell, i * cell, cell - (cell > 4 ? 1 : 0), cell - (cell > 4 ? 1 : 0));
      }
    }
    const note = g.nr
      ? `Level ${g.level}: ${g.n_chunks} chunks in view (${g.nr}×${g.nc} cells` +
        `${g.block[0] > 1 ? `, 1 cell = ${g.block[0]}×${g.block[1]} chunks` : ""}); chunk ${g.chunk.join("×")} px`
      : "No view yet.";
    body.replaceChildren(h("div", { class: "cv-subtitle", text: note }), legend, map,
      h("pre", { class: "cv-pre", text: (chunk.lines || ["Hover over the image to see its chunk; click to pin it."]).join("\n") }));
  }

  renderLoading() {
    const live = this.im.get("live") || {};
    const st = this.viewer.stats;
    const rtt = st.rtts.length ? [...st.rtts].sort((a, b) => a - b)[Math.floor(st.rtts.length / 2)] : 0;
    const lines = [...(live.lines || []),
      `Browser: ${st.tiles} tiles in ${st.requests} requests over ${this.viewer.transport || "…"}` +
      ` · median round trip ${rtt.toFixed(1)} ms · ${(st.bytes / 1e6).toFixed(2)} MB received`];
    this.bodies.loading.replaceChildren(h("pre", { class: "cv-pre", text: lines.join("\n") }));
  }

  renderQC() {
    const qc = this.im.get("qc") || {};
    const body = this.bodies.qc;
    const sample = h("select", {}, ...[["", "all chunks"], ["0.1", "10 % sample"], ["0.01", "1 % sample"]]
      .map(([v, t]) => h("option", { value: v, text: t })));
    const run = h("button", { class: "cv-btn", text: qc.status === "running" ? "Cancel" : "Run QC",
      onclick: () => this.viewer.model.send(qc.status === "running" ? { type: "qc_cancel" }
                                                                    : { type: "qc", sample: sample.value || null }) });
    const head = h("div", { class: "cv-row" }, run, sample);
    const out = [head];
    if (qc.status === "running") {
      out.push(h("div", { text: `Running: ${qc.phase} ${qc.done ?? ""}${qc.total ? ` / ${qc.total}` : ""}` }));
    } else if (qc.status === "failed") {
      out.push(h("div", { class: "cv-warning", text: `QC failed: ${qc.error}` }));
    } else if (qc.summary) {
      const s = qc.summary;
      out.push(h("div", { class: "cv-subtitle",
        text: `${qc.status === "cancelled" ? "Partial: " : ""}${s.error} errors · ${s.warning} warnings · ${s.info} notes (${qc.seconds.toFixed(1)} s)` }));
      if (!qc.findings.length) out.push(h("div", { text: "No findings." }));
      else out.push(h("table", { class: "cv-table cv-findings" },
        h("thead", {}, h("tr", {}, ...["Severity", "Code", "What", "Where", "×"].map((x) => h("th", { text: x })))),
        h("tbody", {}, ...qc.findings.map((f) => h("tr", { class: `cv-sev-${f.severity}`, title: `Why: ${f.why}\nFix: ${f.fix}` },
          h("td", { text: f.severity }), h("td", { text: f.code }), h("td", { text: f.what }),
          h("td", { text: f.where }), h("td", { text: String(f.count) }))))));
    } else {
      out.push(h("div", { text: "Checks the metadata, the pyramid's geometry, every chunk's integrity and the storage figures." }));
    }
    body.replaceChildren(...out);
  }
}
