/* Shared helpers of the game day consoles (no framework, no build step). */
"use strict";

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

/* Replace a container's children only when what it shows changed (keeps focus and clicks). */
const _shown = new Map();
function show(id, data, render) {
  const key = JSON.stringify(data);
  if (_shown.get(id) === key) return;
  _shown.set(id, key);
  const box = document.getElementById(id);
  if (box) box.replaceChildren(...render(data));
}

async function send(url, body, headers) {
  const r = await fetch(url, {
    method: "POST",
    headers: Object.assign({"Content-Type": "application/json"}, headers || {}),
    body: JSON.stringify(body || {}),
    credentials: "same-origin",
  });
  const data = await r.json().catch(() => ({error: r.statusText}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function fmt(x) {
  if (x === null || x === undefined) return "—";
  if (typeof x === "number") return Number.isInteger(x) ? String(x) : x.toFixed(2);
  return String(x);
}

function renderHeader(s) {
  const status = {lobby: "waiting in the lobby", running: "running", paused: "paused",
                  ending: "ending (fast-forward)", done: "done"}[s.status] || s.status;
  document.getElementById("status").textContent = status;
  document.getElementById("clock").textContent =
    `${s.clock.offset} of ${Math.round(s.clock.duration_s / 60)} min · ×${fmt(s.clock.scale)}`;
}

function timelineItems(rows) {
  if (!rows.length) return [el("li", {class: "quiet", text: "Nothing yet."})];
  return rows.slice().reverse().map(r =>
    el("li", {class: "k-" + r.kind.replace(/\./g, "-")},
       el("span", {class: "when", text: r.offset}), " ",
       el("span", {class: "who", text: r.actor}), " ",
       el("span", {text: r.summary})));
}

function outcomeItems(o) {
  const rows = (o.rows || []).map(r => el("tr", {},
    el("th", {scope: "row", text: r.measure}), el("td", {text: r.people}),
    el("td", {text: r.auto}), el("td", {text: r.grade})));
  return [
    el("h2", {text: `Game day over: ${o.grade || "?"} · verdict ${o.verdict}`}),
    el("p", {text: o.report_dir ? `Report: ${o.report_dir}/postmortem.md` : "No report written."}),
    el("table", {"aria-label": "Grades"},
      el("thead", {}, el("tr", {}, el("th", {scope: "col", text: "measure"}),
        el("th", {scope: "col", text: "people"}), el("th", {scope: "col", text: "automated Ops Lead"}),
        el("th", {scope: "col", text: "grade"}))),
      el("tbody", {}, ...rows)),
  ];
}

function listen(url, onState) {
  const es = new EventSource(url);
  es.addEventListener("state", ev => onState(JSON.parse(ev.data)));
  return es;
}
