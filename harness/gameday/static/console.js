/* The participants' console: pages, live signals, runbook library and steps, notes. */
"use strict";

const ROLE = document.getElementById("me").dataset.role;
const ACTING = ROLE === "Incident Commander" || ROLE === "Ops Lead";
let STATE = null;
let RUNBOOK = null;

document.body.dataset.role = ROLE;
for (const e of document.querySelectorAll(".acting")) e.hidden = !ACTING;
for (const e of document.querySelectorAll(".ic-only")) e.hidden = ROLE !== "Incident Commander";
for (const e of document.querySelectorAll(".scribe-only")) e.hidden = !(ROLE === "Scribe" || ROLE === "Incident Commander");
for (const e of document.querySelectorAll(".comms-only")) e.hidden = !(ROLE === "Comms" || ROLE === "Incident Commander");

function fail(e) { document.getElementById("act-error").textContent = e.message || String(e); }
function ok() { document.getElementById("act-error").textContent = ""; }

/* Ask for a reason in a dialog; resolves with the text, or null when cancelled. */
function askReason(what) {
  const dlg = document.getElementById("reason-dialog");
  const box = document.getElementById("reason");
  document.getElementById("reason-what").textContent = what;
  box.value = "";
  return new Promise(resolve => {
    const form = document.getElementById("reason-form");
    const cancel = document.getElementById("reason-cancel");
    function done(v) {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dlg.close();
      resolve(v);
    }
    function onSubmit(ev) { ev.preventDefault(); if (box.value.trim()) done(box.value.trim()); }
    function onCancel() { done(null); }
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dlg.showModal();
    box.focus();
  });
}

async function act(label, body) {
  const reason = await askReason(label);
  if (reason === null) return;
  try { await send("/api/actions", Object.assign({reason}, body)); ok(); } catch (e) { fail(e); }
}

/* --- pages ------------------------------------------------------------------------------ */
function pageItems(pages) {
  if (!pages.length) return [el("li", {class: "quiet", text: "No page yet."})];
  return pages.slice().reverse().map(p => {
    const scope = [...(p.scope.platforms || []), ...(p.scope.clients || [])].join(", ");
    return el("li", {class: p.acked_by ? "acked" : "open"},
      el("strong", {text: p.title}), " ", el("span", {class: "when", text: p.offset}),
      el("p", {text: p.message + (scope ? ` — scope: ${scope}` : "")}),
      p.acked_by
        ? el("p", {class: "quiet", text: `acknowledged by ${p.acked_by}`})
        : el("button", {type: "button", "aria-label": `Acknowledge page ${p.title}`,
            onclick: () => send(`/api/pages/${p.id}/ack`).then(ok, fail), text: "Acknowledge"}));
  });
}

