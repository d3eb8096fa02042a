// The study page: the heart-rate trend of the whole recording (click or Enter opens the viewer there),
// technician comments, a new analysis, the recording of an ordered study, and the progress of import and
// analysis while they run.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  const canvas = document.getElementById("trend");
  const viewerAt = (t) => location.assign(`/studies/${D.study_id}/viewer?t=${Math.max(0, t).toFixed(1)}`);

  function drawTrend() {
    if (!canvas || !D.duration_s) return;
    const { ctx, width: w, height: h } = ECG.fit(canvas, 170);
    const left = 34, bottom = 20, top = 6, plotW = w - left - 6, plotH = h - bottom - top;
    const lo = 30, hi = 200;
    const yOf = (v) => top + plotH - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * plotH;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
    ctx.strokeStyle = "#e6e9ed"; ctx.fillStyle = "#5b6675"; ctx.font = "11px system-ui, sans-serif";
    for (const v of [40, 60, 80, 100, 120, 150, 180]) {
      ctx.beginPath(); ctx.moveTo(left, yOf(v) + 0.5); ctx.lineTo(left + plotW, yOf(v) + 0.5); ctx.stroke();
      ctx.fillText(String(v), 4, yOf(v) + 4);
    }
    const sx = plotW / D.duration_s;
    const types = D.episode_types || [];
    (D.episodes || []).forEach((s, i) => {
      const t = types[i];
      if (!["af", "flutter", "vt", "pause", "svt"].includes(t)) return;
      ctx.fillStyle = ["af", "flutter", "svt"].includes(t) ? "rgba(31,95,191,.35)" : "rgba(198,40,40,.7)";
      ctx.fillRect(left + s * sx, h - bottom - 4, 3, 4);
    });
    const dt = D.trend_interval_s || 60;
    ctx.strokeStyle = "#c62828"; ctx.lineWidth = 1.2; ctx.beginPath();
    let pen = false;
    (D.trend_bpm || []).forEach((v, i) => {
      if (v == null) { pen = false; return; }
      const x = left + (i + 0.5) * dt * sx;
      if (pen) ctx.lineTo(x, yOf(v)); else { ctx.moveTo(x, yOf(v)); pen = true; }
    });
    ctx.stroke();
    ctx.fillStyle = "#5b6675";
    const label = (t, s) => WS.clock(D.recording_start, t).replace(":00:00", ":00").slice(0, s >= 86400 ? 5 : 11);
    // the shortest step whose labels fit side by side: hourly labels of a day on a laptop's half-width
    // panel were written over each other
    const steps = [3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
    const step = steps.find((s) => s * sx >= ctx.measureText(label(0, s)).width + 10) || steps[steps.length - 1];
    for (let t = 0; t <= D.duration_s; t += step) {
      const text = label(t, step), x = left + t * sx + 2;
      if (x + ctx.measureText(text).width <= w) ctx.fillText(text, x, h - 5);  // none cut at the edge
    }
    canvas.dataset.drawn = "1";
    canvas._map = (clientX) => { const r = canvas.getBoundingClientRect(); return (clientX - r.left - left) / sx; };
  }
  if (canvas) {
    drawTrend();
    window.addEventListener("resize", drawTrend);
    canvas.addEventListener("click", (e) => viewerAt(canvas._map(e.clientX)));
    canvas.addEventListener("keydown", (e) => { if (e.key === "Enter") viewerAt(0); });
  }

  const form = document.getElementById("comment-form");
  if (form) form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("comment-error");
    const text = form.text.value.trim();
    if (!text) { WS.showError(error, "Write a comment first."); return; }
    // base: the comments this page showed; the server refuses (409) if someone saved others meanwhile
    const base = form.text.defaultValue.trim();
    const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/comment`, { text, base });
    if (answer.ok) form.text.defaultValue = text;
    WS.showError(error, answer.ok ? "" : answer.message);
    document.getElementById("comment-saved").textContent = answer.ok ? "Saved; printed in the next report version." : "";
  });

  // A new analysis runs in the background (minutes for a multi-day recording): the page follows its job,
  // its progress, and shows the new analysis once it is done (before, it said "started" and nothing more).
  const again = document.getElementById("reanalyze");
  if (again) again.addEventListener("click", async () => {
    const said = document.getElementById("reanalyze-status");
    again.disabled = true;
    const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/analysis`);
    if (!answer.ok) { said.textContent = answer.message; return; }
    said.textContent = "Analysis started in the background.";
    // the study's analysis job (its newest, queued again or new), to its end
    const job = await WS.followJob(D.study_id, (j) => ["analysis.study", "analysis.ecg"].includes(j.kind),
      (j) => { said.textContent = `Analysis (job ${j.id}): ${WS.jobState(j)}`; });
    if (!job || job.status === "done") { location.reload(); return; }  // the new analysis (or what there is)
    said.textContent = `Analysis (job ${job.id}) ${job.status}${job.error ? `: ${job.error}` : ""}`;
  });

  // Cancel a queued or running job: a running analysis stops at its next heartbeat and stores nothing.
  for (const button of document.querySelectorAll("button.job-cancel")) {
    button.addEventListener("click", async () => {
      const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/jobs/${button.dataset.job}/cancel`);
      button.insertAdjacentText("afterend", answer.ok ? " Cancelled." : ` ${answer.message}`);
      button.disabled = true;
      if (answer.ok) button.closest("tr").querySelector(".job-state").textContent = answer.data.status;
    });
  }

  // Progress of the upload's background import and analysis.
  const box = document.getElementById("progress-box");
  async function poll() {
    const answer = await WS.api("GET", `/api/v1/studies/${D.study_id}`);
    if (!answer.ok || !answer.data.upload) return;
    const u = answer.data.upload;
    document.getElementById("progress-state").textContent = u.state;
    document.getElementById("progress-msg").textContent = u.message;
    document.getElementById("progress-bar").value = u.progress;
    if (u.state === "done") { location.reload(); return; }
    // a failed import of this page's own upload: the page shows why, with the form again to choose others
    if (u.state === "failed" && document.getElementById("recording-form")) { location.reload(); return; }
    if (u.state !== "failed") setTimeout(poll, 1500);
  }
  if (box && !box.hidden && D.upload_state && !["done", "failed"].includes(D.upload_state)) poll();

  // The recording of a study ordered without one (an order from the worklist): the files with an upload
  // progress bar, then the background import and analysis followed as below; a refusal stays next to the form.
  const recording = document.getElementById("recording-form");
  if (recording) recording.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = document.getElementById("recording-error");
    const files = recording.elements.files.files;
    if (!files.length) { WS.showError(error, "Choose the recording's file(s) first."); recording.elements.files.focus(); return; }
    WS.showError(error, "");
    const button = document.getElementById("recording-submit");
    const bar = document.getElementById("recording-bar"), text = document.getElementById("recording-text");
    button.disabled = true; bar.hidden = false; bar.value = 0; text.textContent = "Uploading…";
    const sent = await WS.upload(D.study_id, files, (loaded, total) => {
      bar.value = loaded / total;
      text.textContent = `${Math.round((100 * loaded) / total)} % of ${(total / 1048576).toFixed(1)} MB`;
    });
    button.disabled = false;
    if (!sent.ok) {
      bar.hidden = true; text.textContent = "";
      WS.showError(error, `Not uploaded: ${sent.message}`);
      recording.elements.files.focus();
      return;
    }
    bar.value = 1; text.textContent = "Uploaded; import and analysis run in the background.";
    recording.querySelectorAll("input, button").forEach((el) => { el.disabled = true; });
    box.hidden = false;
    poll();
  });
});

// The resting 12-lead layout: 3 rows x 4 columns of 2.5 s (I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6)
// and a 10 s lead II rhythm strip, at 25 mm/s and 10 mm/mV on the paper grid.
document.addEventListener("DOMContentLoaded", async () => {
  const D = WS.data();
  const canvas = document.getElementById("ecg12");
  if (!canvas || D.kind !== "resting_ecg") return;
  const MM = ECG.PX_PER_MM, pps = 25 * MM, ppmv = 10 * MM;
  const layout = [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]];
  const leads = new Map((D.leads || []).map((l) => [l.toLowerCase(), l]));
  const rowH = 25 * MM;
  const height = Math.round(rowH * 4 + 8);
  const { ctx, width } = ECG.fit(canvas, height);
  const colW = Math.min(width / 4, 2.5 * pps);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, width, height);
  ECG.grid(ctx, 0, 0, colW * 4, rowH * 4, MM);
  const seg = colW / pps;
  const get = async (lead, start, end, w) => {
    const q = new URLSearchParams({ lead, start_s: String(start), end_s: String(end), width_px: String(Math.round(w)) });
    return WS.api("GET", `/api/v1/studies/${D.study_id}/signal?${q}`);
  };
  const jobs = [], failed = [];
  let drawn = 0;
  layout.forEach((row, r) => row.forEach((name, c) => {
    const lead = leads.get(name.toLowerCase());
    if (!lead) { failed.push(`${name}: not in the recording`); return; }
    jobs.push(get(lead, c * seg, (c + 1) * seg, colW).then((a) => {
      if (!a.ok) { failed.push(`${name}: ${a.message}`); return; }
      drawn += 1;
      ECG.trace(ctx, a.data, c * colW - c * seg * pps, rowH * r + rowH * 0.55, pps, ppmv, 0, rowH * r, rowH, colW * 4);
      ctx.fillStyle = "#222"; ctx.font = "600 12px system-ui, sans-serif"; ctx.fillText(name, c * colW + 4, rowH * r + 13);
    }));
  }));
  const rhythm = leads.get("ii") || D.leads[0];
  jobs.push(get(rhythm, 0, 4 * seg, colW * 4).then((a) => {
    if (!a.ok) { failed.push(`${rhythm} (rhythm): ${a.message}`); return; }
    drawn += 1;
    ECG.trace(ctx, a.data, 0, rowH * 3 + rowH * 0.55, pps, ppmv, 0, rowH * 3, rowH, colW * 4);
    ctx.fillStyle = "#222"; ctx.fillText(`${rhythm} (rhythm)`, 4, rowH * 3 + 13);
  }));
  await Promise.all(jobs);
  WS.showError(document.getElementById("ecg12-error"), failed.length ? `Not drawn: ${failed.join("; ")}.` : "");
  canvas.dataset.leadsDrawn = String(drawn);
  canvas.dataset.drawn = "1";
});
