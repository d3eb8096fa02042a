// The worklist: POST /api/v1/worklist (the search goes in the body, never in a URL), counts per status,
// paging. Rows open the study (Enter or click).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const PAGE = 25;
  const names = { ambulatory_ecg: "Ambulatory ECG", event_monitor: "Event monitor", mct: "MCT",
    resting_ecg: "Resting 12-lead", stress_test: "Stress test" };
  const state = { statuses: null, offset: 0 };
  const rows = document.getElementById("wl-rows");
  const error = document.getElementById("wl-error");
  const form = document.getElementById("wl-filter");
  const tabs = document.querySelectorAll("#status-tabs .tab");

  // A 10 s resting ECG is "10 s", not "0.0 h"; a patch is counted in days.
  function length(hours) {
    if (hours == null) return null;
    if (hours >= 48) return `${(hours / 24).toFixed(1)} d`;
    if (hours >= 1) return `${hours.toFixed(1)} h`;
    const seconds = Math.round(hours * 3600);
    return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null ? "—" : text;
    if (cls) td.className = cls;
    return td;
  }

  async function load() {
    const body = { search: form.search.value, service: form.service.value || null, offset: state.offset, limit: PAGE };
    if (state.statuses) body.statuses = state.statuses;
    const answer = await WS.api("POST", "/api/v1/worklist", body);
    if (!answer.ok) { WS.showError(error, answer.message); return; }
    WS.showError(error, "");
    const page = answer.data;
    rows.replaceChildren();
    for (const r of page.items) {
      const tr = document.createElement("tr");
      tr.tabIndex = 0;
      tr.dataset.href = `/studies/${r.id}`;
      const link = document.createElement("a");
      link.href = tr.dataset.href; link.textContent = String(r.id);
      const first = document.createElement("td"); first.append(link);
      const badge = document.createElement("span");
      badge.className = `badge status-${r.status}`; badge.textContent = r.status;
      const st = document.createElement("td"); st.append(badge);
      if (r.priority && r.priority !== "routine") {  // urgent orders sort first while unsigned; say why
        const urgent = document.createElement("span");
        urgent.className = `badge order-${r.priority}`; urgent.textContent = r.priority;
        urgent.dataset.testid = "order-priority";
        st.append(urgent);
      }
      if (r.order_state && r.order_state !== "active") {  // withdrawn by the ordering system: not to be worked
        const state = document.createElement("span");
        state.className = `badge order-${r.order_state}`; state.textContent = r.order_state.replace("-", " ");
        state.dataset.testid = "order-state";
        st.append(state);
      }
      if (r.changed_after_sending) {  // edited after the physician had it: a new version to review, not the old
        const changed = document.createElement("span");
        changed.className = "badge changed"; changed.textContent = "changed after sending";
        changed.title = "The analysis changed after the report was sent (a beat edit or a re-analysis); the report was rendered again";
        changed.dataset.testid = "changed-after-sending";
        st.append(changed);
      }
      tr.append(first, st, cell(r.patient_name), cell(r.patient_id), cell(names[r.service] || r.service),
        cell(r.recording_start ? r.recording_start.slice(0, 16).replace("T", " ") : null),
        cell(length(r.duration_h)),
        cell(r.assigned), cell(r.updated_at.slice(0, 16).replace("T", " "), "when"));  // UTC, as its head says
      rows.append(tr);
    }
    if (!page.items.length) {
      const tr = document.createElement("tr");
      const td = cell("No studies match.", "empty"); td.colSpan = 9; tr.append(td); rows.append(tr);
    }
    const counts = page.counts;
    let all = 0;
    for (const [k, v] of Object.entries(counts)) {
      all += v;
      const el = document.querySelector(`[data-count="${k}"]`);
      if (el) el.textContent = WS.fmt(v);
    }
    document.querySelector('[data-count="all"]').textContent = WS.fmt(all);
    document.querySelector('[data-count="next"]').textContent =
      WS.fmt(page.default_statuses.reduce((n, s) => n + (counts[s] || 0), 0));
    const last = Math.min(page.offset + page.items.length, page.total);
    document.getElementById("wl-page").textContent = page.total ? `${page.offset + 1}–${last} of ${WS.fmt(page.total)}` : "";
    document.getElementById("wl-prev").disabled = page.offset === 0;
    document.getElementById("wl-next").disabled = last >= page.total;
  }

  rows.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-href]");
    if (tr && !event.target.closest("a")) location.assign(tr.dataset.href);
  });
  rows.addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr[data-href]");
    if (!tr) return;
    if (event.key === "Enter") location.assign(tr.dataset.href);
    if (event.key === "ArrowDown" && tr.nextElementSibling) { event.preventDefault(); tr.nextElementSibling.focus(); }
    if (event.key === "ArrowUp" && tr.previousElementSibling) { event.preventDefault(); tr.previousElementSibling.focus(); }
  });
  tabs.forEach((tab) => tab.addEventListener("click", () => {
    tabs.forEach((t) => t.setAttribute("aria-pressed", String(t === tab)));
    const s = tab.dataset.status;
    state.statuses = s === "next" ? null : (s === "all" ? [] : [s]);
    state.offset = 0;
    load();
  }));
  form.addEventListener("submit", (event) => { event.preventDefault(); state.offset = 0; load(); });
  document.getElementById("wl-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
  document.getElementById("wl-next").addEventListener("click", () => { state.offset += PAGE; load(); });
  load();
});
