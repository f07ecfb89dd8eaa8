/*
 * The run viewer's page: curves of every metric (uPlot, one chart per picked metric, the runs
 * overlaid), and a browser of the trajectories each step trained on, token by token. Follows the
 * server's `change` events to refresh without a reload. Plain browser script, no build step: the
 * server (src/view/server.ts) serves it as it is.
 */
/* global uPlot, document, window, fetch, EventSource, console, CSS */
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
/** |trainer − sampler| logprob gap (nats) at which the heat scale is full red */
const GAP_MAX = 1;
const OVERVIEW = [
  /^train\/reward$/,
  /^validation\/.*accuracy$/,
  /^train\/token_mult_prob_error$/,
  /^train\/kl_penalty$/,
  /^train\/entropy$/,
  /^train\/clip_fraction$/,
  /^train\/loss$/,
  /^train\/[^/]+\/reward$/,
];
const MAX_ROLLOUTS = 200; // cards drawn at once; the search narrows the rest

const state = {
  runs: [], // [{id, name, dir}]
  metrics: [], // per run: {lines, problems}
  steps: [], // per run: {steps, problems}
  rolloutProblems: [],
  picked: new Set(),
  userPicked: false,
  charts: new Map(), // metric → uPlot
  records: [], // the open step's records
  openKey: "",
};

// ------------------------------------------------------------------------------------------------
// helpers

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

async function getJson(path) {
  const r = await fetch(path, { cache: "no-store" });
  const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(body.error || `${path}: ${r.status}`);
  return body;
}

