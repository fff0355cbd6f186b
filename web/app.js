// flopcalc's page: Pyodide runs flopcalc's own package (flopcalc.zip, unpacked into its file system) and
// every number shown is what `flopcalc table ... --format json` prints, run in process by
// flopcalc.browser. Nothing is fetched from any host but this page's own.

const $ = (id) => document.getElementById(id);
const started = performance.now();
const FIELDS = ["model", "alpha", "resolution", "classes", "convention"];
const SPEC = "spec file";
let py = null;          // flopcalc.browser, once Python is up
let current = null;     // the last page() result
let sortKey = "index", sortAsc = true;
export const timings = { ready_ms: null, redraw_ms: null, python_ms: null };
window.flopcalcTimings = timings;

const fmt = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"));
const si = (v) => {
  if (v === null || v === undefined) return "";
  const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [n, u] of units) if (Math.abs(v) >= n) return (v / n).toFixed(2) + " " + u;
  return String(v);
};
const shape = (s) => (Array.isArray(s) ? s.join("x") : String(s));
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

async function boot() {
  // snapshot.bin (made by tools/build_web.py) is Python's memory with flopcalc imported and warmed: restoring it
  // skips Python's start-up. Fetched now, beside everything else.
  const snapshot = fetch("./snapshot.bin").then((r) => { if (!r.ok) throw new Error("snapshot.bin: " + r.status); return r.arrayBuffer(); });
  snapshot.catch(() => {});  // (a missing one is handled where it is used)
  const [{ loadPyodide }, zip] = await Promise.all([
    import("./pyodide/pyodide.mjs"),
    fetch("./flopcalc.zip").then((r) => { if (!r.ok) throw new Error("flopcalc.zip: " + r.status); return r.arrayBuffer(); }),
  ]);
  const info = await fetch("./build.json").then((r) => r.json());
  // the lock file lists Pyodide's own packages, which this page never loads: give it inline, fetch nothing
  const options = { indexURL: "./pyodide/", lockFileContents: { info: { abi_version: info.abi }, packages: {} } };
  let pyodide = null;
  try {
    pyodide = await loadPyodide({ ...options, _loadSnapshot: snapshot });
    timings.snapshot = true;
  } catch (e) {  // none, or one of another Pyodide build: start Python without it
    console.warn("flopcalc: starting Python without a memory snapshot:", String(e));
  }
  const start = async (p) => {
    // the files too (a snapshot holds Python's memory, not its file system): the data files flopcalc reads
    const site = p.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
    p.unpackArchive(zip, "zip", { extractDir: site });
    return p.pyimport("flopcalc.browser");
  };
  if (pyodide) {
    py = await start(pyodide);
    if (py.SNAPSHOT_OF !== info.zip_sha256) {  // a snapshot of another flopcalc.zip: never run stale code
      console.warn("flopcalc: the memory snapshot holds another build of flopcalc; starting Python without it");
      py = null;
    }
  }
  if (!py) {
    timings.snapshot = false;
    py = await start(await loadPyodide(options));
  }
  timings.python_up_ms = Math.round(performance.now());
  window.flopcalcPython = py;
  $("version").textContent = info.version;
  const models = JSON.parse(run(["models", "--format", "json"]).out).models;
  const conventions = JSON.parse(run(["conventions", "--format", "json"]).out).conventions;
  $("model").innerHTML = models.map((m) => `<option value="${esc(m.name)}">${esc(m.name)} (${esc(m.title)})</option>`).join("")
    + `<option value="${SPEC}">spec file (below)</option>`;
  $("convention").innerHTML = conventions.map((c) => `<option value="${esc(c.name)}">${esc(c.name)}</option>`).join("");
  timings.listed_ms = Math.round(performance.now());
  readHash();
  for (const id of FIELDS) $(id).addEventListener("change", () => redraw());
  for (const id of ["alpha", "resolution", "classes"]) $(id).addEventListener("keydown", (e) => { if (e.key === "Enter") redraw(); });
  $("spec-count").addEventListener("click", () => { $("model").value = SPEC; redraw(); });
  $("spec-file").addEventListener("change", async (e) => {
    const f = e.target.files[0];
    if (f) { $("spec").value = await f.text(); $("model").value = SPEC; redraw(); }
  });
  $("share").addEventListener("click", () => navigator.clipboard?.writeText(location.href));
  $("download-json").addEventListener("click", () => download("json"));
  $("download-csv").addEventListener("click", () => download("csv"));
  for (const th of document.querySelectorAll("#layers th")) th.addEventListener("click", () => sortBy(th.dataset.key));
  redraw();
  timings.ready_ms = Math.round(performance.now());  // from navigation start, Python's start-up included
  showTimings();
  $("status").textContent = "";
  $("status").hidden = true;
  document.body.dataset.ready = "true";
}

