// The hitstream dashboard. Everything that comes from a log line is put on the page with
// textContent or as SVG text nodes, never as markup; charts are SVG drawn here.
"use strict";

// The token as the server reads it: `%XX` decoded, `+` kept as `+` (URLSearchParams would make
// it a space and break a base64 token typed into the address bar).
const tokenOf = (search) => {
  for (const kv of search.replace(/^\?/, "").split("&")) {
    if (!kv.startsWith("token=")) continue;
    const raw = kv.slice("token=".length);
    try { return decodeURIComponent(raw); } catch (_) { return raw; }
  }
  return null;
};
const token = tokenOf(location.search);
const withToken = (u) => token ? u + (u.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : u;
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

let windows = new Map(); // "start-end" -> latest revision
let mode = "live";       // or "range"
let lastStatus = null;
// From /api/status only: the pushed statuses are the pipeline's and do not say it.
let hasLake = false;

function fmt(n) {
  if (n === null || n === undefined) return "–";
  if (typeof n !== "number") return String(n);
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + " G";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + " M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

function table(id, rows, cols) {
  const t = $(id);
  clear(t);
  if (!rows.length) {
    const tr = t.insertRow(); const td = tr.insertCell();
    td.textContent = "nothing yet"; td.className = "note";
    return;
  }
  for (const r of rows) {
    const tr = t.insertRow();
    cols.forEach((c, i) => {
      const td = tr.insertCell();
      td.textContent = i === 0 ? String(r[c]) : fmt(r[c]);
      // A name cut short by its column shows in full on hover (and in the tooltip).
      if (i === 0) { td.title = String(r[c]); td.className = "k"; } else td.className = "n";
    });
  }
}

// Without a pipeline (`hitstream serve`) there are no counters to show: zeros would say that
// a pipeline read nothing. The panel says so and shows what the lake holds instead.
let lakeFacts = null; // /api/history/bounds, once read
const utcTime = (secs) => (secs === null || secs === undefined ? null
  : new Date(secs * 1000).toISOString().slice(0, 19).replace("T", " ") + " " + TIME_BASIS);

// Seconds as a person reads them: "42 s", "7 min", "3.5 h", "12.4 days", "11.6 years".
function duration(s) {
  if (s === null || s === undefined) return null;
  const a = Math.abs(s), sign = s < 0 ? "-" : "";
  if (a < 120) return `${sign}${Math.round(a)} s`;
  if (a < 7200) return `${sign}${Math.round(a / 60)} min`;
  if (a < 172800) return `${sign}${(a / 3600).toFixed(1)} h`;
  if (a < 2 * 31557600) return `${sign}${(a / 86400).toFixed(1)} days`;
  return `${sign}${(a / 31557600).toFixed(1)} years`;
}

function healthItems(dl, items) {
  for (const [k, v] of items) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = fmt(v);
    dd.dataset.metric = k;
    dd.title = dd.textContent;
    // One box per pair, so that a label never wraps away from its value.
    const item = document.createElement("div");
    item.append(dt, dd);
    dl.append(item);
  }
}

function health(st) {
  const dl = $("health-list");
  clear(dl);
  const c = st.counters || {};
  const ph = $("phase");
  $("health-note").textContent = "";
  if (!st.live) {
    ph.textContent = "lake only"; ph.className = "badge ended";
    $("health-note").textContent = "lake only — no live pipeline; what the lake holds:";
    const f = lakeFacts || {};
    healthItems(dl, [
      // Exact, grouped by thousands: a count of stored rows is checked, not glanced at.
      ["rows in the lake", lakeFacts ? Number(f.rows).toLocaleString("en-US") : null], ["first event", utcTime(f.first)],
      ["last event", utcTime(f.last)], ["last commit", utcTime(f.last_commit)],
    ]);
    return;
  }
  // The watermark stops with the pipeline or its input: a delay would mean nothing then.
  const over = st.ended || st.input_ended;
  const d = st.watermark_delay_seconds;
  const delay = over ? "ended" : (Math.abs(d) < 1e10 ? duration(d) : null);
  const items = [
    ["lines in", c.lines], ["ok", c.ok], ["degraded", c.degraded], ["rejected", c.rejected],
    ["late", c.late], ["lost", c.lost], ["lines/s", st.lines_per_sec],
    ["lag behind the source", st.lag_records !== null && st.lag_records !== undefined
      ? fmt(st.lag_records) + " records" : (st.lag_bytes !== null && st.lag_bytes !== undefined ? fmt(st.lag_bytes) + " B" : null)],
    ["watermark delay", delay], ["last epoch", st.epoch],
    ["last commit took (s)", st.last_commit_seconds], ["buffered rows", st.buffered_rows],
  ];
  healthItems(dl, items);
  ph.textContent = st.live ? (st.ended ? "ended" : st.phase) : "lake only";
  ph.className = "badge " + (st.ended ? "ended" : st.phase);
}

// Charts are SVG drawn at the element's own width (redrawn when the page is resized), so
// that their text is never stretched. Times on the axes are UTC, the clock of the windows,
// the lake and the range picker.
const TIME_BASIS = "UTC";
const H = 180, M = { l: 50, r: 58, t: 20, b: 24 }; // r: with a right value axis

function svgEl(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgRoot(el) {
  const w = Math.max(320, Math.round(el.clientWidth || 800));
  const svg = svgEl("svg", { viewBox: `0 0 ${w} ${H}`, width: w, height: H });
  return [svg, w];
}

// Round steps for the time axis, in seconds, from a second to a month.
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
  21600, 43200, 86400, 172800, 604800, 2592000];

function timeTicks(t0, t1, most) {
  const span = Math.max(1, t1 - t0);
  let i = TIME_STEPS.findIndex((s) => span / s <= most);
  const of = (step) => {
    const ticks = [];
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) ticks.push(t);
    return [ticks, step];
  };
  if (i < 0) return of(Math.ceil(span / most / 86400) * 86400);
  // Round steps can leave a single tick in the span: one step finer then.
  let r = of(TIME_STEPS[i]);
  while (r[0].length < 2 && i > 0) r = of(TIME_STEPS[--i]);
  return r;
}

