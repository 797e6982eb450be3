/**
 * The dashboard page's script: polls the JSON API, draws the charts as SVG and fills the
 * tables. Text from the store (keys, paths) is only ever set through `textContent`: a key is
 * whatever a client sent. The token comes from the URL fragment (never sent to the server,
 * so never in a log) or the form, and is kept in memory only: the gateway serves the proxied
 * API's pages on the same origin, and those could read any storage of the page.
 */
export const PAGE_SCRIPT = `
"use strict";
const base = location.pathname.replace(/\\/+$/, "");
const KINDS = [["executed", "Executions"], ["replayed", "Replays"], ["conflicts", "Conflicts (409)"],
  ["mismatches", "Mismatches"], ["released", "Releases"], ["storeErrors", "Store errors"]];
const EVENT_NAMES = { executed: "executed", replayed: "replayed", conflicts: "conflict", mismatches: "mismatch",
  released: "released", storeErrors: "store error" };
const $ = (id) => document.getElementById(id);
let token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
let canWrite = false;
if (token) history.replaceState(null, "", location.pathname);

async function api(path, init) {
  const response = await fetch(base + "/api" + path, Object.assign({}, init, {
    headers: { authorization: "Bearer " + token }, cache: "no-store" }));
  if (response.status === 401) { askForToken(); throw new Error("the dashboard token is missing or wrong"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || body.error || ("HTTP " + response.status));
  return body;
}

function askForToken() { $("login").classList.remove("hidden"); }

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svgLine(svg, values, max, height) {
  const width = 300;
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => (i * step).toFixed(1) + "," + (height - (v / max) * (height - 2) - 1).toFixed(1));
  let line = svg.querySelector("polyline");
  if (!line) { line = document.createElementNS("http://www.w3.org/2000/svg", "polyline"); svg.appendChild(line); }
  line.setAttribute("points", points.join(" "));
}

function buildCharts() {
  const holder = $("charts");
  for (const [kind, label] of KINDS) {
    const chart = el("div", undefined, "chart");
    chart.dataset.kind = kind;
    const head = el("div", undefined, "head");
    head.append(el("span", label, "name"));
    const total = el("span", "0", "total");
    total.dataset.testid = "total-" + kind;
    head.append(total);
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 300 60");
    svg.setAttribute("preserveAspectRatio", "none");
    chart.append(head, svg, el("div", "per second, last 2 minutes", "empty"));
    holder.append(chart);
  }
}

function drawActivity(data) {
  canWrite = data.write;
  for (const node of document.querySelectorAll("[data-write]")) node.classList.toggle("hidden", !canWrite);
  for (const [kind] of KINDS) {
    const chart = document.querySelector('.chart[data-kind="' + kind + '"]');
    const series = data.series[kind];
    const peak = Math.max(...series);
    chart.querySelector(".total").textContent = data.totals[kind] + " total · peak " + peak + "/s";
    svgLine(chart.querySelector("svg"), series, Math.max(1, peak), 60);
  }
  const rates = data.series.replayed.map((r, i) => { const all = r + data.series.executed[i]; return all ? r / all : 0; });
  svgLine($("rate-chart"), rates, 1, 80);
  const band = $("rate-band");
  band.setAttribute("height", String(80 * (1 - data.replayWarningRate)));
  $("rate-limit").setAttribute("y1", String(80 * (1 - data.replayWarningRate)));
  $("rate-limit").setAttribute("y2", String(80 * (1 - data.replayWarningRate)));
  const rate = data.replayRate;
  $("rate-value").textContent = rate === null ? "–" : (rate * 100).toFixed(1) + "%";
  $("rate-value").dataset.rate = rate === null ? "" : String(rate);
  const warn = rate !== null && rate > data.replayWarningRate;
  document.body.classList.toggle("warn", warn);
  $("rate-warning").textContent = warn ? "Replay rate " + (rate * 100).toFixed(1) + "% is above " +
    (data.replayWarningRate * 100) + "%: clients retry too much, or a key generator repeats keys." : "";
  fillTable("recent", data.recent, (e) => [new Date(e.at).toLocaleTimeString(), EVENT_NAMES[e.kind], e.status ?? "", e.key ?? "",
    e.method + " " + e.path], ["", "", "", "key", ""]);
}

function fillTable(id, rows, cells, classes) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = 9;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const row of rows) {
    const tr = el("tr");
    tr.dataset.key = row.key ?? "";
    cells(row).forEach((value, i) => tr.append(el("td", value, classes[i] || undefined)));
    body.append(tr);
  }
}

function seconds(ms) { return (ms / 1000).toFixed(1) + " s"; }
function size(bytes) { return bytes === undefined ? "" : bytes < 1024 ? bytes + " B" : (bytes / 1024).toFixed(1) + " KiB"; }

function drawRecords(data) {
  if (!data.listable) { $("records-note").textContent = "This store cannot list its records."; return; }
  $("records-note").textContent = data.truncated ? "Showing the first " + data.scanned + " records scanned." : "";
  fillTable("in-flight", data.inFlight, (r) => [r.key, r.scope, seconds(r.leaseAgeMs),
    seconds(Math.max(0, r.leaseExpiresAt - Date.now()))], ["key", "scope", "", ""]);
  fillTable("latest", data.latest, (r) => [r.key, r.state === "completed" ? "completed" : "in flight",
    r.status ?? "", size(r.bodyBytes), new Date(r.createdAt).toLocaleTimeString()], ["key", "", "", "", ""]);
}

async function lookUp(event) {
  event.preventDefault();
  const key = $("lookup-key").value;
  if (!key) return;
  const withBody = $("lookup-body").checked;
  const out = $("lookup-result");
  out.replaceChildren();
  try {
    const data = await api("/records/" + encodeURIComponent(key) + (withBody ? "?body=true" : ""));
    if (data.records.length === 0) { out.append(el("p", "No live record for this key.", "empty")); return; }
    for (const record of data.records) {
      const body = record.body;
      const shown = {};
      for (const [name, value] of Object.entries(record)) {
        if (name !== "body") shown[name] = /At$/.test(name) ? new Date(value).toISOString() : value;
      }
      out.append(el("pre", JSON.stringify(shown, null, 2)));
      if (body) out.append(el("h3", "Stored body (" + body.encoding + (body.truncated ? ", cut" : "") + ")"), el("pre", body.text, "body"));
      if (canWrite) {
        const button = el("button", "Delete this record", "danger");
        button.type = "button";
        button.onclick = async () => {
          if (!confirm("Delete the record of " + key + "? Its next request executes again.")) return;
          const result = await api("/records/" + encodeURIComponent(key) + "?scope=" + encodeURIComponent(record.scope), { method: "DELETE" });
          out.replaceChildren(el("p", result.deleted ? "Deleted." : "It was gone already."));
        };
        out.append(button);
      }
    }
  } catch (error) { out.append(el("p", error.message, "error")); }
}

async function purge() {
  const result = await api("/purge", { method: "POST" });
  $("purge-result").textContent = "Purged " + result.purged + " expired records.";
}

async function refresh() {
  try {
    const [activity, records] = await Promise.all([api("/activity"), api("/records")]);
    drawActivity(activity);
    drawRecords(records);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").classList.remove("error");
  } catch (error) {
    $("status").textContent = error.message;
    $("status").classList.add("error");
  }
}

buildCharts();
$("lookup").addEventListener("submit", lookUp);
$("purge").addEventListener("click", purge);
$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value;
  $("login").classList.add("hidden");
  refresh();
});
if (!token) askForToken();
refresh();
setInterval(refresh, 1000);
`;