function run(argv) {
  const r = py.run(argv);
  const out = r.toJs({ dict_converter: Object.fromEntries });
  r.destroy();
  return out;
}

function settings() {
  const s = Object.fromEntries(FIELDS.map((id) => [id, $(id).value.trim()]));
  return s;
}

function modelArg(s) {
  return s.model === SPEC ? py.write_spec($("spec").value) : s.model;
}

// Set fields (any of FIELDS, and "spec") and redraw: what the controls do, for scripts and tests.
window.flopcalcSet = (values) => {
  for (const [k, v] of Object.entries(values)) (k === "spec" ? $("spec") : $(k)).value = v;
  return redraw();
};

function redraw() {
  const t0 = performance.now();
  const s = settings();
  writeHash(s);
  const doc = JSON.parse(py.page(modelArg(s), s.alpha, s.resolution, s.classes, s.convention));
  timings.python_ms = Math.round(doc.ms);
  const error = $("error");
  if (doc.code !== 0) {
    error.textContent = doc.error;
    error.hidden = false;
    $("result").hidden = true;
    current = null;
  } else {
    error.hidden = true;
    current = doc;
    render(doc);
    $("result").hidden = false;
  }
  timings.redraw_ms = Math.round(performance.now() - t0);
  showTimings();
  return { ...timings };
}

function showTimings() {
  $("timing").textContent = (timings.ready_ms === null ? "" : `Python and the page were ready ${timings.ready_ms} ms `
    + "after opening; ") + `the last redraw took ${timings.redraw_ms} ms (flopcalc's own run ${timings.python_ms} ms).`;
}

function render(doc) {
  const t = doc.table, key = t.convention.key, unit = t.convention.unit || "macs";
  $("command").textContent = doc.argv.join(" ");
  $("ops-label").textContent = key === "macs" ? "macs" : `${t.convention.name} ${unit}`;
  document.querySelector('#layers th[data-key="macs"]').textContent = $("ops-label").textContent;
  document.querySelector("#kinds th:nth-child(2)").textContent = $("ops-label").textContent;
  const ops = $("total-macs"), params = $("total-params");
  ops.textContent = fmt(t.total[key]) + (t.total[key] == null ? "" : ` (${si(t.total[key])})`);
  ops.dataset.value = t.total[key] ?? "";
  params.textContent = fmt(t.total.params) + (t.total.params == null ? "" : ` (${si(t.total.params)})`);
  params.dataset.value = t.total.params ?? "";
  const c = t.config;
  $("input-shape").textContent = shape(t.layers.length ? t.layers[0].input_shape : c.resolution)
    + (c.num_classes ? `, ${c.num_classes} classes` : "");
  const rows = t.layers.map((r, i) => ({ ...r, index: i, ops: r[key] }));
  current.rows = rows;
  current.key = key;
  renderLayers();
  renderKinds(t, key);
  renderPlot(rows);
  const kinds = [...new Set(rows.filter((r) => r.ops).map((r) => r.kind))];
  $("legend").innerHTML = kinds.map((k) => `<span><i style="background:${KIND_COLORS[k] || "#888"}"></i>${esc(k)}</span>`).join("")
    + `<span class="muted">tallest: ${fmt(Math.max(0, ...rows.map((r) => r.ops || 0)))}</span>`;
  renderSeparable(doc.separable);
}

function renderLayers() {
  const rows = [...current.rows];
  const th = document.querySelector(`#layers th[data-key="${sortKey}"]`);
  const numeric = th?.dataset.type === "num";
  const val = (r) => (sortKey === "macs" ? r.ops : sortKey === "output_shape" ? shape(r.output_shape) : r[sortKey]);
  rows.sort((a, b) => {
    const x = val(a), y = val(b);
    const d = numeric ? (x ?? -1) - (y ?? -1) : String(x).localeCompare(String(y));
    return sortAsc ? d : -d;
  });
  for (const h of document.querySelectorAll("#layers th")) h.setAttribute("aria-sort", h.dataset.key === sortKey ? (sortAsc ? "ascending" : "descending") : "none");
  $("layers").tBodies[0].innerHTML = rows.map((r) =>
    `<tr data-name="${esc(r.name)}" data-params="${r.params ?? ""}" data-ops="${r.ops ?? ""}"><td>${r.index}</td>`
    + `<td class="name">${esc(r.name)}</td><td>${esc(r.kind)}</td><td>${esc(r.op || "")}</td>`
    + `<td>${shape(r.output_shape)}</td><td class="num">${fmt(r.params)}</td><td class="num">${fmt(r.ops)}</td></tr>`).join("");
}

