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
      if (i === 0) td.title = String(r[c]); else td.className = "n";
    });
  }
}

function health(st) {
  const dl = $("health-list");
  clear(dl);
  const c = st.counters || {};
  const items = [
    ["lines in", c.lines], ["ok", c.ok], ["degraded", c.degraded], ["rejected", c.rejected],
    ["late", c.late], ["lost", c.lost], ["lines/s", st.lines_per_sec],
    ["lag behind the source", st.lag_records !== null && st.lag_records !== undefined
      ? fmt(st.lag_records) + " records" : (st.lag_bytes !== null && st.lag_bytes !== undefined ? fmt(st.lag_bytes) + " B" : null)],
    ["watermark delay (s)", st.watermark_delay_seconds], ["last epoch", st.epoch],
    ["last commit (s)", st.last_commit_seconds], ["buffered rows", st.buffered_rows],
  ];
  for (const [k, v] of items) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = fmt(v);
    dd.dataset.metric = k;
    // One box per pair, so that a label never wraps away from its value.
    const item = document.createElement("div");
    item.append(dt, dd);
    dl.append(item);
  }
  const ph = $("phase");
  ph.textContent = st.live ? (st.ended ? "ended" : st.phase) : "lake only";
  ph.className = "badge " + (st.ended ? "ended" : st.phase);
}

const W = 800, H = 160;

function svgRoot() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  return svg;
}

// One or two series of [t, value] as lines over a shared time axis.
function lineChart(el, series, colors, labels) {
  clear(el);
  const P = 30;
  const svg = svgRoot();
  const all = series.flat();
  if (!all.length) { el.append(svg); return; }
  const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]));
  series.forEach((s, i) => {
    const max = Math.max(1, ...s.map((p) => p[1]));
    const x = (t) => P + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (W - 2 * P);
    const y = (v) => H - P / 2 - (v / max) * (H - P);
    const path = document.createElementNS(SVG, "polyline");
    path.setAttribute("points", s.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", colors[i]);
    path.setAttribute("stroke-width", "2");
    svg.append(path);
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", String(P + i * 260)); label.setAttribute("y", "12");
    label.setAttribute("fill", colors[i]); label.setAttribute("font-size", "12");
    label.textContent = `${labels[i]} (max ${fmt(max)})`;
    svg.append(label);
  });
  el.append(svg);
}

function stackChart(el, rows, keys, colors) {
  clear(el);
  const P = 20;
  const svg = svgRoot();
  const max = Math.max(1, ...rows.map((r) => keys.reduce((a, k) => a + (r[k] || 0), 0)));
  const bw = rows.length ? (W - 2 * P) / rows.length : 0;
  rows.forEach((r, i) => {
    let y = H - P / 2;
    keys.forEach((k, j) => {
      const h = ((r[k] || 0) / max) * (H - P);
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", (P + i * bw).toFixed(1));
      rect.setAttribute("width", Math.max(1, bw - 1).toFixed(1));
      rect.setAttribute("y", (y - h).toFixed(1));
      rect.setAttribute("height", h.toFixed(1));
      rect.setAttribute("fill", colors[j]);
      y -= h;
      svg.append(rect);
    });
  });
  keys.forEach((k, j) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", String(P + j * 60)); t.setAttribute("y", "12");
    t.setAttribute("fill", colors[j]); t.setAttribute("font-size", "12");
    t.textContent = k.replace(/^c/, "");
    svg.append(t);
  });
  el.append(svg);
}

const STATUS_KEYS = ["c2xx", "c3xx", "c4xx", "c5xx"];
const STATUS_COLORS = ["#3a9d5d", "#2866c6", "#d9822b", "#c0392b"];

function renderLive() {
  if (mode !== "live") return;
  const ws = [...windows.values()].sort((a, b) => a.window_start - b.window_start).slice(-120);
  const rate = ws.map((w) => [w.window_start, w.requests / Math.max(1, w.window_end - w.window_start)]);
  const bytes = ws.map((w) => [w.window_start, w.bytes / Math.max(1, w.window_end - w.window_start)]);
  lineChart($("chart-rate"), [rate, bytes], ["#2866c6", "#d9822b"], ["requests/s", "bytes/s"]);
  stackChart($("chart-status"), ws.map((w) => ({
    c2xx: w.status_classes["2xx"], c3xx: w.status_classes["3xx"],
    c4xx: w.status_classes["4xx"], c5xx: w.status_classes["5xx"],
  })), STATUS_KEYS, STATUS_COLORS);
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
  if (atTop) ul.prepend(li); else ul.append(li);
  while (ul.children.length > 50) ul.removeChild(ul.lastChild);
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
    stackChart($("chart-status"), s, STATUS_KEYS, STATUS_COLORS);
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
  renderLive();
  if (hasLake) try {
    const b = await getJson("/api/history/bounds");
    if (b.first !== null && b.last !== null) {
      $("from").value = isoLocal(b.first); $("to").value = isoLocal(b.last + 1);
    }
    if (lastStatus && !lastStatus.live) await showRange();
    else if (b.first !== null && b.last !== null) {
      const all = await getJson(`/api/history?from=${b.first}&to=${b.last + 1}`);
      visitorPanels(all, "(all of the lake)");
    }
  } catch (e) { /* no lake: live only */ }
}

start();
