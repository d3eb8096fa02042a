// Batch signing: tick reviewed studies, enter the password once in a dialog that lists them with the
// meaning; POST /api/v1/signing/batch signs each as its own page would, and the page then says, row by
// row, which were signed and why the others were not (they stay unsigned and ticked off).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  const boxes = () => [...document.querySelectorAll("input[name=study]")];
  const picked = () => boxes().filter((b) => b.checked);
  const open = document.getElementById("batch-open");
  const all = document.getElementById("pick-all");
  const dialog = document.getElementById("batch-dialog");
  const form = document.getElementById("batch-sign-form");
  const error = document.getElementById("batch-error");
  const result = document.getElementById("batch-result");

  function count() {
    const n = picked().length;
    open.disabled = n === 0 || n > D.max;
    document.getElementById("picked").textContent = n > D.max ? `${n} chosen: sign at most ${D.max} at once`
      : (n ? `${n} chosen` : "");
  }
  document.getElementById("batch-form").addEventListener("change", (e) => {
    if (e.target === all) boxes().forEach((b) => { b.checked = all.checked; });
    count();
  });

  open.addEventListener("click", () => {
    const list = document.getElementById("batch-list");
    list.replaceChildren();
    for (const b of picked()) {
      const row = b.closest("tr");
      const li = document.createElement("li");
      li.textContent = `Study ${row.dataset.study}, ${row.dataset.patient}`;
      list.append(li);
    }
    const n = picked().length;
    document.getElementById("batch-count").textContent = `${n} ${n === 1 ? "report" : "reports"}`;
    WS.showError(error, "");
    form.password.value = "";
    dialog.showModal();
    form.password.focus();
  });
  document.getElementById("batch-cancel").addEventListener("click", () => dialog.close());

  function mark(id, text, cls) {
    const row = document.querySelector(`tr[data-study="${id}"]`);
    if (!row) return;
    const state = row.querySelector(".state");
    state.textContent = text;
    state.className = `state ${cls}`;
    const box = row.querySelector("input[name=study]");
    if (box) box.remove();  // signed: nothing left to do; refused: to be mended on its own page first
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!form.password.value) { WS.showError(error, "Enter your password to sign."); return; }
    const submit = document.getElementById("batch-submit");
    submit.disabled = true;
    submit.textContent = "Signing…";
    const ids = picked().map((b) => Number(b.value));
    const answer = await WS.api("POST", "/api/v1/signing/batch", { study_ids: ids, password: form.password.value });
    submit.disabled = false;
    submit.textContent = "Sign";
    if (!answer.ok) {  // a wrong password: nothing was signed
      const reason = (answer.detail[0] || {}).msg || answer.message;
      WS.showError(error, answer.status === 403 ? `Nothing signed: ${reason}` : reason);
      form.password.value = "";
      form.password.setAttribute("aria-invalid", "true");
      form.password.focus();
      return;
    }
    dialog.close();
    const done = answer.data;
    for (const s of done.signed) {
      mark(s.study_id, `Signed: ${done.meaning} ${s.printed_name}, ${s.signed_at.slice(0, 19).replace("T", " ")} UTC`, "signed");
    }
    for (const r of done.refused) mark(r.study_id, `Not signed: ${r.reason}`, "why");
    result.textContent = `${done.signed.length} signed` +
      (done.refused.length ? `, ${done.refused.length} not signed (the reason is on each row).` : ".");
    result.hidden = false;
    all.checked = false;
    all.disabled = boxes().length === 0;  // every row answered: nothing is left to select
    count();
    // the button that opened the dialog is disabled now (nothing picked): keyboard focus goes to the outcome
    result.focus();
  });
  count();
});
