// Billing: select codes and scrub (POST .../coding), mark billed with the claim reference.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  const error = document.getElementById("billing-error");
  const code = document.getElementById("code-now");
  if (code) code.addEventListener("click", async () => {
    code.disabled = true;
    const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/coding`);
    code.disabled = false;
    if (!answer.ok) { WS.showError(error, answer.message); return; }
    location.reload();
  });
  // the mark's refusals are shown under its own form: the codes panel's message box is a screen away
  const markError = document.getElementById("distinct-error");
  const mark = document.getElementById("distinct-form");
  if (mark) mark.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { modifier: mark.modifier.value, reason: mark.reason.value.trim() };
    if (!body.modifier) { WS.showError(markError, "modifier: choose the modifier that says how the service was distinct."); mark.modifier.focus(); return; }
    if (!body.reason) { WS.showError(markError, "reason: give the documented reason the service was distinct."); mark.reason.focus(); return; }
    const answer = await WS.api("PUT", `/api/v1/studies/${D.study_id}/distinct`, body);
    if (!answer.ok) { WS.showError(markError, answer.message); return; }
    location.reload();
  });
  const unmark = document.getElementById("distinct-remove");
  if (unmark) unmark.addEventListener("click", async () => {
    const answer = await WS.api("DELETE", `/api/v1/studies/${D.study_id}/distinct`);
    if (!answer.ok) { WS.showError(markError, answer.message); return; }
    location.reload();
  });
  const form = document.getElementById("bill-form");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const reference = form.reference.value.trim();
    if (!reference) { WS.showError(error, "reference: give the claim or batch id the claim went out under."); form.reference.focus(); return; }
    const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/bill`, { reference });
    if (!answer.ok) { WS.showError(error, answer.message); return; }
    location.reload();
  });
});
