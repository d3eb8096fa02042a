// The login form: POST /api/v1/session (a new session; the cookie is HttpOnly), then the page asked for.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const kept = WS.keptDrafts();
  if (kept && kept.fields && Object.keys(kept.fields).length) document.getElementById("drafts-kept").hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = form.username.value.trim();
    const password = form.password.value;
    if (!username || !password) {
      WS.showError(error, "Enter your user name and your password.");
      (username ? form.password : form.username).focus();
      return;
    }
    const answer = await WS.api("POST", "/api/v1/session", { username, password });
    if (!answer.ok) {
      WS.showError(error, answer.status === 401 || answer.status === 403
        ? (answer.detail[0] || {}).msg || "The user name or password is not accepted."
        : answer.message);
      form.password.value = "";
      form.password.focus();
      return;
    }
    const next = form.next.value;
    if (answer.data.must_change_password) { location.assign("/account/password"); return; }
    location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next
      : (answer.data.role === "admin" ? "/admin/users" : "/worklist"));
  });
});
