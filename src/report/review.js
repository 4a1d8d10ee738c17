// review.html: browse, search and label the pairs of one run. Plain script, no library: the
// data is the JSON in #data (records once; pairs as [a, b, probability, weight, kind, cluster,
// levels, field weights], kind 1 a match, 2 an ID conflict, 0 a candidate below the threshold).
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const COL = Object.fromEntries(D.columns.map((c, i) => [c[0], i]));
const KIND = ["阈值以下", "匹配", "证件号冲突"];
const JUDGEMENTS = ["同一人", "不同人", "不确定"];
const JCLASS = { "同一人": "j-same", "不同人": "j-different", "不确定": "j-unsure" };
const PAGE = 100;
const STORE = "xueji-review:" + D.title + ":" + D.pairs.length;

const rec = (i, col) => D.records[i][COL[col]] || "";
const key = p => rec(p[0], "record_id") + "\t" + rec(p[1], "record_id");
const esc = s => String(s).replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const pattern = p => p[6].join(".");
// How far a pair's probability is from the threshold: the nearest are the least certain.
const doubt = i => Math.abs(D.pairs[i][2] - D.threshold);
const patternText = levels => levels.map((l, f) => D.model[f].label + ":" + D.model[f].levels[l][0]).join(" · ");

let labels = {};
try { labels = JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { labels = {}; }
const save = () => { try { localStorage.setItem(STORE, JSON.stringify(labels)); } catch (e) { /* a file:// page may not store */ } };

const state = { tab: "pairs", band: "all", pattern: "", place: "", school: "", search: "", shown: PAGE, pair: -1, cluster: -1 };

// Patterns, their counts and mean probability, most frequent first (the filter offers the
// hundred most frequent; the patterns tab lists them all).
const patterns = (() => {
  const by = new Map();
  D.pairs.forEach(p => {
    const k = pattern(p);
    const g = by.get(k) || { key: k, levels: p[6], n: 0, sum: 0, reported: 0 };
    g.n += 1; g.sum += p[2]; g.reported += p[4] > 0 ? 1 : 0;
    by.set(k, g);
  });
  return [...by.values()].sort((a, b) => b.n - a.n || a.key.localeCompare(b.key));
})();
const places = [...new Set(D.pairs.flatMap(p => [p[0], p[1]]).map(i => rec(i, "place_city") + " / " + rec(i, "place_county")))].sort();

function bandOf(p) {
  if (p[4] === 0) return "below";
  return Math.min(9, Math.floor(p[2] * 10)) / 10;
}

function filtered() {
  const q = state.search.trim().toLowerCase();
  return D.pairs.map((p, i) => i).filter(i => {
    const p = D.pairs[i];
    if (state.band === "reported" && p[4] === 0) return false;
    if (state.band === "below" && p[4] !== 0) return false;
    if (state.band === "labelled" && !labels[key(p)]) return false;
    if (/^0\.\d$/.test(state.band) && (p[4] === 0 || bandOf(p) !== Number(state.band))) return false;
    if (state.pattern && pattern(p) !== state.pattern) return false;
    if (state.place && ![p[0], p[1]].some(r => rec(r, "place_city") + " / " + rec(r, "place_county") === state.place)) return false;
    if (state.school && ![p[0], p[1]].some(r => rec(r, "school_name").includes(state.school))) return false;
    if (q && ![p[0], p[1]].some(r => ["name", "id_number", "record_id"].some(c => rec(r, c).toLowerCase().includes(q)))) return false;
    return true;
  // The doubtful first: nearest the threshold on either side, ID conflicts after them.
  }).sort((x, y) => (D.pairs[x][4] === 2) - (D.pairs[y][4] === 2) || doubt(x) - doubt(y) || x - y);
}

// Characters of `a` that are not in a longest common subsequence with `b`, marked.
function diff(a, b) {
  if (a === b) return esc(a);
  const x = [...a], y = [...b];
  if (x.length * y.length > 10000) return "<mark>" + esc(a) + "</mark>";
  const L = Array.from({ length: x.length + 1 }, () => new Array(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--)
    L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  let out = "", i = 0, j = 0;
  while (i < x.length) {
    if (j < y.length && x[i] === y[j]) { out += esc(x[i]); i++; j++; }
    else if (j < y.length && L[i][j + 1] >= L[i + 1][j]) { j++; }
    else { out += "<mark>" + esc(x[i]) + "</mark>"; i++; }
  }
  return out;
}

// The prior, each field's weight in turn, the total: Splink's waterfall, labels that add up.
function waterfall(p) {
  const steps = [["先验 prior", D.prior]].concat(D.model.map((f, k) => [f.label + " " + f.levels[p[6][k]][0], p[7][k]]));
  let at = 0;
  const spans = steps.map(s => { const from = at; at += s[1]; return [from, at]; });
  const lo = Math.min(0, ...spans.flat()), hi = Math.max(0, ...spans.flat());
  const label = 190, width = 440, row = 20;
  const X = w => label + (w - lo) / Math.max(hi - lo, 1) * width;
  let svg = `<svg class="waterfall" width="${label + width + 200}" height="${row * (steps.length + 1) + 10}">`;
  svg += `<line x1="${X(0)}" x2="${X(0)}" y1="0" y2="${row * (steps.length + 1)}"/>`;
  steps.forEach((s, k) => {
    const [from, to] = spans[k], y = k * row;
    svg += `<text x="${label - 6}" y="${y + 14}" text-anchor="end">${esc(s[0])}</text>` +
      `<rect class="${s[1] >= 0 ? "for" : "against"}" x="${X(Math.min(from, to))}" y="${y + 3}" width="${Math.max(1, X(Math.max(from, to)) - X(Math.min(from, to)))}" height="${row - 6}"/>` +
      `<text x="${X(Math.max(from, to)) + 4}" y="${y + 14}">${s[1] >= 0 ? "+" : ""}${s[1].toFixed(1)}</text>`;
  });
  const y = steps.length * row;
  svg += `<text x="${label - 6}" y="${y + 14}" text-anchor="end">合计 total</text>` +
    `<rect class="total" x="${X(Math.min(0, at))}" y="${y + 3}" width="${Math.max(1, X(Math.max(0, at)) - X(Math.min(0, at)))}" height="${row - 6}"/>` +
    `<text x="${X(Math.max(0, at)) + 4}" y="${y + 14}">${at.toFixed(1)} 比特 bits，概率 p = ${p[2].toFixed(4)}</text></svg>`;
  return svg;
}

function labelCell(p) {
  const l = labels[key(p)];
  return l ? `<span class="${JCLASS[l.j]}">${l.j}</span>` : "";
}

function pairRow(i) {
  const p = D.pairs[i];
  return `<tr class="pick${i === state.pair ? " sel" : ""}" data-pair="${i}"><td class="num">${p[2].toFixed(3)}</td>` +
    `<td class="kind${p[4]}">${KIND[p[4]]}</td><td>${esc(rec(p[0], "name"))}</td><td>${esc(rec(p[1], "name"))}</td>` +
    `<td>${esc(rec(p[0], "id_number"))}</td><td>${esc(rec(p[1], "id_number"))}</td>` +
    `<td>${esc(rec(p[0], "school_name"))}</td><td>${esc(rec(p[1], "school_name"))}</td><td>${labelCell(p)}</td></tr>`;
}

function pairDetail(i) {
  const p = D.pairs[i], l = labels[key(p)] || {};
  let rows = D.columns.map((c, k) => {
    const a = D.records[p[0]][k] || "", b = D.records[p[1]][k] || "";
    return `<tr><th>${c[1]}</th><td>${diff(a, b)}</td><td>${diff(b, a)}</td></tr>`;
  }).join("");
  const levels = D.model.map((f, k) => `<tr><th>${f.label}</th><td>${esc(f.levels[p[6][k]][0])} <small>${esc(f.levels[p[6][k]][1])}</small></td><td class="num">${p[7][k].toFixed(2)}</td></tr>`).join("");
  return `<div class="detail" id="detail"><h2>记录对 ${esc(rec(p[0], "record_id"))} ↔ ${esc(rec(p[1], "record_id"))}（${KIND[p[4]]}，概率 ${p[2].toFixed(4)}）</h2>` +
    `<div class="label" id="label">判定：${JUDGEMENTS.map(j => `<button data-j="${j}" class="${l.j === j ? "on" : ""}">${j}</button>`).join("")}` +
    `<input id="note" placeholder="复核备注 note" value="${esc(l.note || "")}" size="40"> <button data-j="">清除</button></div>` +
    `<table><tr><th></th><th>记录 1</th><th>记录 2</th></tr>${rows}</table>${waterfall(p)}` +
    `<table><tr><th>字段 field</th><th>比对级别 level</th><th>权重 weight</th></tr>${levels}</table></div>`;
}

function pairsView() {
  const list = filtered();
  const bands = ["all", "reported", "below", "labelled", "0.6", "0.7", "0.8", "0.9", "0.5", "0.4", "0.3", "0.2", "0.1", "0.0"];
  const bandName = b => ({ all: "全部", reported: "报告的（匹配与冲突）", below: "阈值以下的候选对", labelled: "已判定" })[b] || `${b}–${(Number(b) + 0.1).toFixed(1)}`;
  let html = `<div class="bar"><label>概率段 <select id="band">${bands.map(b => `<option value="${b}"${state.band === b ? " selected" : ""}>${bandName(b)}</option>`).join("")}</select></label>` +
    `<label>比对模式 <select id="pattern"><option value="">全部</option>${patterns.filter((g, k) => k < 100 || g.key === state.pattern).map(g => `<option value="${g.key}"${state.pattern === g.key ? " selected" : ""}>${g.n}对：${esc(patternText(g.levels))}</option>`).join("")}</select></label>` +
    `<label>地区 <select id="place"><option value="">全部</option>${places.map(pl => `<option${state.place === pl ? " selected" : ""}>${esc(pl)}</option>`).join("")}</select></label>` +
    `<label>学校 <input id="school" value="${esc(state.school)}" size="12"></label>` +
    `<label>搜索姓名、证件号或记录号 <input id="search" value="${esc(state.search)}" size="18"></label>` +
    `<span id="count">${list.length}对</span></div>`;
  html += `<table id="pairs"><tr><th>概率</th><th>类别</th><th>姓名1</th><th>姓名2</th><th>证件号1</th><th>证件号2</th><th>学校1</th><th>学校2</th><th>判定</th></tr>` +
    list.slice(0, state.shown).map(pairRow).join("") + "</table>";
  if (list.length > state.shown) html += `<button id="more">再显示${Math.min(PAGE, list.length - state.shown)}对（共${list.length}对）</button>`;
  if (state.pair >= 0) html += pairDetail(state.pair);
  return html;
}

function patternsView() {
  return `<p>按各字段的比对级别分组（Splink comparison viewer）：点击一行查看这些记录对。</p><table id="patterns"><tr><th>记录对</th><th>报告的</th><th>平均概率</th><th>比对模式</th></tr>` +
    patterns.map(g => `<tr class="pick" data-pattern="${g.key}"><td class="num">${g.n}</td><td class="num">${g.reported}</td><td class="num">${(g.sum / g.n).toFixed(3)}</td><td>${esc(patternText(g.levels))}</td></tr>`).join("") + "</table>";
}

function clustersView() {
  // A cluster's edges: the reported pairs among its members; a match whose records ended in no
  // common cluster was cut by the cohesion guard.
  const edges = new Map();
  D.pairs.forEach((p, i) => {
    if (p[4] !== 1) return;
    const c = p[5];
    if (c >= 0) { (edges.get(c) || edges.set(c, []).get(c)).push(i); }
  });
  const member = new Map();
  D.clusters.forEach((c, k) => c.forEach(r => member.set(r, k)));
  const cut = new Map();
  D.pairs.forEach((p, i) => {
    if (p[4] !== 1 || p[5] >= 0) return;
    [p[0], p[1]].forEach(r => { if (member.has(r)) { const k = member.get(r); (cut.get(k) || cut.set(k, []).get(k)).push(i); } });
  });
  const order = D.clusters.map((c, k) => k).sort((x, y) => ((cut.get(y) || []).length - (cut.get(x) || []).length) || D.clusters[y].length - D.clusters[x].length || x - y);
  let html = `<p>${D.clusters.length}个聚类（一人多籍）；被拆分的连锁（cut）在前，其次是大的聚类。</p><table id="clusters"><tr><th>记录数</th><th>拆开的边</th><th>成员</th></tr>` +
    order.slice(0, state.shown).map(k => `<tr class="pick${k === state.cluster ? " sel" : ""}" data-cluster="${k}"><td class="num">${D.clusters[k].length}</td><td class="num">${(cut.get(k) || []).length}</td><td>${D.clusters[k].map(r => esc(rec(r, "name")) + "（" + esc(rec(r, "school_name")) + "）").join("，")}</td></tr>`).join("") + "</table>";
  if (D.clusters.length > state.shown) html += `<button id="more">再显示${PAGE}个</button>`;
  if (state.cluster >= 0) {
    const k = state.cluster;
    html += `<div class="detail"><h2>聚类 ${esc(rec(D.clusters[k][0], "record_id"))}</h2><table><tr>${D.columns.map(c => `<th>${c[1]}</th>`).join("")}</tr>` +
      D.clusters[k].map(r => `<tr>${D.records[r].map(v => `<td>${esc(v)}</td>`).join("")}</tr>`).join("") + "</table>" +
      `<table><tr><th>边 edge</th><th>概率</th><th></th></tr>` +
      (edges.get(k) || []).map(i => `<tr class="pick" data-pair="${i}"><td>${esc(rec(D.pairs[i][0], "name"))} ↔ ${esc(rec(D.pairs[i][1], "name"))}</td><td class="num">${D.pairs[i][2].toFixed(4)}</td><td></td></tr>`).join("") +
      (cut.get(k) || []).map(i => `<tr class="pick cut" data-pair="${i}"><td>${esc(rec(D.pairs[i][0], "name"))} ↔ ${esc(rec(D.pairs[i][1], "name"))}</td><td class="num">${D.pairs[i][2].toFixed(4)}</td><td>已拆分 cut by the cohesion guard</td></tr>`).join("") + "</table></div>";
  }
  return html;
}

function modelView() {
  const max = Math.max(1, ...D.model.flatMap(f => f.levels.map(l => Math.abs(l[4]))));
  return `<p>先验 prior ${D.prior.toFixed(2)} 比特；阈值 threshold ${D.threshold}。每个级别的 m（同一人时出现的概率）、u（不同人时）和匹配权重 log2(m/u)。</p>` +
    D.model.map(f => `<h3>${f.label} ${f.field}</h3><table class="model"><tr><th>级别</th><th>level</th><th>m</th><th>u</th><th>权重 weight</th><th></th></tr>` +
      f.levels.map(l => `<tr><td>${esc(l[0])}</td><td>${esc(l[1])}</td><td class="num">${l[2].toPrecision(3)}</td><td class="num">${l[3].toPrecision(3)}</td><td class="num">${l[4].toFixed(2)}</td>` +
        `<td><span class="w" style="width:${Math.round(Math.abs(l[4]) / max * 200)}px;background:${l[4] >= 0 ? "#2e8b57" : "#c0392b"}"></span></td></tr>`).join("") + "</table>").join("");
}

function labelsView() {
  const keys = Object.keys(labels);
  const count = j => keys.filter(k => labels[k].j === j).length;
  return `<p>已判定${keys.length}对：${JUDGEMENTS.map(j => `${j}${count(j)}对`).join("，")}。判定保存在本浏览器中；导出的CSV可交给 <code>xueji dedupe/run/link --labels</code>。</p>` +
    `<button id="export">导出判定 CSV</button> <button id="clear">清除全部判定</button>` +
    `<table><tr><th>记录号1</th><th>记录号2</th><th>判定</th><th>复核备注</th></tr>${keys.map(k => { const [a, b] = k.split("\t"); return `<tr><td>${esc(a)}</td><td>${esc(b)}</td><td class="${JCLASS[labels[k].j]}">${labels[k].j}</td><td>${esc(labels[k].note || "")}</td></tr>`; }).join("")}</table>`;
}

function exportLabels() {
  // Cells that start with = + - @ are made inert, as xueji's own CSV files are.
  const cell = v => { let s = String(v); if (/^[=+\-@]/.test(s)) s = "'" + s; return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
  const lines = [["记录号1", "记录号2", "判定", "复核备注"]].concat(Object.keys(labels).map(k => k.split("\t").concat([labels[k].j, labels[k].note || ""])));
  const blob = new Blob(["\ufeff" + lines.map(l => l.map(cell).join(",")).join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "复核标签.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function render() {
  const tabs = [["pairs", "记录对"], ["patterns", "比对模式"], ["clusters", "聚类"], ["model", "模型"], ["labels", "判定"]];
  const reported = D.pairs.filter(p => p[4] > 0).length;
  let html = `<h1>${esc(D.title)} · 复核 review</h1><div class="sub">报告的记录对${reported}对，阈值以下的候选对${D.pairs.length - reported}对，聚类${D.clusters.length}个，已判定${Object.keys(labels).length}对</div>` +
    `<nav>${tabs.map(t => `<button data-tab="${t[0]}" class="${state.tab === t[0] ? "on" : ""}">${t[1]}</button>`).join("")}</nav>`;
  html += { pairs: pairsView, patterns: patternsView, clusters: clustersView, model: modelView, labels: labelsView }[state.tab]();
  document.getElementById("app").innerHTML = html;
}

function setLabel(j) {
  const p = D.pairs[state.pair], k = key(p);
  if (j) labels[k] = { j, note: document.getElementById("note").value }; else delete labels[k];
  save();
  render();
}

document.addEventListener("click", e => {
  const t = e.target.closest("[data-tab],[data-pair],[data-pattern],[data-cluster],[data-j],#more,#export,#clear");
  if (!t) return;
  if (t.dataset.tab) { state.tab = t.dataset.tab; state.shown = PAGE; }
  else if (t.dataset.j !== undefined) { setLabel(t.dataset.j); return; }
  else if (t.dataset.pair) { state.pair = Number(t.dataset.pair); state.tab = "pairs"; }
  else if (t.dataset.pattern !== undefined) { state.pattern = t.dataset.pattern; state.tab = "pairs"; state.shown = PAGE; }
  else if (t.dataset.cluster) { state.cluster = Number(t.dataset.cluster); }
  else if (t.id === "more") { state.shown += PAGE; }
  else if (t.id === "export") { exportLabels(); return; }
  else if (t.id === "clear") { labels = {}; save(); }
  render();
});
document.addEventListener("change", e => {
  if (["band", "pattern", "place"].includes(e.target.id)) { state[e.target.id] = e.target.value; state.shown = PAGE; render(); }
  if (e.target.id === "note" && state.pair >= 0 && labels[key(D.pairs[state.pair])]) { labels[key(D.pairs[state.pair])].note = e.target.value; save(); }
});
document.addEventListener("input", e => {
  if (e.target.id === "search" || e.target.id === "school") {
    state[e.target.id] = e.target.value; state.shown = PAGE;
    const at = e.target.selectionStart, id = e.target.id;
    render();
    const again = document.getElementById(id);
    again.focus(); again.setSelectionRange(at, at);
  }
});
render();
// How long the page took to open, from navigation to the first list drawn (benchmarks read it).
document.body.dataset.openedMs = Math.round(performance.now());