// "HH:MM" (":SS" for steps under a minute); a tick at midnight, or every tick when the step
// is a day or more, shows its date instead.
function timeLabel(t, step) {
  const iso = new Date(t * 1000).toISOString();
  if (step >= 86400 || t % 86400 === 0) return iso.slice(5, 10);
  return step < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
}

// 0, then round steps (1, 2 or 5 times a power of ten) up to at least `max`.
function valueTicks(max, n) {
  const raw = (max > 0 ? max : 1) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => raw <= m * p) * p;
  const ticks = [];
  for (let i = 0; i * step < max + step * 0.999 && ticks.length <= n + 1; i++) ticks.push(i * step);
  const digits = step < 1 ? Math.min(6, Math.ceil(-Math.log10(step))) : 0;
  const label = (v) => (digits ? v.toFixed(digits) : fmt(v));
  return [ticks, ticks[ticks.length - 1] || 1, label];
}

// The frame: the time axis below (ticks, labels, the time basis), one value axis per side.
function axes(svg, w, t0, t1, sides) {
  const mr = sides.some((s) => s.right) ? M.r : 16;
  // A narrow chart puts the time basis on a line of its own, below the legend.
  const narrow = w < 640, mt = narrow ? M.t + 14 : M.t;
  const x = (t) => M.l + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (w - M.l - mr);
  const gx = svgEl("g", { class: "axis x" });
  gx.append(svgEl("line", { x1: M.l, x2: w - mr, y1: H - M.b, y2: H - M.b, stroke: "#999" }));
  const [ticks, step] = timeTicks(t0, t1, Math.max(3, Math.floor((w - M.l - mr) / 70)));
  for (const t of ticks) {
    gx.append(svgEl("line", { x1: x(t), x2: x(t), y1: H - M.b, y2: H - M.b + 4, stroke: "#999" }));
    // A label at the edge of the plot stays inside the picture.
    const anchor = x(t) > w - 30 ? "end" : "middle";
    gx.append(svgEl("text", { class: "tick", x: x(t), y: H - 6, "text-anchor": anchor }, timeLabel(t, step)));
  }
  // The time basis and the first point's date, above the plot on the right.
  const day = new Date(t0 * 1000).toISOString().slice(0, 10);
  gx.append(svgEl("text", narrow ? { class: "axis-label", x: M.l, y: 28 }
    : { class: "axis-label", x: w - 2, y: 13, "text-anchor": "end" }, `time in ${TIME_BASIS}, from ${day}`));
  svg.append(gx);
  const ys = sides.map(({ max, color, right }) => {
    const [vt, top, label] = valueTicks(max, 4);
    const y = (v) => H - M.b - (v / top) * (H - mt - M.b);
    const ax = right ? w - mr : M.l;
    const g = svgEl("g", { class: "axis y" });
    g.append(svgEl("line", { x1: ax, x2: ax, y1: mt, y2: H - M.b, stroke: "#999" }));
    for (const v of vt) {
      if (!right) g.append(svgEl("line", { x1: M.l, x2: w - mr, y1: y(v), y2: y(v), stroke: "#eee" }));
      g.append(svgEl("text", {
        class: "tick", x: right ? ax + 4 : ax - 4, y: y(v) + 4, fill: color,
        "text-anchor": right ? "start" : "end",
      }, label(v)));
    }
    svg.append(g);
    return y;
  });
  return [x, ys];
}

