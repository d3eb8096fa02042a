// Report and signature: regenerate, write and review the interpretation, sign in a dialog that asks for
// the password again and states the meaning; addenda. Refusals are shown in words where they happen.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  const base = `/api/v1/studies/${D.study_id}`;
  const busy = (el, on) => { if (el) el.disabled = on; };

  const regen = document.getElementById("regenerate");
  if (regen) regen.addEventListener("click", async () => {
    busy(regen, true);
    document.getElementById("report-status").textContent = "Rendering the report…";
    const answer = await WS.api("POST", `${base}/report`);
    busy(regen, false);
    WS.showError(document.getElementById("report-error"), answer.ok ? "" : answer.message);
    if (answer.ok) location.reload();
    else document.getElementById("report-status").textContent = "";
  });

  const interp = document.getElementById("interp-form");
  if (interp) interp.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("interp-error");
    const text = interp.text.value.trim();
    if (!text) { WS.showError(error, "Write the interpretation first."); interp.text.focus(); return; }
    const button = interp.querySelector("button");
    busy(button, true);
    // the interpretation this page showed: refused (409) if someone saved another meanwhile
    const shown = interp.text.defaultValue.trim();
    const answer = await WS.api("POST", `${base}/interpretation`, { text, base: shown });
    busy(button, false);
    if (!answer.ok) { WS.showError(error, answer.message); return; }
    location.reload();
  });

  const dialog = document.getElementById("sign-dialog");
  const open = document.getElementById("sign-open");
  if (dialog && open) {
    const form = document.getElementById("sign-form");
    const error = document.getElementById("sign-error");
    open.addEventListener("click", () => {
      // Words typed since 'Save and review' are in no version: the signature would cover the reviewed
      // version without them, and the reload after it would throw them away.
      if (interp && interp.text.value.trim() !== interp.text.defaultValue.trim()) {
        WS.showError(document.getElementById("interp-error"),
          "Your interpretation has changes not saved: 'Save and review' them first (a signature covers the reviewed version only), or undo them.");
        interp.text.focus();
        return;
      }
      WS.showError(document.getElementById("interp-error"), "");
      WS.showError(error, "");
      form.password.value = "";
      dialog.showModal();
      form.password.focus();
    });
    document.getElementById("sign-cancel").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!form.password.value) { WS.showError(error, "Enter your password to sign."); return; }
      const submit = document.getElementById("sign-submit");
      busy(submit, true);
      const answer = await WS.api("POST", `${base}/sign`, { password: form.password.value });
      busy(submit, false);
      if (!answer.ok) {
        const reason = (answer.detail[0] || {}).msg || answer.message;
        WS.showError(error, answer.status === 403 ? `Not signed: ${reason}` :
          answer.status === 409 ? `Not signed: ${reason}` : reason);
        form.password.value = "";
        form.password.setAttribute("aria-invalid", "true");
        form.password.focus();
        return;
      }
      dialog.close();
      location.reload();
    });
  }

  const add = document.getElementById("addendum-form");
  if (add) add.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("addendum-error");
    const text = add.text.value.trim(), password = add.password.value;
    if (!text || !password) { WS.showError(error, "Write the addendum and enter your password to sign it."); return; }
    const answer = await WS.api("POST", `${base}/addendum`, { text, password });
    if (!answer.ok) {  // the text stays; the emptied password field takes the focus, as in the sign dialog
      WS.showError(error, answer.message);
      add.password.value = "";
      add.password.setAttribute("aria-invalid", "true");
      add.password.focus();
      return;
    }
    location.reload();
  });
});
