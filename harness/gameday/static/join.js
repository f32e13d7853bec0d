"use strict";
document.getElementById("join").addEventListener("submit", async ev => {
  ev.preventDefault();
  const name = document.getElementById("name").value;
  const role = (document.querySelector("input[name=role]:checked") || {}).value;
  const err = document.getElementById("join-error");
  err.textContent = "";
  try {
    const r = await fetch("/api/join", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({name, role}), credentials: "same-origin"});
    const data = await r.json();
    if (!r.ok) throw new Error(data.error);
    location.href = data.console;
  } catch (e) { err.textContent = e.message; }
});
