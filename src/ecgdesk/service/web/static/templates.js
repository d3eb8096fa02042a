// Templates: a grid of the morphology templates with their counts, each showing its median beat over
// superimposed beats from across the recording; select several (click, Space) and relabel them at once.
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const D = WS.data();
  const grid = document.getElementById("tpl-grid");
  const status = document.getElementById("tpl-status");
  const chosen = new Set();
  let shownRun = null;  // the analysis run the cards show: an edit names it, refused (409) if another is current
  const NAMES = { N: "normal", S: "supraventricular", V: "ventricular", F: "fusion", Q: "unclassified" };

  function counts(c) {
    const el = document.getElementById("beat-counts");
    el.textContent = `Beats in the study: ${["N", "S", "V", "F", "Q"].map((k) => `${k} ${WS.fmt((c || {})[k] || 0)}`).join(" · ")}`;
  }

  function drawTemplate(canvas, t, fs, beforeS) {
    const { ctx, width: w, height: h } = ECG.fit(canvas, 150);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
    const MM = ECG.PX_PER_MM;
    ECG.grid(ctx, 0, 0, w, h, MM);
    const n = (t.beats_uv[0] || []).length || (t.median_start || 0) + t.median_uv.length;
    if (!n) return;
    const pps = Math.min(w / (n / fs), 50 * MM);  // 50 mm/s at most: a beat fills the cell
    const x0 = (w - (n / fs) * pps) / 2, mid = h * 0.58, k = (10 * MM) / 1000;
    const line = (v, color, lw, from = 0) => {
      ctx.strokeStyle = color; ctx.lineWidth = lw; ctx.beginPath();
      v.forEach((u, i) => { const x = x0 + ((i + from) / fs) * pps, y = mid - u * k; if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
      ctx.stroke();
    };
    t.beats_uv.forEach((b) => line(b, "rgba(40,60,90,.28)", 1));
    if (t.median_uv.length) line(t.median_uv, ECG.COLORS[t.label] || "#111", 2, t.median_start || 0);
    ctx.strokeStyle = "rgba(240,165,0,.8)"; ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(x0 + beforeS * pps, 0); ctx.lineTo(x0 + beforeS * pps, h); ctx.stroke();
    ctx.setLineDash([]);
  }

  function selection() {
    const el = document.getElementById("tpl-selected");
    if (el) el.textContent = chosen.size ? `${chosen.size} template${chosen.size > 1 ? "s" : ""} selected.` : "No template selected.";
    const apply = document.getElementById("tpl-apply");
    if (apply) apply.disabled = !chosen.size;
  }

  async function load() {
    const answer = await WS.api("GET", `/api/v1/studies/${D.study_id}/templates?per_template=16`);
    if (!answer.ok) { status.textContent = answer.message; return; }
    const data = answer.data;
    shownRun = data.run_id;
    grid.replaceChildren();
    chosen.clear();
    const total = data.templates.reduce((n, t) => n + t.n_beats, 0);
    document.getElementById("tpl-count").textContent = `${data.templates.length} templates · lead ${data.lead}`;
    for (const t of data.templates) {
      const card = document.createElement("div");
      card.className = "tpl"; card.setAttribute("role", D.editable ? "checkbox" : "listitem");
      card.tabIndex = 0; card.dataset.template = String(t.template_id); card.dataset.label = t.label;
      if (D.editable) card.setAttribute("aria-checked", "false");
      card.setAttribute("aria-label", `Template ${t.template_id}, ${NAMES[t.label] || t.label}, ${t.n_beats} beats`);
      const head = document.createElement("div"); head.className = "tpl-head";
      const label = document.createElement("span"); label.className = `tpl-label cls-${t.label}`;
      label.textContent = `T${t.template_id} · ${t.label}`;
      const n = document.createElement("span");
      n.textContent = `${WS.fmt(t.n_beats)} beat${t.n_beats === 1 ? "" : "s"} (${total ? ((100 * t.n_beats) / total).toFixed(1) : 0} %)`;
      head.append(label, n);
      // The template's letter is its shape's class; each beat keeps its own label (an early beat of normal
      // shape stays S), so say how the template's beats are labelled when they are not all alike.
      const by = document.createElement("div"); by.className = "tpl-by"; by.dataset.testid = "tpl-by-label";
      const parts = Object.entries(t.beats_by_label || {});
      by.textContent = `its beats labelled ${parts.map(([k, v]) => `${k} ${WS.fmt(v)}`).join(" · ")}`;
      by.dataset.mixed = String(parts.some(([k]) => k !== t.label));
      const canvas = document.createElement("canvas");
      card.append(head, by, canvas);
      grid.append(card);
      drawTemplate(canvas, t, data.fs, data.before_s);
      if (D.editable) {
        const toggle = () => {
          const on = !chosen.has(t.template_id);
          if (on) chosen.add(t.template_id); else chosen.delete(t.template_id);
          card.setAttribute("aria-checked", String(on));
          selection();
        };
        card.addEventListener("click", toggle);
        card.addEventListener("keydown", (e) => { if (e.key === " " || e.key === "Enter") { e.preventDefault(); toggle(); } });
      }
    }
    const outside = Object.entries(data.outside_templates || {});
    document.getElementById("tpl-outside").textContent = outside.length
      ? `Beats in no template (too rare or too noisy to group): ${outside.map(([k, v]) => `${k} ${WS.fmt(v)}`).join(" · ")}.`
      : "";
    status.textContent = "";
    selection();
  }

  const form = document.getElementById("tpl-form");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("tpl-error");
    if (!chosen.size) { WS.showError(error, "Select at least one template (click it, or Space)."); return; }
    const label = form.label.value;
    status.textContent = `Relabelling ${chosen.size} template(s) as ${label} and recomputing the summary…`;
    const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/template-edits`, { templates: [...chosen], label, base_run: shownRun });
    if (!answer.ok) { WS.showError(error, answer.message); status.textContent = ""; return; }
    WS.showError(error, "");
    const study = await WS.api("GET", `/api/v1/studies/${D.study_id}`);
    if (study.ok && study.data.analysis) counts(study.data.analysis.beats_by_class);
    await load();
    // a study already with the physician has its report rendered again with the edit, by a background
    // job (answer.data.report_job) whose progress and end the outcome follows
    const done = `Relabelled as ${label}; the summary was recomputed (analysis run ${answer.data.run_id})`;
    const next = answer.data.note ? `; ${answer.data.note}.` : ". Create or regenerate the report to print it.";
    status.textContent = done + next;
    status.focus();  // the cards were drawn again and Relabel is disabled (none selected): keep the keyboard here
    if (answer.data.report_job) await WS.followReport(D.study_id, answer.data.report_job, (said) => { status.textContent = `${done}; ${said}.`; });
  });
  counts(D.beats_by_class);
  load();
});
