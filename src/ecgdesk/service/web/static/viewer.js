// The full-disclosure viewer: an overview of the whole recording, a strip at 25 mm/s and 10 mm/mV on the
// paper grid (one or several leads), paging and zoom through the signal pyramid, beat labels, calipers,
// click-to-relabel (technicians) and "add this strip to the report". Each window is one GET of
// /api/v1/studies/{id}/signal per lead, width_px = the strip's width in CSS pixels, so never more than two
// values per pixel. Timings go to window.__wsPerf for bench/bench_workstation.py.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const D = WS.data();
  const MM = ECG.PX_PER_MM;
  const BASE_PX_PER_S = 25 * MM;                 // 25 mm/s
  const PX_PER_MV = 10 * MM;                     // 10 mm/mV
  const ZOOMS = [1, 2, 6, 30, 120, 720, 4320];   // seconds per page, as multiples of the 25 mm/s page
  const LABEL_BAND = 18, AXIS_BAND = 18, EPISODE_BAND = 14;
  const params = new URLSearchParams(location.search);
  const prefetch = params.get("prefetch") !== "0";
  const perf = (window.__wsPerf = { firstStrip: null, turns: [], bytes: [], values: [], widths: [] });

  const strip = document.getElementById("strip");
  const overview = document.getElementById("overview");
  const status = document.getElementById("viewer-status");
  const caliperOut = document.getElementById("caliper");
  const popup = document.getElementById("relabel");
  const cache = new Map();
  const st = {
    start: Math.max(0, Number(params.get("t")) || D.start_s || 0),
    zoom: 0,
    leads: [],
    windows: [],
    caliper: null,
    beat: -1,
    counts: D.beats_by_class || {},
  };

  const duration = D.duration_s || 0;
  const GUTTER = Math.round(9 * MM);            // lead name and the 1 mV calibration pulse, left of the signal
  const width = () => Math.max(200, Math.floor(strip.clientWidth) - GUTTER);
  const basePage = () => width() / BASE_PX_PER_S;
  const pageSeconds = () => (st.zoom >= ZOOMS.length ? duration : Math.min(duration, basePage() * ZOOMS[st.zoom]));
  const pxPerSec = () => width() / pageSeconds();
  // Channels share the room the window leaves (20 to 45 mm each), so the strip fills a 1366x768 screen.
  function channelMm() {
    const room = window.innerHeight - strip.getBoundingClientRect().top - window.scrollY * 0 - 96;
    const each = (room - LABEL_BAND - EPISODE_BAND - AXIS_BAND) / MM / Math.max(1, st.leads.length);
    return Math.max(20, Math.min(45, Math.floor(each / 5) * 5));
  }

  function selectedLeads() {
    const boxes = [...document.querySelectorAll('input[name="lead"]')];
    const on = boxes.filter((b) => b.checked).map((b) => b.value);
    return on.length ? on : [D.lead || D.leads[0]];
  }

  function clampStart(s) { return Math.max(0, Math.min(s, Math.max(0, duration - pageSeconds()))); }

  function url(lead, start, end, w) {
    const q = new URLSearchParams({ lead, start_s: start.toFixed(3), end_s: end.toFixed(3), width_px: String(w) });
    return `/api/v1/studies/${D.study_id}/signal?${q}`;
  }

  async function windowOf(lead, start, end, w) {
    const key = url(lead, start, end, w);
    if (!cache.has(key)) {
      cache.set(key, WS.api("GET", key).then((a) => {
        if (!a.ok) cache.delete(key);
        return a;
      }));
      if (cache.size > 64) cache.delete(cache.keys().next().value);
    }
    return cache.get(key);
  }

  function zoomLabel() {
    const s = pageSeconds();
    const span = s >= 3600 ? `${(s / 3600).toFixed(s >= 36000 ? 0 : 1)} h` : s >= 90 ? `${(s / 60).toFixed(0)} min` : `${s.toFixed(1)} s`;
    if (st.zoom === 0) return `25 mm/s · 10 mm/mV · ${span}`;
    if (st.zoom >= ZOOMS.length) return `whole recording · ${span}`;
    return `${(25 / ZOOMS[st.zoom]).toPrecision(2)} mm/s · ${span} a page`;
  }

  // ------------------------------------------------------------------ drawing
  async function draw(reason) {
    const t0 = performance.now();
    st.leads = selectedLeads();
    const w = width();
    const start = st.start, end = start + pageSeconds();
    let answers;
    try {
      answers = await Promise.all(st.leads.map((lead) => windowOf(lead, start, end, w)));
    } catch (err) { status.textContent = "The signal could not be read."; return; }
    if (start !== st.start) return; // a newer page was asked for meanwhile
    const failed = answers.find((a) => !a.ok);
    if (failed) { status.textContent = failed.message; return; }
    st.windows = answers.map((a) => a.data);
    paint();
    const t1 = performance.now();
    if (perf.firstStrip === null) perf.firstStrip = t1;
    if (reason === "turn") {
      perf.turns.push(t1 - t0);
      perf.bytes.push(answers.reduce((n, a) => n + (a.bytes || 0), 0));
    }
    perf.values.push(st.windows.reduce((n, x) => n + (x.mode === "raw" ? x.stop_sample - x.first_sample : 2 * x.n_pixels), 0));
    perf.widths.push(w * st.windows.length);
    strip.dataset.start = start.toFixed(2);
    strip.dataset.zoom = String(st.zoom);
    strip.dataset.drawn = String((Number(strip.dataset.drawn) || 0) + 1);
    document.getElementById("where").textContent =
      `${WS.clock(D.recording_start, start)} – ${WS.clock(D.recording_start, Math.min(end, duration)).slice(-8)}`;
    document.getElementById("zoom-label").textContent = zoomLabel();
    drawOverview();
    if (prefetch) {
      const p = pageSeconds();
      for (const s of [start + p, start - p]) {
        if (s >= 0 && s < duration) st.leads.forEach((lead) => windowOf(lead, s, s + p, w));
      }
    }
  }

  function paint() {
    const w = width();
    const ch = channelMm() * MM;
    const height = LABEL_BAND + ch * st.leads.length + EPISODE_BAND + AXIS_BAND;
    const { ctx } = ECG.fit(strip, Math.round(height));
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w + GUTTER, height);
    const top = LABEL_BAND;
    ECG.grid(ctx, 0, top, w + GUTTER, ch * st.leads.length, MM, st.zoom === 0);
    st.windows.forEach((win, i) => {
      ctx.fillStyle = "#333";
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.fillText(win.lead, 3, top + ch * i + 14);
      calibration(ctx, top + ch * i + ch * 0.55);
    });
    ctx.translate(GUTTER, 0);
    const pps = pxPerSec();
    st.windows.forEach((win, i) => {
      const mid = top + ch * i + ch * 0.55;
      ECG.trace(ctx, win, 0, mid, pps, PX_PER_MV, st.start, top + ch * i, ch, w);
    });
    beatLabels(ctx, w);
    episodeBars(ctx, w, top + ch * st.leads.length);
    timeAxis(ctx, w, height - AXIS_BAND);
    drawCaliper(ctx, top, ch * st.leads.length);
    counts();
  }

  function calibration(ctx, mid) {
    // The 1 mV, 200 ms calibration pulse at the right edge, as on paper.
    const x = 2 * MM, h = 10 * MM;
    ctx.strokeStyle = "#444"; ctx.lineWidth = 1.2;
    ctx.beginPath();
    ctx.moveTo(0, mid); ctx.lineTo(x, mid); ctx.lineTo(x, mid - h); ctx.lineTo(x + 5 * MM, mid - h);
    ctx.lineTo(x + 5 * MM, mid); ctx.lineTo(GUTTER, mid);
    ctx.stroke();
  }

  function beats() {
    const win = st.windows[0];
    if (!win || win.beats.mode !== "all") return [];
    const pps = pxPerSec();
    return win.beats.offsets.map((off, i) => ({
      index: win.beats.first_index + i,
      label: win.beats.labels[i],
      x: ((win.first_sample + off) / win.fs - st.start) * pps,
      t: (win.first_sample + off) / win.fs,
    }));
  }

  function beatLabels(ctx, w) {
    const win = st.windows[0];
    if (!win) return;
    ctx.font = "700 12px system-ui, sans-serif";
    ctx.textAlign = "center";
    if (win.beats.mode === "all") {
      const list = beats();
      const dense = list.length > w / 9;
      list.forEach((b, i) => {
        if (b.x < 0 || b.x > w) return;
        ctx.fillStyle = ECG.COLORS[b.label] || "#333";
        if (dense) { if (b.label !== "N") ctx.fillRect(b.x - 1, 3, 2, LABEL_BAND - 6); }
        else ctx.fillText(b.label, b.x, 13);
        if (i === st.beat) { ctx.strokeStyle = "#f0a500"; ctx.lineWidth = 2; ctx.strokeRect(b.x - 7, 1, 14, LABEL_BAND - 2); }
      });
    } else if (win.beats.mode === "summary") {
      const px = win.beats.pixel_classes;
      for (let i = 0; i < px.length; i++) {
        const c = px[i];
        if (c === "." || c === "N") continue;
        ctx.fillStyle = ECG.COLORS[c] || "#333";
        ctx.fillRect(i, 3, 1, LABEL_BAND - 6);
      }
    }
    ctx.textAlign = "left";
  }

  const EP_COLORS = { af: "#1f5fbf", flutter: "#1f5fbf", svt: "#1f5fbf", vt: "#c62828", pause: "#c62828",
    avb2: "#c62828", avb3: "#c62828", noise: "#8a939d", lead_off: "#8a939d" };
  function episodeBars(ctx, w, y) {
    const pps = pxPerSec();
    const end = st.start + pageSeconds();
    ctx.font = "11px system-ui, sans-serif";
    for (const [type, s, e] of D.episodes || []) {
      if (e < st.start || s > end) continue;
      const x0 = Math.max(0, (s - st.start) * pps), x1 = Math.min(w, Math.max(x0 + 3, (e - st.start) * pps));
      ctx.fillStyle = EP_COLORS[type] || "#a15c00";
      ctx.fillRect(x0, y + 3, x1 - x0, 6);
      if (x1 - x0 > 40) ctx.fillText(type.toUpperCase().replace("_", " "), x0 + 2, y + 2);
    }
  }

  function timeAxis(ctx, w, y) {
    const p = pageSeconds();
    const steps = [0.2, 1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 43200, 86400];
    const step = steps.find((s) => (s * w) / p >= 90) || 86400;
    const pps = pxPerSec();
    ctx.fillStyle = "#4a5563"; ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#9aa5b1"; ctx.lineWidth = 1;
    for (let t = Math.ceil(st.start / step) * step; t <= st.start + p; t += step) {
      const x = Math.round((t - st.start) * pps) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y + 4); ctx.stroke();
      const text = WS.clock(D.recording_start, t).replace(/^Day \d+ /, "");
      if (x + 60 < w) ctx.fillText(step < 1 ? text + `.${Math.round((t % 1) * 10)}` : text, x + 2, y + 14);
    }
  }

  function counts() {
    const c = st.counts || {};
    const parts = ["N", "S", "V", "F", "Q"].map((k) => `${k} ${WS.fmt(c[k] || 0)}`);
    document.getElementById("beat-counts").textContent = `Beats in the study: ${parts.join(" · ")}`;
  }

  // ------------------------------------------------------------------ overview
  function drawOverview() {
    const { ctx, width: w, height: h } = ECG.fit(overview, 74);
    ctx.fillStyle = "#fbfcfd"; ctx.fillRect(0, 0, w, h);
    if (!duration) return;
    const sx = w / duration;
    const q = D.quality || "", qs = D.quality_epoch_s || 10;
    for (let i = 0; i < q.length; i++) {
      if (q[i] === "A") continue;
      ctx.fillStyle = q[i] === "L" ? "#c9ced4" : "#e1e4e8";
      ctx.fillRect(i * qs * sx, 0, Math.max(1, qs * sx), h - 20);
    }
    const bpm = D.trend_bpm || [], dt = D.trend_interval_s || 60;
    const yOf = (v) => (h - 22) - ((Math.min(200, Math.max(30, v)) - 30) / 170) * (h - 26);
    ctx.strokeStyle = "#1c2430"; ctx.lineWidth = 1; ctx.beginPath();
    let pen = false;
    bpm.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      const x = (i + 0.5) * dt * sx;
      if (pen) ctx.lineTo(x, yOf(v)); else { ctx.moveTo(x, yOf(v)); pen = true; }
    });
    ctx.stroke();
    for (const [type, s, e] of D.episodes || []) {
      ctx.fillStyle = EP_COLORS[type] || "#a15c00";
      const row = ["af", "flutter", "svt"].includes(type) ? h - 18 : h - 10;
      ctx.fillRect(s * sx, row, Math.max(2, (e - s) * sx), 6);
    }
    ctx.fillStyle = "#6b2b8f";
    // ▼ pointing down at the event's time, as the legend above the track (#overview-legend) shows it
    for (const t of D.patient_events || []) { ctx.beginPath(); ctx.moveTo(t * sx - 4, 0); ctx.lineTo(t * sx + 4, 0); ctx.lineTo(t * sx, 7); ctx.fill(); }
    ctx.strokeStyle = "#f0a500"; ctx.lineWidth = 2;
    ctx.strokeRect(st.start * sx, 1, Math.max(3, pageSeconds() * sx), h - 2);
  }

  // ------------------------------------------------------------------ calipers and relabel
  function drawCaliper(ctx, top, h) {
    if (!st.caliper) return;
    const [a, b] = [st.caliper.a, st.caliper.b].sort((x, y) => x - y);
    const pps = pxPerSec();
    const xa = (a - st.start) * pps, xb = (b - st.start) * pps;
    ctx.strokeStyle = "#0b5cad"; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(xa, top); ctx.lineTo(xa, top + h); ctx.moveTo(xb, top); ctx.lineTo(xb, top + h);
    ctx.moveTo(xa, top + 10); ctx.lineTo(xb, top + 10); ctx.stroke();
    const ms = (b - a) * 1000;
    ctx.fillStyle = "#0b5cad"; ctx.font = "700 12px system-ui, sans-serif";
    ctx.fillText(`${ms.toFixed(0)} ms`, Math.min(xb + 4, width() - 60), top + 14);
    caliperOut.textContent = ms > 0
      ? `Calipers: ${ms.toFixed(0)} ms · ${(60000 / ms).toFixed(0)} bpm`
      : "Calipers: drag across the strip to measure an interval.";
  }

  function timeAt(clientX) {
    const r = strip.getBoundingClientRect();
    return st.start + (clientX - r.left - GUTTER) / pxPerSec();
  }

  let drag = null;
  strip.addEventListener("mousedown", (e) => { drag = { x: e.clientX, t: timeAt(e.clientX), moved: false }; hidePopup(); });
  strip.addEventListener("mousemove", (e) => {
    if (!drag) return;
    if (Math.abs(e.clientX - drag.x) > 3) drag.moved = true;
    if (drag.moved) { st.caliper = { a: drag.t, b: timeAt(e.clientX) }; paint(); }
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const was = drag; drag = null;
    if (was.moved) { st.caliper = { a: was.t, b: timeAt(e.clientX) }; paint(); return; }
    const r = strip.getBoundingClientRect();
    const x = e.clientX - r.left - GUTTER;
    const list = beats();
    let best = -1, bestD = 8;
    list.forEach((b, i) => { const d = Math.abs(b.x - x); if (d < bestD) { bestD = d; best = i; } });
    if (best >= 0) { st.beat = best; paint(); if (D.can_edit) openPopup(list[best]); }
  });

  function openPopup(beat) {
    popup.hidden = false;
    const left = GUTTER + Math.min(Math.max(0, beat.x - 60), width() - 300);
    popup.style.left = `${left}px`;
    popup.style.top = `${LABEL_BAND + 4}px`;
    document.getElementById("relabel-title").textContent =
      `Beat ${WS.fmt(beat.index + 1)} (${beat.label}) at ${WS.clock(D.recording_start, beat.t)}: relabel as`;
    popup.dataset.index = String(beat.index);
    popup.querySelector("button").focus();
  }
  function hidePopup() { popup.hidden = true; }
  popup.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-label]");
    if (!b) return;
    if (!b.dataset.label) { hidePopup(); strip.focus(); return; }
    await relabel(Number(popup.dataset.index), b.dataset.label);
  });
  popup.addEventListener("keydown", (e) => {
    const k = e.key.toUpperCase();
    if (e.key === "Escape") { hidePopup(); strip.focus(); }
    else if ("NSVFQ".includes(k) && k.length === 1) { e.preventDefault(); relabel(Number(popup.dataset.index), k); }
  });

  async function relabel(index, label) {
    hidePopup();
    status.textContent = `Relabelling beat ${WS.fmt(index + 1)} as ${label} and recomputing the summary…`;
    // the run whose beats the strip shows: another technician's edit or a re-analysis since is a 409, not
    // this beat index applied to that run's beats
    const run = st.windows[0] && st.windows[0].beats.run_id;
    const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/beat-edits`, { kind: "beat", target: index, label, base_run: run || null });
    if (!answer.ok) { status.textContent = `Not relabelled: ${answer.message}`; return; }
    const study = await WS.api("GET", `/api/v1/studies/${D.study_id}`);
    if (study.ok && study.data.analysis) st.counts = study.data.analysis.beats_by_class || st.counts;
    const done = `Beat ${WS.fmt(index + 1)} is now ${label}; the summary was recomputed (analysis run ${answer.data.run_id})`;
    status.textContent = `${done}${answer.data.note ? `; ${answer.data.note}` : ""}.`;
    cache.clear();
    await draw("edit");
    strip.focus();
    // a sent study's report is rendered again by a background job: the outcome follows it to its end
    if (answer.data.report_job) await WS.followReport(D.study_id, answer.data.report_job, (said) => { status.textContent = `${done}; ${said}.`; });
  }

  // ------------------------------------------------------------------ navigation
  async function go(start, reason = "turn") {
    st.start = clampStart(start);
    st.caliper = null; st.beat = -1; hidePopup();
    await draw(reason);
  }
  const page = (n) => go(st.start + n * pageSeconds());
  function zoom(n) {
    const centre = st.start + pageSeconds() / 2;
    st.zoom = Math.max(0, Math.min(ZOOMS.length, st.zoom + n));
    go(centre - pageSeconds() / 2, "zoom");
  }
  function events() {
    const kind = document.getElementById("event-kind").value;
    if (kind === "patient") return (D.patient_events || []).slice().sort((a, b) => a - b);
    return (D.episodes || []).filter(([t]) => !kind || t === kind).map(([, s]) => s).sort((a, b) => a - b);
  }
  function nextEvent(dir) {
    const p = pageSeconds(), here = st.start + p * 0.25;
    const list = events();
    const t = dir > 0 ? list.find((s) => s > here + 0.5) : [...list].reverse().find((s) => s < here - 0.5);
    if (t === undefined) { status.textContent = dir > 0 ? "No later event of this kind." : "No earlier event of this kind."; return; }
    status.textContent = "";
    go(t - p * 0.25, "event");
  }
  function rrCaliper() {
    const list = beats(), mid = pageSeconds() / 2 + st.start;
    let i = list.findIndex((b) => b.t > mid);
    if (i <= 0) i = 1;
    if (list.length < 2) return;
    st.caliper = { a: list[i - 1].t, b: list[i].t };
    paint();
  }

  document.getElementById("prev-page").addEventListener("click", () => page(-1));
  document.getElementById("next-page").addEventListener("click", () => page(1));
  document.getElementById("zoom-in").addEventListener("click", () => zoom(-1));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(1));
  document.getElementById("prev-event").addEventListener("click", () => nextEvent(-1));
  document.getElementById("next-event").addEventListener("click", () => nextEvent(1));
  document.querySelectorAll('input[name="lead"]').forEach((b) => b.addEventListener("change", () => draw("leads")));
  overview.addEventListener("click", (e) => {
    const r = overview.getBoundingClientRect();
    go((e.clientX - r.left) / r.width * duration - pageSeconds() / 2, "jump");
  });
  overview.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") { e.preventDefault(); go(st.start + (e.key === "ArrowRight" ? 1 : -1) * Math.max(pageSeconds(), duration / 50), "jump"); }
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea, dialog, .relabel") || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    const act = {
      ArrowRight: () => page(1), PageDown: () => page(1), ArrowLeft: () => page(-1), PageUp: () => page(-1),
      "+": () => zoom(-1), "=": () => zoom(-1), "-": () => zoom(1), _: () => zoom(1),
      Home: () => go(0), End: () => go(duration),
      n: () => nextEvent(1), N: () => nextEvent(1), p: () => nextEvent(-1), P: () => nextEvent(-1),
      c: rrCaliper, C: rrCaliper,
      Escape: () => { st.caliper = null; st.beat = -1; hidePopup(); paint(); caliperOut.textContent = "Calipers: drag across the strip to measure an interval."; },
      "]": () => { st.beat = Math.min(beats().length - 1, st.beat + 1); paint(); },
      "[": () => { st.beat = Math.max(0, st.beat - 1); paint(); },
      Enter: () => { const b = beats()[st.beat]; if (b && D.can_edit) openPopup(b); },
      a: () => addStrip(), A: () => addStrip(),
    }[k];
    if (act) { e.preventDefault(); act(); }
  });

  // ------------------------------------------------------------------ add a strip to the report
  const dialog = document.getElementById("strip-dialog");
  const addButton = document.getElementById("add-strip");
  function addStrip() {
    if (!addButton) return;
    document.getElementById("strip-when").textContent =
      `From ${WS.clock(D.recording_start, st.start)}, the length of one report strip, lead ${st.leads[0]}.`;
    WS.showError(document.getElementById("strip-error"), "");
    dialog.showModal();
    document.getElementById("strip-caption").focus();
  }
  if (addButton) {
    addButton.addEventListener("click", addStrip);
    document.getElementById("strip-cancel").addEventListener("click", () => dialog.close());
    document.getElementById("strip-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const caption = document.getElementById("strip-caption").value.trim();
      const error = document.getElementById("strip-error");
      if (!caption) { WS.showError(error, "Write a caption: what the strip shows."); return; }
      const answer = await WS.api("POST", `/api/v1/studies/${D.study_id}/strips`,
        { start_s: Math.round(st.start * 1000) / 1000, caption, lead: st.leads[0] });
      if (!answer.ok) { WS.showError(error, answer.message); return; }
      dialog.close();
      document.getElementById("strip-caption").value = "";
      status.textContent = `Strip “${caption}” added to the report's strips (regenerate the report to see it).`;
    });
  }

  window.addEventListener("resize", () => draw("resize"));
  go(st.start, "open");
});
