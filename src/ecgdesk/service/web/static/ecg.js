// Drawing ECG on a canvas the way paper shows it: 1 mm / 5 mm grid, 25 mm/s and 10 mm/mV at the nominal
// 96 CSS pixels per inch. Shared by the viewer, the templates and the 12-lead layout.
"use strict";

const ECG = (() => {
  const PX_PER_MM = 96 / 25.4;
  const COLORS = { N: "#1c2430", S: "#1f5fbf", V: "#c62828", F: "#a15c00", Q: "#7b8794" };
  const GRID_MINOR = "#f7d9d5", GRID_MAJOR = "#eaa59d";

  // A canvas sized to its CSS box, drawn in CSS pixels at the screen's resolution.
  function fit(canvas, cssHeight) {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.floor(canvas.clientWidth);
    const height = cssHeight || Math.floor(canvas.clientHeight);
    canvas.style.height = `${height}px`;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx, width, height };
  }

  function decode(base64) {
    if (!base64) return new Int16Array(0);
    const bin = atob(base64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  }

  // The paper grid over (x, y, w, h): thin lines every mm, strong every 5 mm (at pxPerMm on screen).
  function grid(ctx, x, y, w, h, pxPerMm = PX_PER_MM, minor = true) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(x, y, w, h);
    ctx.clip();
    const lines = (step, color, width) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.beginPath();
      for (let gx = x; gx <= x + w + 0.5; gx += step) { const px = Math.round(gx) + 0.5; ctx.moveTo(px, y); ctx.lineTo(px, y + h); }
      for (let gy = y; gy <= y + h + 0.5; gy += step) { const py = Math.round(gy) + 0.5; ctx.moveTo(x, py); ctx.lineTo(x + w, py); }
      ctx.stroke();
    };
    if (minor && pxPerMm >= 2.5) lines(pxPerMm, GRID_MINOR, 1);
    lines(pxPerMm * 5, GRID_MAJOR, 1);
    ctx.restore();
  }

  // One window of the signal API drawn from x0; yMid is 0 mV; time runs at pxPerSec from startS.
  function trace(ctx, win, x0, yMid, pxPerSec, pxPerMv, startS, clipTop, clipHeight, width) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0, clipTop, width, clipHeight);
    ctx.clip();
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 1.1;
    ctx.lineJoin = "round";
    ctx.beginPath();
    const gap = win.gap_value, k = win.scale_mv * pxPerMv;
    let pen = false;
    if (win.mode === "raw") {
      const v = decode(win.samples);
      for (let i = 0; i < v.length; i++) {
        if (v[i] === gap) { pen = false; continue; }
        const x = x0 + ((win.first_sample + i) / win.fs - startS) * pxPerSec;
        const y = yMid - v[i] * k;
        if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
      }
    } else {
      const lo = decode(win.mins), hi = decode(win.maxs);
      // Pixel i of the answer covers 1/width_px of the window asked for (also on a last, shorter page).
      const step = (win.end_s - win.start_s) * pxPerSec / Math.max(1, win.width_px);
      const xAt = (i) => x0 + (win.start_s - startS) * pxPerSec + (i + 0.5) * step;
      for (let i = 0; i < lo.length; i++) {
        if (lo[i] === gap || hi[i] === gap) { pen = false; continue; }
        const x = xAt(i);
        if (pen) ctx.lineTo(x, yMid - hi[i] * k); else { ctx.moveTo(x, yMid - hi[i] * k); pen = true; }
        ctx.lineTo(x, yMid - lo[i] * k);
      }
    }
    ctx.stroke();
    ctx.restore();
  }

  return { PX_PER_MM, COLORS, fit, decode, grid, trace };
})();
