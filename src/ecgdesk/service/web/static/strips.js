// Report strips: include or leave out each strip the report proposes and each strip added in the viewer.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  const rows = document.getElementById("strip-rows");
  const error = document.getElementById("strips-error");
  const KIND = { event: "finding", patient: "patient event", manual: "added" };

  function render(sel) {
    document.getElementById("strips-mode").textContent = sel.customised
      ? "The report prints exactly the ticked strips." : "Nothing chosen yet: the report prints the proposed strips.";
    rows.replaceChildren();
    for (const s of sel.items) {
      const tr = document.createElement("tr");
      const box = document.createElement("input");
      box.type = "checkbox"; box.checked = s.included; box.disabled = !(sel.editable && D.can_select);
      box.setAttribute("aria-label", `Print the strip “${s.title}”`);
      box.addEventListener("change", () => change({ key: s.key, included: box.checked }, "PUT"));
      const td = (text) => { const c = document.createElement("td"); c.textContent = text; return c; };
      const first = document.createElement("td"); first.append(box);
      const at = document.createElement("td");
      const link = document.createElement("a");
      link.href = `/studies/${D.study_id}/viewer?t=${s.start_s.toFixed(1)}`;
      link.textContent = WS.clock(D.recording_start, s.start_s);
      at.append(link);
      const last = document.createElement("td");
      if (s.kind === "manual" && sel.editable && D.can_select) {
        const rm = document.createElement("button");
        rm.type = "button"; rm.className = "btn small"; rm.textContent = "Remove";
        rm.addEventListener("click", () => change({ key: s.key }, "POST", "/remove"));
        last.append(rm);
      }
      tr.append(first, td(s.title), td(KIND[s.kind]), td(s.rhythm), td(s.detail), at, last);
      rows.append(tr);
    }
    if (!sel.items.length) {
      const tr = document.createElement("tr"); const c = document.createElement("td");
      c.colSpan = 7; c.className = "empty"; c.textContent = "No strips."; tr.append(c); rows.append(tr);
    }
  }

  async function change(body, method, suffix = "") {
    const answer = await WS.api(method, `/api/v1/studies/${D.study_id}/strips${suffix}`, body);
    WS.showError(error, answer.ok ? "" : answer.message);
    if (answer.ok) render(answer.data); else load();
  }
  async function load() {
    const answer = await WS.api("GET", `/api/v1/studies/${D.study_id}/strips`);
    if (!answer.ok) { WS.showError(error, answer.message); return; }
    render(answer.data);
  }
  load();
});
