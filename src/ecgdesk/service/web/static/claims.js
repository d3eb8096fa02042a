// Claims: create the study's claim, export it as 837P, correct it, post a payer's file (835, 999, 277CA)
// and work denial items. Each button calls the JSON API; a refusal is shown in words next to the button.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  // the claim's own article: its buttons carry data-claim too, so closest("[data-claim]") is the button
  const claimError = (el) => el.closest("article.claim").querySelector(".claim-error");

  async function act(button, errorEl, method, url, body) {
    button.disabled = true;
    const answer = await WS.api(method, url, body);
    button.disabled = false;
    if (!answer.ok) { WS.showError(errorEl, answer.message); button.focus(); return null; }
    return answer;
  }

  const create = document.getElementById("claim-create");
  if (create) create.addEventListener("click", async () => {
    const answer = await act(create, document.getElementById("claim-create-error"), "POST", "/api/v1/claims", { study_id: D.study_id });
    if (answer) location.reload();
  });

  document.querySelectorAll(".claim-export").forEach((button) => button.addEventListener("click", async () => {
    const answer = await act(button, claimError(button), "POST", "/api/v1/claims/export", { claims: [button.dataset.claim] });
    if (answer) location.reload();
  }));

  document.querySelectorAll(".claim-correct").forEach((button) => button.addEventListener("click", async () => {
    const answer = await act(button, claimError(button), "POST", `/api/v1/claims/${encodeURIComponent(button.dataset.claim)}/correct`, {});
    if (answer) location.reload();
  }));

  document.querySelectorAll(".work-form").forEach((form) => form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = form.querySelector("button");
    const answer = await act(button, form.querySelector(".work-error"), "POST", `/api/v1/denials/${form.dataset.item}/work`,
      { action: form.elements.namedItem("action").value, note: form.elements.namedItem("note").value.trim() });
    if (answer) location.reload();
  }));

  const fileForm = document.getElementById("payer-file-form");
  if (fileForm) fileForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("payer-file-error");
    const result = document.getElementById("payer-file-result");
    WS.showError(error, "");
    result.hidden = true;
    const file = fileForm.file.files[0];
    if (!file) { WS.showError(error, "file: choose the X12 file the payer sent."); fileForm.file.focus(); return; }
    const text = await file.text();
    const url = fileForm.kind.value === "835" ? "/api/v1/remittances" : "/api/v1/claims/acks";
    const button = fileForm.querySelector("button");
    button.disabled = true;
    const answer = await WS.api("POST", url, text, { contentType: "application/edi-x12" });
    button.disabled = false;
    if (!answer.ok) { WS.showError(error, `${file.name}: ${answer.message}`); fileForm.file.focus(); return; }
    const d = answer.data || {};
    if (fileForm.kind.value === "835") {
      const parts = [`${d.posted} claim payment(s) posted`];
      if (d.duplicates && d.duplicates.length) parts.push("already posted before: nothing posted again");
      if (d.unmatched && d.unmatched.length) parts.push(`${d.unmatched.length} for claims we cannot find`);
      result.textContent = `${file.name}: ${parts.join("; ")}. Reloading…`;
    } else {
      result.textContent = `${file.name}: acknowledgement applied. Reloading…`;
    }
    result.hidden = false;
    setTimeout(() => location.reload(), 600);
  });
});