function legend(svg, items) {
  let at = M.l;
  for (const [text, color] of items) {
    svg.append(svgEl("rect", { class: "key", x: at, y: 4, width: 10, height: 10, fill: color }));
    svg.append(svgEl("text", { class: "legend", x: at + 14, y: 13 }, text));
    at += 24 + 7 * text.length;
  }
}

function noData(svg, w) {
  svg.append(svgEl("text", { class: "empty", x: w / 2, y: H / 2, "text-anchor": "middle" }, "no data in this view yet"));
}

// One or two series of [t, value] as lines over a shared time axis, the first on the left
// value axis, the second on the right one.
function lineChart(el, series, colors, labels) {
  el.redraw = () => lineChart(el, series, colors, labels);
  clear(el);
  const [svg, w] = svgRoot(el);
  el.append(svg);
  const all = series.flat();
  if (!all.length) { noData(svg, w); return; }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  const sides = series.map((s, i) => ({ max: Math.max(...s.map((p) => p[1]), 0), color: colors[i], right: i === 1 }));
  const [x, ys] = axes(svg, w, t0, t1, sides);
  series.forEach((s, i) => {
    svg.append(svgEl("polyline", {
      points: s.map((p) => `${x(p[0]).toFixed(1)},${ys[i](p[1]).toFixed(1)}`).join(" "),
      fill: "none", stroke: colors[i], "stroke-width": 2,
    }));
  });
  legend(svg, labels.map((l, i) => [`${l} (${i ? "right" : "left"})`, colors[i]]));
}

// Stacked bars, one per row (`t`: its start, `dt`: its length in seconds), on a time axis.
function stackChart(el, rows, keys, colors, dt) {
  el.redraw = () => stackChart(el, rows, keys, colors, dt);
  clear(el);
  const [svg, w] = svgRoot(el);
  el.append(svg);
  if (!rows.length) { noData(svg, w); return; }
  const total = (r) => keys.reduce((a, k) => a + (r[k] || 0), 0);
  const t0 = Math.min(...rows.map((r) => r.t)), t1 = Math.max(...rows.map((r) => r.t)) + dt;
  const [x, [y]] = axes(svg, w, t0, t1, [{ max: Math.max(...rows.map(total)), color: "#555" }]);
  // Sliding windows overlap: a bar is as wide as the step between starts at most.
  const starts = [...new Set(rows.map((r) => r.t))].sort((a, b) => a - b);
  let gap = dt;
  for (let i = 1; i < starts.length; i++) gap = Math.min(gap, starts[i] - starts[i - 1]);
  const bw = Math.max(2, x(t0 + gap) - x(t0) - 1);
  for (const r of rows) {
    let v = 0;
    keys.forEach((k, j) => {
      const n = r[k] || 0;
      if (!n) return;
      svg.append(svgEl("rect", {
        x: x(r.t).toFixed(1), width: bw.toFixed(1), y: y(v + n).toFixed(1),
        height: (y(v) - y(v + n)).toFixed(1), fill: colors[j],
      }));
      v += n;
    });
  }
  legend(svg, keys.map((k, j) => [k.replace(/^c/, ""), colors[j]]));
}

let resizing = null;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => document.querySelectorAll(".chart").forEach((e) => e.redraw && e.redraw()), 150);
});

