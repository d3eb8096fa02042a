// Administration: accounts (add, enable/disable, reset the password, change the role), the application
// settings and the audit chain check. Errors are shown next to the field or control that caused them.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const usersError = document.getElementById("users-error");
  const table = document.getElementById("users-table");
  if (table) {
    table.addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-act]");
      if (!b) return;
      const name = b.dataset.username;
      if (b.dataset.act === "password") { openPassword(name); return; }
      const answer = await WS.api("POST", `/api/v1/users/${encodeURIComponent(name)}/${b.dataset.act}`);
      WS.showError(usersError, answer.ok ? "" : `${name}: ${answer.message}`);
      if (answer.ok) location.reload();
    });
    table.addEventListener("change", async (e) => {
      const s = e.target.closest("select.role-select");
      if (!s) return;
      const answer = await WS.api("PUT", `/api/v1/users/${encodeURIComponent(s.dataset.username)}/role`, { role: s.value });
      WS.showError(usersError, answer.ok ? "" : `${s.dataset.username}: ${answer.message}`);
      if (answer.ok) location.reload();
    });
  }
  const form = document.getElementById("user-form");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => form.elements[n].value.trim();
    const body = { username: v("username"), role: v("role"), password: form.elements.password.value };
    for (const n of ["display_name", "npi", "credentials"]) if (v(n)) body[n] = v(n);
    const answer = await WS.api("POST", "/api/v1/users", body);
    if (!answer.ok) { WS.showError(document.getElementById("user-error"), WS.fieldErrors(form, answer.detail).join("; ")); return; }
    location.reload();
  });
  const dialog = document.getElementById("pw-dialog");
  let who = "";
  function openPassword(name) {
    who = name;
    document.getElementById("pw-user").textContent = name;
    WS.showError(document.getElementById("pw-error"), "");
    dialog.showModal();
    document.getElementById("pw-new").focus();
  }
  if (dialog) {
    document.getElementById("pw-cancel").addEventListener("click", () => dialog.close());
    document.getElementById("pw-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const password = document.getElementById("pw-new").value;
      const answer = await WS.api("PUT", `/api/v1/users/${encodeURIComponent(who)}/password`, { password });
      if (!answer.ok) { WS.showError(document.getElementById("pw-error"), answer.message); return; }
      dialog.close();
      WS.showError(usersError, "");
      document.getElementById("pw-new").value = "";
      // nothing else on the page changes: say that it was done (the PUT ends the user's sessions)
      document.getElementById("users-status").textContent =
        `Password of ${who} set; their open sessions ended (they log in with the new one, then choose their own).`;
    });
  }
  const saveSetting = async (f, value) => {
    const name = f.dataset.name;
    const answer = await WS.api("PUT", `/api/v1/settings/${encodeURIComponent(name)}`, { value });
    WS.showError(document.getElementById(`error-${name}`), answer.ok ? "" : answer.message);
    if (answer.ok) location.reload();
  };
  for (const f of document.querySelectorAll("form.setting-form")) {
    f.addEventListener("submit", (e) => { e.preventDefault(); saveSetting(f, f.elements.value.value.trim()); });
    const reset = f.querySelector("button.setting-default");
    if (reset) reset.addEventListener("click", () => saveSetting(f, "default"));
  }
  const verify = document.getElementById("verify");
  if (verify) verify.addEventListener("click", async () => {
    const out = document.getElementById("verify-result");
    out.textContent = "Checking…";
    const answer = await WS.api("GET", "/api/v1/audit/verify");
    if (!answer.ok) { out.textContent = answer.message; return; }
    const r = answer.data;
    out.textContent = r.ok ? `Intact: ${WS.fmt(r.rows)} rows, head ${r.head_hash.slice(0, 12)}…`
      : `BROKEN at row ${r.problem_seq}: ${r.problem}`;
    out.className = r.ok ? "saved" : "field-error";
  });
});