/** The heat colour of a sampled token's logprob gap: pale green at 0, red at GAP_MAX and beyond. */
function gapColor(gap) {
  const t = Math.min(1, Math.abs(gap) / GAP_MAX);
  const lo = [220, 245, 220];
  const hi = [215, 48, 39];
  const c = lo.map((a, i) => Math.round(a + (hi[i] - a) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

// ------------------------------------------------------------------------------------------------
// problems

function renderProblems() {
  const items = [];
  state.runs.forEach((r, i) => {
    const all = [...(state.metrics[i]?.problems || []), ...(state.steps[i]?.problems || []), ...(state.rolloutProblems[i] || [])];
    for (const p of all) items.push(el("li", { text: `${r.name}: ${p}` }));
  });
  const box = $("problems");
  box.replaceChildren(...(items.length ? [el("strong", { text: "Missing or damaged:" }), el("ul", {}, ...items)] : []));
  box.hidden = items.length === 0;
}

// ------------------------------------------------------------------------------------------------
// curves

function metricNames() {
  const names = new Set();
  for (const m of state.metrics) for (const l of m?.lines || []) for (const [k, v] of Object.entries(l)) if (k !== "step" && typeof v === "number") names.add(k);
  return [...names].sort();
}

function defaultPicks(names) {
  return names.filter((n) => OVERVIEW.some((re) => re.test(n)));
}

function renderPicker() {
  const names = metricNames();
  if (!state.userPicked) state.picked = new Set(defaultPicks(names));
  const filter = $("metric-filter").value.trim().toLowerCase();
  const box = $("metric-picker");
  const rows = [];
  let group = "";
  for (const n of names) {
    if (filter && !n.toLowerCase().includes(filter)) continue;
    const g = n.includes("/") ? n.slice(0, n.lastIndexOf("/")) : "";
    if (g !== group) rows.push(el("div", { class: "group", text: (group = g) || "(top level)" }));
    const cb = el("input", { type: "checkbox", "data-metric": n });
    cb.checked = state.picked.has(n);
    cb.addEventListener("change", () => {
      state.userPicked = true;
      if (cb.checked) state.picked.add(n);
      else state.picked.delete(n);
      renderCharts();
    });
    rows.push(el("label", { title: n }, cb, " " + n.slice(g ? g.length + 1 : 0)));
  }
  box.replaceChildren(...(rows.length ? rows : [el("div", { class: "empty", text: names.length ? "no metric matches" : "no metrics yet" })]));
}

/** Steps × runs for one metric: x = every step any run has a value at, null where a run has none. */
function seriesData(metric) {
  const byRun = state.metrics.map((m) => {
    const map = new Map();
    for (const l of m?.lines || []) if (typeof l[metric] === "number") map.set(l.step, l[metric]);
    return map;
  });
  const xs = [...new Set(byRun.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  return [xs, ...byRun.map((m) => xs.map((x) => (m.has(x) ? m.get(x) : null)))];
}

function pointCount(data) {
  return data.slice(1).reduce((a, ys) => a + ys.filter((y) => y !== null).length, 0);
}

function chartWidth() {
  const w = $("charts").clientWidth;
  // two per row: half the box, less the 8px gap and each chart's 1px borders
  return Math.max(320, Math.min(560, Math.floor((w - 8) / 2) - 4));
}

function renderCharts() {
  const box = $("charts");
  const want = [...state.picked].filter((m) => metricNames().includes(m)).sort();
  for (const [m, u] of state.charts) {
    if (!want.includes(m)) {
      u.destroy();
      state.charts.delete(m);
      box.querySelector(`[data-metric="${CSS.escape(m)}"]`)?.remove();
    }
  }
  for (const m of want) {
    const data = seriesData(m);
    let u = state.charts.get(m);
    if (u) {
      u.setData(data);
    } else {
      const holder = el("div", { class: "chart", "data-metric": m });
      box.append(holder);
      u = new uPlot(
        {
          title: m,
          width: chartWidth(),
          height: 220,
          scales: { x: { time: false } },
          series: [{ label: "step" }, ...state.runs.map((r, i) => ({ label: r.name, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { size: 5 } }))],
          axes: [{ label: "step" }, { size: 60 }],
          cursor: { drag: { x: true, y: false } },
          legend: { live: true },
        },
        data,
        holder,
      );
      state.charts.set(m, u);
    }
    u.root.parentElement.setAttribute("data-points", String(pointCount(data)));
  }
  // keep chart order alphabetical as metrics come and go
  for (const m of want) box.append(box.querySelector(`[data-metric="${CSS.escape(m)}"]`));
  const empty = box.querySelector(".empty");
  if (want.length === 0 && !empty) box.append(el("div", { class: "empty", text: "pick a metric on the left" }));
  if (want.length > 0 && empty) empty.remove();
}

// ------------------------------------------------------------------------------------------------
// trajectories

function fillSelect(sel, values, labelOf) {
  const keep = sel.value;
  sel.replaceChildren(...values.map((v) => el("option", { value: String(v), text: labelOf ? labelOf(v) : String(v) })));
  if (values.map(String).includes(keep)) sel.value = keep;
}

function renderStepPicker() {
  fillSelect($("traj-run"), state.runs.map((r) => r.id), (id) => state.runs[id].name);
  const run = Number($("traj-run").value || 0);
  const steps = state.steps[run]?.steps || [];
  const sel = $("traj-step");
  const wasLatest = sel.value === "" || sel.value === sel.options[sel.options.length - 1]?.value;
  fillSelect(sel, steps);
  if (wasLatest && steps.length) sel.value = String(steps[steps.length - 1]); // follow a live run
}

function sampleText(s) {
  return s.text ? s.text.join("") : s.ids.join(" ");
}

function itemText(it) {
  if (typeof it.content === "string") return it.content;
  if (Array.isArray(it.content)) return it.content.map((c) => (typeof c === "string" ? c : c.text || "")).join("");
  if (it.type === "function_call") return `${it.name}(${it.arguments})`;
  if (it.type === "function_call_output") return typeof it.output === "string" ? it.output : JSON.stringify(it.output);
  if (it.type === "reasoning") return (it.summary || []).map((s) => s.text || "").join("\n");
  return JSON.stringify(it);
}

function renderItem(it) {
  const kind = it.type || "message";
  const role = it.type === "function_call" ? "tool call" : it.type === "function_call_output" ? "tool output" : it.role || kind;
  return el("div", { class: `item ${kind}` }, el("span", { class: "role", text: role }), itemText(it));
}

function renderTokens(s) {
  const box = el("div", { class: "tokens" });
  for (let t = 0; t < s.ids.length; t++) {
    const masked = s.mask[t] === "1";
    const piece = s.text ? s.text[t] : `[${s.ids[t]}]`;
    const span = el("span", { class: "tok" });
    span.textContent = piece.replace(/\n/g, "↵\n");
    let title = `#${t} id ${s.ids[t]}`;
    if (!masked) span.classList.add("ctx");
    else if (!s.train_lp) {
      span.classList.add("untrained");
      title += ` sampler ${s.gen_lp[t]}`;
    } else {
      const gap = s.train_lp[t] - s.gen_lp[t];
      span.style.background = gapColor(gap);
      span.dataset.gap = String(gap);
      title += ` sampler ${s.gen_lp[t]} trainer ${s.train_lp[t]} gap ${gap.toFixed(4)}`;
    }
    span.title = title;
    box.append(span);
  }
  return box;
}

function renderRollout(r, open) {
  const adv = r.samples.find((s) => s.advantage !== null)?.advantage;
  const head = el(
    "summary",
    {},
    el("strong", { text: `group ${r.group} · rollout ${r.rollout ?? "-"}` }),
    el("span", { class: "meta", text: ` · ${r.agent} · reward ${r.reward}${r.env_reward !== r.reward ? ` (env ${r.env_reward})` : ""}${adv !== undefined ? ` · advantage ${adv.toFixed(3)}` : ""} · ${r.samples.reduce((a, s) => a + s.ids.length, 0)} tokens${r.failed ? " · FAILED (scored as 0)" : ""}` }),
  );
  const card = el("details", { class: "rollout", "data-group": String(r.group), "data-rollout": String(r.rollout) }, head);
  const fill = () => {
    if (card.dataset.filled) return;
    card.dataset.filled = "1";
    const extra = Object.entries(r.extra || {});
    if (extra.length) card.append(el("table", { class: "extra" }, ...extra.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: typeof v === "string" ? v : JSON.stringify(v) })))));
    for (const it of r.input || []) card.append(renderItem(it));
    for (const it of r.output || []) card.append(renderItem(it));
    r.samples.forEach((s, i) => {
      const gen = [...s.mask].filter((m) => m === "1").length;
      card.append(
        el("div", { class: "sample-head", text: `sample ${i}${s.segment ? ` (segment ${s.segment})` : ""}: ${s.ids.length} tokens, ${gen} sampled${s.truncated ? ", truncated" : ""}${s.sample_mask === 0 ? ", left out of the loss" : ""}` }),
        el("div", { class: "sample", "data-sample": String(i) }, renderTokens(s)),
      );
    });
  };
  card.addEventListener("toggle", () => card.open && fill());
  if (open) {
    card.open = true;
    fill();
  }
  return card;
}

function renderTrajectories() {
  const env = $("traj-env").value;
  const group = $("traj-group").value;
  const q = $("traj-search").value.trim().toLowerCase();
  const shown = state.records.filter((r) => {
    if (env && r.agent !== env) return false;
    if (group && String(r.group) !== group) return false;
    if (!q) return true;
    const hay = [...r.samples.map(sampleText), ...(r.input || []).map(itemText), ...(r.output || []).map(itemText), JSON.stringify(r.extra || {})].join("\n").toLowerCase();
    return hay.includes(q);
  });
  $("traj-count").textContent = `${shown.length} of ${state.records.length} rollouts${shown.length > MAX_ROLLOUTS ? ` (first ${MAX_ROLLOUTS} shown)` : ""}`;
  const list = shown.slice(0, MAX_ROLLOUTS).map((r, i) => renderRollout(r, i === 0));
  $("trajectories").replaceChildren(...(list.length ? list : [el("div", { class: "empty", text: state.records.length ? "no rollout matches" : "no trajectories for this run yet" })]));
}

async function openStep() {
  const run = Number($("traj-run").value || 0);
  const step = $("traj-step").value;
  const key = `${run}:${step}`;
  if (step === "") {
    state.records = [];
    state.openKey = "";
  } else if (key !== state.openKey) {
    try {
      const r = await getJson(`/api/runs/${run}/rollouts/${step}`);
      state.records = r.records;
      state.rolloutProblems[run] = r.problems;
    } catch (e) {
      state.records = [];
      state.rolloutProblems[run] = [String(e.message || e)];
    }
    state.openKey = key;
    renderProblems();
  }
  fillSelect($("traj-env"), ["", ...new Set(state.records.map((r) => r.agent))], (v) => v || "all");
  fillSelect($("traj-group"), ["", ...[...new Set(state.records.map((r) => r.group))].sort((a, b) => a - b)], (v) => (v === "" ? "all" : String(v)));
  renderTrajectories();
}

// ------------------------------------------------------------------------------------------------
// loading and live updates

async function loadRun(i) {
  const [m, s] = await Promise.all([
    getJson(`/api/runs/${i}/metrics`).catch((e) => ({ lines: [], problems: [String(e.message || e)] })),
    getJson(`/api/runs/${i}/steps`).catch((e) => ({ steps: [], problems: [String(e.message || e)] })),
  ]);
  state.metrics[i] = m;
  state.steps[i] = s;
}

async function refresh(runIds) {
  await Promise.all(runIds.map(loadRun));
  renderProblems();
  renderPicker();
  renderCharts();
  renderStepPicker();
  await openStep();
  window.gymrlView.updates++;
}

function listen() {
  const live = $("live");
  const es = new EventSource("/api/events");
  es.onopen = () => {
    live.textContent = "● live";
    live.className = "on";
  };
  es.onerror = () => {
    live.textContent = "○ reconnecting";
    live.className = "";
  };
  es.addEventListener("change", (ev) => {
    const { run } = JSON.parse(ev.data);
    void refresh([run]);
  });
}

async function main() {
  $("gap-max").textContent = String(GAP_MAX);
  $("legend-gap0").style.background = gapColor(0);
  $("legend-gap1").style.background = gapColor(GAP_MAX);
  state.runs = await getJson("/api/runs");
  $("runs").replaceChildren(...state.runs.map((r, i) => el("span", { class: "run-name", title: r.dir, style: `color: ${COLORS[i % COLORS.length]}`, text: r.name })));
  $("metric-filter").addEventListener("input", renderPicker);
  const preset = (f) => () => {
    state.userPicked = true;
    state.picked = new Set(metricNames().filter(f));
    renderPicker();
    renderCharts();
  };
  $("preset-overview").addEventListener("click", preset((n) => OVERVIEW.some((re) => re.test(n))));
  $("preset-timing").addEventListener("click", preset((n) => n.startsWith("timing/")));
  $("preset-none").addEventListener("click", preset(() => false));
  $("traj-run").addEventListener("change", () => {
    $("traj-step").value = "";
    renderStepPicker();
    void openStep();
  });
  $("traj-step").addEventListener("change", () => void openStep());
  $("traj-env").addEventListener("change", renderTrajectories);
  $("traj-group").addEventListener("change", renderTrajectories);
  $("traj-search").addEventListener("input", renderTrajectories);
  await refresh(state.runs.map((r) => r.id));
  listen();
  window.gymrlView.ready = true;
}

// what the page holds, for a person at the console and for the headless tests
window.gymrlView = { state, gapColor, GAP_MAX, ready: false, updates: 0 };
main().catch((e) => {
  console.error(e);
  document.body.prepend(el("pre", { class: "fatal", text: `gymrl view failed to start: ${e.message || e}` }));
});