function sortBy(key) {
  if (!current) return;
  if (sortKey === key) sortAsc = !sortAsc; else { sortKey = key; sortAsc = key === "index" || key === "name"; }
  renderLayers();
}

function renderKinds(t, key) {
  const total = t.total;
  const share = (v, all) => (v == null || !all ? "" : (100 * v / all).toFixed(2) + "%");
  $("kinds").tBodies[0].innerHTML = Object.entries(t.by_kind).map(([k, v]) =>
    `<tr data-kind="${esc(k)}" data-params="${v.params ?? ""}" data-ops="${v[key] ?? ""}"><td>${esc(k)}</td>`
    + `<td class="num">${fmt(v[key])}</td><td class="num">${share(v[key], total[key])}</td>`
    + `<td class="num">${fmt(v.params)}</td><td class="num">${share(v.params, total.params)}</td></tr>`).join("");
}

const KIND_COLORS = { pointwise: "#2f6fb0", depthwise: "#e0812f", conv: "#3c9a5f", linear: "#8e5fb8", attention: "#c43c5a" };

function renderPlot(rows) {
  const svg = $("plot");
  const width = Math.max(320, svg.parentElement.clientWidth || 800), height = 180, pad = 4;
  const max = Math.max(1, ...rows.map((r) => r.ops || 0));
  const bar = (width - 2 * pad) / Math.max(1, rows.length);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.innerHTML = rows.map((r, i) => {
    const h = ((r.ops || 0) / max) * (height - 2 * pad);
    if (!h) return "";
    return `<rect x="${(pad + i * bar).toFixed(2)}" y="${(height - pad - h).toFixed(2)}" width="${Math.max(0.5, bar - 0.5).toFixed(2)}" `
      + `height="${h.toFixed(2)}" fill="${KIND_COLORS[r.kind] || "#888"}"><title>${esc(r.name)}: ${fmt(r.ops)}</title></rect>`;
  }).join("");
}

function renderSeparable(sep) {
  const box = $("separable");
  if (!sep || !sep.pairs.length) {
    box.innerHTML = "<p>This network has no depthwise conv followed by a pointwise conv.</p>";
    return;
  }
  const pct = (x) => (100 * x).toFixed(2) + "%";
  const head = `<p>Its ${sep.pairs.length} depthwise + pointwise pairs take <strong>${fmt(sep.separable)}</strong> multiply-adds, `
    + `<strong>${pct(sep.ratio)}</strong> of the ${fmt(sep.standard)} that standard convolutions with the same `
    + `inputs, outputs and strides would (the V1 paper's eq. (5): each pair costs 1/N + 1/D<sub>K</sub><sup>2</sup> of its standard conv).</p>`;
  const rows = sep.pairs.map((p) => `<tr><td class="name">${esc(p.depthwise)}</td><td>${p.kernel}x${p.kernel}/${p.stride}</td>`
    + `<td class="num">${p.in_c}</td><td class="num">${p.out_c}</td><td class="num">${p.size}</td>`
    + `<td class="num">${pct(p.ratio)}</td><td class="num">${pct(p.closed_form)}</td></tr>`).join("");
  box.innerHTML = head + `<div class="scroll"><table><thead><tr><th>depthwise layer</th><th>D_K/stride</th><th>M</th><th>N</th>`
    + `<th>D_F</th><th>separable / standard</th><th>1/N + 1/D_K²</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function writeHash(s) {
  const q = new URLSearchParams();
  for (const id of FIELDS) if (s[id]) q.set(id, s[id]);
  history.replaceState(null, "", "#" + q.toString());
}

function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  for (const id of FIELDS) {
    const v = q.get(id);
    if (v === null) continue;
    if ($(id).tagName === "SELECT" && ![...$(id).options].some((o) => o.value === v)) continue;
    $(id).value = v;
  }
  if (!q.get("model")) $("model").value = "mobilenet_v2";
}

function download(fmtName) {
  const s = settings();
  const text = py.download(fmtName, modelArg(s), s.alpha, s.resolution, s.classes, s.convention);
  const blob = new Blob([text], { type: fmtName === "json" ? "application/json" : "text/csv" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `flopcalc-${s.model === SPEC ? "spec" : s.model}.${fmtName}`;
  a.click();
  URL.revokeObjectURL(a.href);
}

boot().catch((e) => {
  $("status").textContent = "Python could not start: " + e;
  document.body.dataset.ready = "failed";
});
