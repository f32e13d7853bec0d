/* The facilitator's console: run the clock, spoilers, extra faults, hints. */
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const H = {"X-Facilitator-Token": TOKEN};
function fail(e) { document.getElementById("f-error").textContent = e.message || String(e); }
function ok() { document.getElementById("f-error").textContent = ""; }

for (const b of document.querySelectorAll("button[data-control]"))
  b.addEventListener("click", () => send(`/api/facilitator/${b.dataset.control}`, {}, H).then(ok, fail));

document.getElementById("inject").addEventListener("submit", ev => {
  ev.preventDefault();
  let params;
  try { params = JSON.parse(document.getElementById("params").value || "{}"); }
  catch (e) { fail(new Error("parameters: " + e.message)); return; }
  send("/api/facilitator/fault", {
    kind: document.getElementById("kind").value,
    duration_s: 60 * Number(document.getElementById("duration").value),
    probability: Number(document.getElementById("probability").value),
    params}, H).then(ok, fail);
});
document.getElementById("hint-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const box = document.getElementById("hint");
  send("/api/facilitator/hint", {text: box.value}, H).then(() => { box.value = ""; ok(); }, fail);
});

function dl(pairs) {
  return pairs.flatMap(([k, v]) => [el("dt", {text: k}), el("dd", {text: v})]);
}

listen(`/api/facilitator/events?token=${encodeURIComponent(TOKEN)}`, s => {
  renderHeader(s);
  const sp = s.spoilers;
  show("people", s.participants, ps => ps.length ? ps.map(p => el("li", {text: p.actor}))
    : [el("li", {class: "quiet", text: "Nobody has joined yet."})]);
  show("spoilers", sp, () => dl([
    ["right runbook", sp.runbook], ["severity", sp.severity],
    ["faults", sp.faults.map(f => `${f.kind} at ${f.at}` + (f.duration ? ` for ${f.duration}` : "")).join("; ") || "none"],
    ["surges", sp.surges.map(x => `${x.job} at ${x.at} for ${x.duration}`).join("; ") || "none"],
    ["defects", sp.defects.join(", ") || "none"]]));
  show("steps", sp.steps, steps => steps.map(st => el("li", {},
    el("code", {text: st.name}), ` ${st.text} — ${st.action}` + (st.deadline_s ? ` (due ${Math.round(st.deadline_s / 60)} min after the page)` : ""))));
  const b = sp.baseline;
  show("baseline", b, () => b ? dl([
    ["detected", `${b.detected_offset} by ${b.detection_signal}`],
    ["contained", b.contained ? `${fmt(b.time_to_contain_s)} s after the incident began` : "not contained"],
    ["mitigated", b.time_to_mitigate_s === null ? "—" : `${fmt(b.time_to_mitigate_s)} s after the incident began`],
    ["runbook steps", `${b.steps_ok} of ${b.steps.length} in order and in time`],
    ["verdict", b.drill_verdict]]) : [el("dd", {text: "not run"})]);
  show("timeline", s.timeline, timelineItems);
  if (s.outcome) {
    const o = document.getElementById("outcome");
    o.hidden = false;
    show("outcome", s.outcome, outcomeItems);
  }
});