const STATUS_KEYS = ["c2xx", "c3xx", "c4xx", "c5xx"];
const STATUS_COLORS = ["#3a9d5d", "#2866c6", "#d9822b", "#c0392b"];

function renderLive() {
  if (mode !== "live") return;
  const ws = [...windows.values()].sort((a, b) => a.window_start - b.window_start).slice(-120);
  const rate = ws.map((w) => [w.window_start, w.requests / Math.max(1, w.window_end - w.window_start)]);
  const bytes = ws.map((w) => [w.window_start, w.bytes / Math.max(1, w.window_end - w.window_start)]);
  lineChart($("chart-rate"), [rate, bytes], ["#2866c6", "#d9822b"], ["requests/s", "bytes/s"]);
  stackChart($("chart-status"), ws.map((w) => ({
    t: w.window_start,
    c2xx: w.status_classes["2xx"], c3xx: w.status_classes["3xx"],
    c4xx: w.status_classes["4xx"], c5xx: w.status_classes["5xx"],
  })), STATUS_KEYS, STATUS_COLORS, ws.length ? ws[0].window_end - ws[0].window_start : 60);
  const cur = ws[ws.length - 1];
  document.querySelectorAll(".scope").forEach((s) => {
    s.textContent = cur ? `(window ${cur.window_start_rfc3339} – ${cur.window_end_rfc3339})` : "";
  });
  if (!cur) return;
  $("unique").textContent = fmt(cur.unique_clients);
  $("unique-note").textContent = "distinct clients in the current window (HyperLogLog estimate)";
  table("methods", cur.methods, ["key", "count"]);
  table("pages", cur.top_pages, ["key", "count"]);
  table("clients", cur.top_clients, ["client", "requests", "bytes"]);
  // A window counts its 404s but keeps no list of their paths (its error endpoints are every
  // 4xx and 5xx): the paths come from the lake, in a range.
  const share = cur.requests ? (100 * cur.not_found / cur.requests).toFixed(1) + " %" : "–";
  table("notfound", [
    { key: "404 responses", count: cur.not_found },
    { key: "share of requests", count: share },
  ], ["key", "count"]);
  $("notfound-note").textContent = "windows count 404s without their paths"
    + (hasLake ? ": show a range to list them" : "");
  table("errors", cur.top_error_endpoints, ["key", "count"]);
  table("non200", [], ["key", "count"]);
  $("non200-note").textContent = "windows count errors (4xx, 5xx) only"
    + (hasLake ? ": show a range to list every status other than 200" : "");
}

function addAlert(a, atTop) {
  const li = document.createElement("li");
  const head = document.createElement("strong");
  head.textContent = `${a.rule} · ${a.key} · ${a.window_start_rfc3339}`;
  const p = document.createElement("div");
  p.textContent = a.explanation;
  li.append(head, p);
  for (const s of a.samples || []) {
    const pre = document.createElement("pre");
    pre.textContent = s;
    li.append(pre);
  }
  const ul = $("alerts");
  const none = ul.querySelector("li.empty");
  if (none) none.remove();
  if (atTop) ul.prepend(li); else ul.append(li);
  while (ul.children.length > 50) ul.removeChild(ul.lastChild);
}

// An empty list says so, and where alerts come from.
function alertsEmpty() {
  const ul = $("alerts");
  if (ul.querySelector("li:not(.empty)")) return;
  clear(ul);
  const li = document.createElement("li");
  li.className = "empty note";
  li.textContent = lastStatus && !lastStatus.live
    ? "No alerts: a running pipeline (hitstream run) raises them; this page reads the lake only."
    : "No alerts so far.";
  ul.append(li);
}

function addWindow(w) {
  const k = `${w.window_start}-${w.window_end}`;
  // A push and the first fetch can bring the same window: the later revision wins.
  const had = windows.get(k);
  if (had && had.revision > w.revision) return;
  windows.set(k, w);
  if (windows.size > 720) windows.delete(windows.keys().next().value);
}

