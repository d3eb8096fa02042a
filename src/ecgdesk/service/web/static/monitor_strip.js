// One transmitted strip drawn as paper shows it (ecg.js: 1 mm / 5 mm grid, 25 mm/s, 10 mm/mV at 96 CSS
// pixels per inch), folded into rows of whole seconds, with each beat's label above it and the events
// that set the priority shaded. The strip comes from GET /api/v1/monitoring/queue/{id} (raw samples).
"use strict";

const MonitorStrip = (() => {
  const MM = ECG.PX_PER_MM, PX_PER_S = 25 * MM, PX_PER_MV = 10 * MM;
  const BAND = 15;            // label band above each row (px)
  const ROW_MM = 22;          // height of each row's grid (2.2 mV)
  const GUTTER = 4;

  function clock(iso, seconds) {
    if (!iso) return `${seconds.toFixed(0)} s`;
    const t = new Date(Date.parse(iso) + seconds * 1000);
    return t.toISOString().slice(11, 19);
  }

  // strip: the API's StripOut; shaded: [{start_s, duration_s, kind}] to highlight.
  function draw(canvas, strip, shaded) {
    const width = Math.floor(canvas.clientWidth) - 2 * GUTTER;
    const perRow = Math.max(2, Math.floor(width / PX_PER_S));
    const rows = Math.max(1, Math.ceil(strip.duration_s / perRow));
    const rowH = BAND + ROW_MM * MM;
    const { ctx } = ECG.fit(canvas, Math.ceil(rows * rowH + 4));
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.clientWidth, rows * rowH + 4);
    const beats = strip.beats;
    ctx.font = "600 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (let r = 0; r < rows; r++) {
      const t0 = r * perRow, t1 = Math.min(strip.duration_s, t0 + perRow);
      const top = r * rowH + BAND, w = (t1 - t0) * PX_PER_S, h = ROW_MM * MM;
      ECG.grid(ctx, GUTTER, top, w, h);
      for (const ev of shaded) {
        const a = Math.max(ev.start_s, t0), b = Math.min(ev.start_s + Math.max(ev.duration_s, 0.2), t1);
        if (b <= a) continue;
        ctx.fillStyle = "rgba(240, 165, 0, 0.22)";
        ctx.fillRect(GUTTER + (a - t0) * PX_PER_S, top, (b - a) * PX_PER_S, h);
        ctx.fillStyle = "#8a5a00";
        ctx.textAlign = "left";
        ctx.fillText(`${ev.kind} ${ev.duration_s ? ev.duration_s.toFixed(1) + " s" : ""}`, GUTTER + (a - t0) * PX_PER_S + 3, top + 12);
        ctx.textAlign = "center";
      }
      ECG.trace(ctx, strip, GUTTER, top + h * 0.55, PX_PER_S, PX_PER_MV, t0, top, h, w);
      ctx.fillStyle = "#5b6675";
      ctx.textAlign = "left";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(clock(strip.recorded_at, t0), GUTTER + 3, top + h - 4);
      ctx.font = "600 11px system-ui, sans-serif";
      ctx.textAlign = "center";
      for (let i = 0; i < beats.offsets.length; i++) {
        const t = beats.offsets[i] / strip.fs;
        if (t < t0 || t >= t1) continue;
        const x = GUTTER + (t - t0) * PX_PER_S;
        const label = beats.labels[i];
        ctx.fillStyle = ECG.COLORS[label] || "#333";
        ctx.fillText(label, x, r * rowH + 11);
      }
    }
    return { rows, perRow };
  }

  return { draw, PX_PER_S, PX_PER_MV };
})();
