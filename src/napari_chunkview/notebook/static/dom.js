// Constants and small DOM / number helpers shared by the viewer's files.
// (static/*.js are concatenated into one ES module by _widget.py, in the order
// dom, controls, tiles, panels, viewer: anywidget loads the module from a blob URL,
// where relative imports cannot work.)

const STATE_COLORS = ["#3a3a3a", "#e6b800", "#2e9e44", "#4a6fd6", "#d62f2f", "#8bc99a"];
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const MAX_CACHED_TILES = 256; // 256² RGBA bitmaps: ≤ 64 MB per view
const REQUEST_TIMEOUT_MS = 60000;
const RETRY_MS = [500, 2000, 8000];

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  // keys typed into our controls (arrows on a slider, digits) are not notebook shortcuts:
  // Lumino checks the focused element itself against selectors like ":focus", so the
  // attribute goes on every control, not only on the root
  if (tag === "input" || tag === "select" || tag === "button" || tag === "canvas") {
    e.setAttribute("data-lm-suppress-shortcuts", "true");
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function fmtNum(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4);
}

function toBytes(buf) {
  if (buf instanceof Uint8Array) return buf;
  if (buf instanceof ArrayBuffer) return new Uint8Array(buf);
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return new Uint8Array(0);
}