async function getJson(u) {
  const r = await fetch(withToken(u));
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// The range picker reads and shows UTC, the clock of the windows, the heat map and the lake.
function isoLocal(secs) {
  return new Date(secs * 1000).toISOString().slice(0, 19);
}

function utcSeconds(v) {
  return Math.floor(new Date(v + "Z").getTime() / 1000);
}

async function showRange(ev) {
  if (ev) ev.preventDefault();
  const from = utcSeconds($("from").value);
  const to = utcSeconds($("to").value);
  if (!Number.isFinite(from) || !Number.isFinite(to)) { $("message").textContent = "pick a start and an end"; return; }
  const q = new URLSearchParams({ from: String(from), to: String(to) });
  if ($("vhost").value) q.set("vhost", $("vhost").value);
  try {
    const h = await getJson("/api/history?" + q.toString());
    mode = "range";
    const s = h.series || [];
    lineChart($("chart-rate"), [s.map((r) => [r.t, r.requests / h.bucket_seconds]), s.map((r) => [r.t, r.bytes / h.bucket_seconds])],
      ["#2866c6", "#d9822b"], ["requests/s", "bytes/s"]);
    stackChart($("chart-status"), s, STATUS_KEYS, STATUS_COLORS, h.bucket_seconds);
    document.querySelectorAll(".scope").forEach((e) => { e.textContent = `(${$("from").value} – ${$("to").value} UTC)`; });
    $("unique").textContent = fmt(h.totals.unique_clients);
    $("unique-note").textContent = `distinct clients in the range; ${fmt(h.totals.requests)} requests`;
    table("methods", h.methods, ["key", "count"]);
    table("pages", h.top_pages, ["key", "count"]);
    table("clients", h.top_clients, ["client", "requests", "bytes"]);
    table("notfound", h.not_found, ["key", "count"]);
    $("notfound-note").textContent = "";
    table("errors", h.error_endpoints, ["key", "count"]);
    table("non200", h.non_200_endpoints || [], ["key", "count"]);
    $("non200-note").textContent = "";
    visitorPanels(h, `(${$("from").value} – ${$("to").value} UTC)`);
    $("message").textContent = `range from the lake, ${h.bucket_seconds} s buckets`;
  } catch (e) {
    $("message").textContent = "history: " + e.message;
  }
}

// Weekday rows by hour columns, each cell shaded by its share of the busiest cell.
function heatmap(el, hm) {
  clear(el);
  const svg = document.createElementNS(SVG, "svg");
  const cw = 30, ch = 18, left = 40, top = 16;
  svg.setAttribute("viewBox", `0 0 ${left + 24 * cw} ${top + 7 * ch}`);
  svg.setAttribute("class", "heat");
  const max = Math.max(1, ...hm.hours.flat());
  for (let h = 0; h < 24; h += 3) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", String(left + h * cw + 2)); t.setAttribute("y", "12");
    t.setAttribute("font-size", "11"); t.setAttribute("fill", "#777");
    t.textContent = String(h).padStart(2, "0");
    svg.append(t);
  }
  hm.hours.forEach((row, d) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", "0"); t.setAttribute("y", String(top + d * ch + 13));
    t.setAttribute("font-size", "11"); t.setAttribute("fill", "#777");
    t.textContent = hm.weekdays[d];
    svg.append(t);
    row.forEach((n, h) => {
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", String(left + h * cw)); r.setAttribute("y", String(top + d * ch));
      r.setAttribute("width", String(cw - 2)); r.setAttribute("height", String(ch - 2));
      r.setAttribute("fill", n ? "#2866c6" : "#eee");
      r.setAttribute("fill-opacity", n ? (0.15 + 0.85 * n / max).toFixed(2) : "1");
      r.dataset.count = String(n);
      const tip = document.createElementNS(SVG, "title");
      tip.textContent = `${hm.weekdays[d]} ${String(h).padStart(2, "0")}:00 — ${n} requests`;
      r.append(tip);
      svg.append(r);
    });
  });
  el.append(svg);
}

// The panels only history has (the windows do not keep agents and referers).
function visitorPanels(h, scope) {
  document.querySelectorAll(".vscope").forEach((e) => { e.textContent = scope; });
  table("browsers", h.browsers || [], ["key", "count"]);
  table("systems", h.operating_systems || [], ["key", "count"]);
  table("sites", h.referring_sites || [], ["key", "count"]);
  table("kinds", h.static_dynamic || [], ["key", "count", "bytes"]);
  if (h.heatmap) heatmap($("heatmap"), h.heatmap);
  // Only with a --geoip database; networks only when it has AS numbers.
  $("countries-panel").hidden = !h.countries;
  if (h.countries) table("countries", h.countries, ["key", "count"]);
  $("asns-panel").hidden = !h.asns;
  if (h.asns) {
    table("asns", h.asns.map((r) => ({
      key: r.organization ? `${r.key} ${r.organization}` : r.key, count: r.count,
    })), ["key", "count"]);
  }
}