/* --- signals ---------------------------------------------------------------------------- */
function renderSignals(s) {
  const sig = s.signals || {};
  document.getElementById("signals-at").textContent =
    sig.offset ? `(last ${Math.round((sig.window_s || 300) / 60)} min, at ${sig.offset})` : "(waiting for the platform)";
  show("platforms-body", sig.platforms || [], rows => rows.map(p => el("tr", {},
    el("th", {scope: "row", text: p.platform}), el("td", {text: fmt(p.publish_attempts)}),
    el("td", {text: fmt(p.publish_success)}), el("td", {class: p.publish_failures ? "bad" : "", text: fmt(p.publish_failures)}),
    el("td", {class: p.rate_limited_429 ? "bad" : "", text: fmt(p.rate_limited_429)}),
    el("td", {text: Object.entries(p.outcomes || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "—"}))));
  show("queues-body", sig.queues || [], rows => rows.map(q => el("tr", {},
    el("th", {scope: "row", text: q.job_class}), el("td", {text: fmt(q.depth)}),
    el("td", {text: `${fmt(q.oldest_age_s)} s`}))));
  show("money", [sig.spend_usd, sig.spend_usd_window, sig.blocked], () => [
    el("dt", {text: "spend"}), el("dd", {text: `$${fmt(sig.spend_usd)} ($${fmt(sig.spend_usd_window)} in the window)`}),
    el("dt", {text: "side effects refused"}),
    el("dd", {text: Object.entries(sig.blocked || {}).map(([k, v]) => `${k}: ${v}`).join(", ") || "none"})]);
  const c = sig.controls || {};
  show("controls", c, () => [
    el("dt", {text: "kill switches"}), el("dd", {text: (c.kill_switches || []).join("; ") || "none engaged"}),
    el("dt", {text: "modes"}), el("dd", {text: (c.modes || []).join("; ") || "auto"}),
    el("dt", {text: "paused queues"}), el("dd", {text: (c.paused_queues || []).join(", ") || "none"}),
    el("dt", {text: "trigger lock"}), el("dd", {text: c.trigger_lock ? String(c.trigger_lock) : "off"})]);
}

/* --- runbooks --------------------------------------------------------------------------- */
document.getElementById("search").addEventListener("submit", async ev => {
  ev.preventDefault();
  const q = document.getElementById("q").value;
  const r = await fetch(`/api/runbooks?q=${encodeURIComponent(q)}`, {credentials: "same-origin"});
  const data = await r.json();
  const hits = data.hits || [];
  document.getElementById("hits").replaceChildren(...(hits.length ? hits.map(h =>
    el("li", {},
      el("button", {type: "button", "aria-label": `Open ${h.id} ${h.title}`, onclick: () => openRunbook(h.id),
        text: `${h.id} ${h.title}`}),
      el("span", {class: "quiet", text: ` ${h.severity} · ${h.types.join(", ")}`}),
      h.matched_symptoms.length ? el("p", {class: "matched", text: "matches: " + h.matched_symptoms.join("; ")}) : null))
    : [el("li", {class: "quiet", text: `No runbook matches “${q}”.`})]));
});

function selectFor(name, options, label, preferred) {
  const s = el("select", {"aria-label": label, "data-param": name});
  for (const o of options) s.append(el("option", {value: o, text: o, selected: o === preferred}));
  return s;
}

async function openRunbook(id) {
  try {
    await send(`/api/runbooks/${id}/choose`);
    const r = await fetch(`/api/runbooks/${id}`, {credentials: "same-origin"});
    RUNBOOK = await r.json();
    if (!r.ok) throw new Error(RUNBOOK.error);
    ok();
    renderRunbook();
  } catch (e) { fail(e); }
}

function scopeOf() {
  const page = (STATE && STATE.pages || []).find(p => (p.scope.platforms || []).length);
  return page ? page.scope : {platforms: [], clients: []};
}

function renderRunbook() {
  const rb = RUNBOOK;
  const box = document.getElementById("runbook");
  const scope = scopeOf();
  const phases = {immediate: "Immediate actions", diagnosis: "Diagnosis", fix: "Fix / workaround"};
  const kids = [el("h3", {text: `${rb.id} ${rb.title} (${rb.severity})`}),
    el("p", {class: "quiet", text: "Symptoms: " + rb.symptoms.join("; ")})];
  for (const [phase, title] of Object.entries(phases)) {
    const steps = rb.steps.filter(s => s.phase === phase);
    if (!steps.length) continue;
    kids.push(el("h4", {text: title}));
    const ol = el("ol", {class: "steps"});
    for (const st of steps) {
      const params = Object.entries(st.params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
      const selects = [];
      if (st.needs.includes("platform"))
        selects.push(selectFor("platform", STATE.platforms, `Platform for ${st.text}`, (scope.platforms || [])[0]));
      if (st.needs.includes("client_id"))
        selects.push(selectFor("client_id", STATE.clients, `Client for ${st.text}`, (scope.clients || [])[0]));
      const button = el("button", {type: "button", class: "step", text: st.text, disabled: !ACTING,
        onclick: () => {
          const p = Object.assign({}, st.params);
          for (const s of selects) p[s.dataset.param] = s.value;
          act(`${rb.id} ${st.id}: ${st.text} — ${st.action}`, {action: st.action, params: p, runbook: rb.id, step: st.id});
        }});
      ol.append(el("li", {}, button, ...selects,
        el("span", {class: "quiet", text: ` ${st.action}(${params})` + (st.deadline_s ? ` · due ${Math.round(st.deadline_s / 60)} min after the page` : "")})));
    }
    kids.push(ol);
  }
  if (rb.verification.length) kids.push(el("p", {class: "quiet", text: "Verification: " + rb.verification.join("; ")}));
  box.replaceChildren(...kids);
}

/* --- kill switch, declarations, notes --------------------------------------------------- */
function ksParams() {
  const p = {};
  const plat = document.getElementById("ks-platform").value;
  const client = document.getElementById("ks-client").value;
  if (plat) p.platform = plat;
  if (client) p.client_id = client;
  return p;
}
document.getElementById("ks-engage").addEventListener("click", () =>
  act("Engage the kill switch", {action: "kill_switch.engage", params: ksParams()}));
document.getElementById("ks-release").addEventListener("click", () =>
  act("Release the kill switch", {action: "kill_switch.release", params: ksParams()}));
document.getElementById("declare-mitigated").addEventListener("click", () =>
  send("/api/declare", {status: "mitigated"}).then(ok, fail));
document.getElementById("declare-resolved").addEventListener("click", () =>
  send("/api/declare", {status: "resolved"}).then(ok, fail));
document.getElementById("note-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const box = document.getElementById("note");
  send("/api/notes", {text: box.value}).then(() => { box.value = ""; ok(); }, fail);
});
document.getElementById("comms-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const box = document.getElementById("comms");
  send("/api/comms", {text: box.value}).then(() => { box.value = ""; ok(); }, fail);
});

function fillSelect(id, values, all) {
  show(id, values, vs => [el("option", {value: "", text: all}), ...vs.map(v => el("option", {value: v, text: v}))]);
}

/* --- the stream ------------------------------------------------------------------------- */
document.querySelector("#platforms tbody").id = "platforms-body";
document.querySelector("#queues tbody").id = "queues-body";
document.querySelector("#feed tbody").id = "feed-body";

listen("/api/events", s => {
  STATE = s;
  renderHeader(s);
  show("pages", s.pages, pageItems);
  renderSignals(s);
  fillSelect("ks-platform", s.platforms, "all platforms");
  fillSelect("ks-client", s.clients, "all clients");
  show("hints", s.hints, hs => hs.slice().reverse().map(h => el("p", {class: "hint", text: `Hint: ${h.text}`})));
  const d = s.declared;
  document.getElementById("declared").textContent =
    [d.mitigated ? `Mitigated (declared by ${d.mitigated.by})` : "Not declared mitigated",
     d.resolved ? `resolved (declared by ${d.resolved.by})` : ""].filter(Boolean).join("; ") + ".";
  show("timeline", s.timeline, timelineItems);
  show("feed-body", s.feed, rows => rows.map(r => el("tr", {class: r.outcome === "success" ? "" : "bad"},
    el("td", {text: r.offset}), el("td", {text: r.client}), el("td", {text: r.platform}),
    el("td", {text: r.action}), el("td", {text: r.outcome}), el("td", {text: r.error || ""}))));
  if (s.outcome) {
    const o = document.getElementById("outcome");
    o.hidden = false;
    show("outcome", s.outcome, outcomeItems);
  }
});
