// The user's own password change: PUT /api/v1/session/password. The answer renews the session (a new
// cookie and CSRF token), so the page's CSRF token is replaced before any further change.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("password-form");
  const error = document.getElementById("password-error");
  const done = document.getElementById("password-done");
  const fieldError = (name) => form.querySelector(`.field-error[data-for="${name}"]`);
  const clear = () => {
    form.querySelectorAll(".field-error").forEach((el) => WS.showError(el, ""));
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    done.hidden = true;
  };
  // the message beside a field, and the field marked invalid: a screen reader says both when it takes the
  // focus (each field's aria-describedby names its message)
  const wrong = (name, message) => {
    WS.showError(fieldError(name), message);
    form[name].setAttribute("aria-invalid", "true");
    form[name].focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear();
    const current = form.current_password.value;
    const fresh = form.new_password.value;
    if (!current) { wrong("current_password", "Enter your current password."); return; }
    if (fresh.length < 8) { wrong("new_password", "At least 8 characters."); return; }
    if (fresh !== form.repeat_password.value) { wrong("repeat_password", "The two new passwords differ."); return; }
    const answer = await WS.api("PUT", "/api/v1/session/password", { current_password: current, new_password: fresh });
    form.current_password.value = "";
    if (!answer.ok) {
      const item = answer.detail[0] || {};
      const field = (item.loc || []).filter((p) => p !== "body")[0];
      const name = answer.status === 403 ? "current_password" : (field && fieldError(field) ? field : "");
      if (name) wrong(name, item.msg || answer.message);
      else { WS.showError(error, item.msg || answer.message); form.new_password.focus(); }
      return;
    }
    document.querySelector('meta[name="csrf-token"]').setAttribute("content", answer.data.csrf_token || "");
    form.new_password.value = "";
    form.repeat_password.value = "";
    const others = answer.data.sessions_ended.length - 1;
    const tokens = answer.data.tokens_revoked.length;
    done.textContent = `Your password is changed. Ended: ${others} other session(s); revoked: ${tokens} API token(s).`;
    done.hidden = false;
    const required = document.getElementById("password-required");
    if (required) required.hidden = true;  // the rest of the workstation is open again
  });
});