// The panels only history fills, while there is no history: they say why they are empty.
function emptyHistoryPanels(why) {
  for (const id of ["browsers", "systems", "sites", "kinds"]) {
    const t = $(id);
    clear(t);
    const td = t.insertRow().insertCell();
    td.textContent = why; td.className = "note";
  }
  const p = document.createElement("p");
  p.className = "note"; p.textContent = why;
  clear($("heatmap")); $("heatmap").append(p);
}

function goLive() { mode = "live"; $("message").textContent = ""; renderLive(); }

async function start() {
  $("range").addEventListener("submit", showRange);
  $("live").addEventListener("click", goLive);
  // Subscribed before the first fetches, so that nothing emitted meanwhile is missed; what
  // is pushed before they are done waits in `early` and is applied after them.
  let early = [];
  let ended = false;
  const subscribe = () => {
    const es = new EventSource(withToken("/api/events"));
    es.addEventListener("status", (e) => { lastStatus = JSON.parse(e.data); health(lastStatus); });
    es.addEventListener("window", (e) => {
      const w = JSON.parse(e.data);
      if (early) early.push(["window", w]); else { addWindow(w); renderLive(); }
    });
    es.addEventListener("alert", (e) => {
      const a = JSON.parse(e.data);
      if (early) early.push(["alert", a]); else addAlert(a, true);
    });
    es.addEventListener("note", (e) => { $("message").textContent = JSON.parse(e.data); });
    es.addEventListener("end", () => { ended = true; es.close(); });
    es.addEventListener("open", () => {
      if ($("message").textContent.startsWith("live updates refused")) $("message").textContent = "";
    });
    // A refused stream (the server's cap on streams, a 503) is not retried by the browser.
    es.addEventListener("error", () => {
      if (es.readyState !== EventSource.CLOSED || ended) return;
      $("message").textContent = "live updates refused by the server (too many open pages?); trying again in 10 s";
      setTimeout(subscribe, 10000);
    });
    return es;
  };
  const es = subscribe();
  // The server subscribes the stream before it answers, so once it is open nothing is missed.
  await new Promise((ok) => {
    es.addEventListener("open", ok, { once: true });
    es.addEventListener("error", ok, { once: true });
    setTimeout(ok, 3000);
  });
  const alertId = (a) => `${a.rule}\u0000${a.key}\u0000${a.window_start}`;
  const shown = new Set();
  try {
    const st = await getJson("/api/status");
    lastStatus = st; health(st);
    hasLake = Boolean(st.lake);
    (await getJson("/api/windows?last=120")).windows.forEach(addWindow);
    (await getJson("/api/alerts?last=50")).alerts.forEach((a) => { shown.add(alertId(a)); addAlert(a, false); });
  } catch (e) { $("message").textContent = e.message; }
  for (const [kind, v] of early) {
    if (kind === "window") addWindow(v);
    else if (!shown.has(alertId(v))) addAlert(v, true);
  }
  early = null;
  alertsEmpty();
  if (!hasLake) emptyHistoryPanels("from the lake: start with --data DIR to see it");
  renderLive();
  if (hasLake) try {
    const b = await getJson("/api/history/bounds");
    lakeFacts = b;
    if (lastStatus && !lastStatus.live) health(lastStatus);
    if (b.first !== null && b.last !== null) {
      $("from").value = isoLocal(b.first); $("to").value = isoLocal(b.last + 1);
    } else emptyHistoryPanels("nothing in the lake yet: show a range once rows are stored");
    if (lastStatus && !lastStatus.live) await showRange();
    else if (b.first !== null && b.last !== null) {
      const all = await getJson(`/api/history?from=${b.first}&to=${b.last + 1}`);
      visitorPanels(all, "(all of the lake)");
    }
  } catch (e) { /* no lake: live only */ }
}

start();
