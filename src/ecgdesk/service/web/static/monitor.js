// The attended-monitoring queue: GET /api/v1/monitoring/queue every refresh_s seconds (a background read:
// it does not keep an idle session alive), counts per priority and overdue, most pressing first; an item
// opens below the list and is closed through POST /api/v1/monitoring/queue/{id}/review.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const page = WS.data();
  const rows = document.getElementById("mq-rows");
  const error = document.getElementById("mq-error");
  const panel = document.getElementById("mq-item");
  const form = document.getElementById("mq-review");
  let items = new Map();
  let openId = null;

  const when = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "—");
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null || text === "" ? "—" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  async function load() {
    const answer = await WS.api("GET", "/api/v1/monitoring/queue", undefined, { background: true });
    if (!answer.ok) { WS.showError(error, answer.message); return; }
    WS.showError(error, "");
    items = new Map(answer.data.map((r) => [r.id, r]));
    const counts = Object.fromEntries(page.priorities.map((p) => [p, 0]));
    let overdue = 0;
    rows.replaceChildren();
    for (const r of answer.data) {
      counts[r.priority] = (counts[r.priority] || 0) + 1;
      if (r.overdue) overdue += 1;
      const tr = document.createElement("tr");
      tr.tabIndex = 0;
      tr.dataset.id = String(r.id);
      tr.className = `priority-${r.priority}${r.overdue ? " overdue" : ""}${r.id === openId ? " selected" : ""}`;
      const badge = document.createElement("span");
      badge.className = `badge priority-${r.priority}`; badge.textContent = r.priority;
      const pr = document.createElement("td"); pr.append(badge);
      tr.append(cell(r.id), pr, cell(r.patient), cell(r.device), cell(r.label), cell(r.reason),
        cell(when(r.received_at)), cell(when(r.due_at) + (r.overdue ? " (overdue)" : ""), r.overdue ? "late" : ""),
        cell(r.flag));
      rows.append(tr);
    }
    if (!answer.data.length) {
      const tr = document.createElement("tr");
      const td = cell("No open strips: every transmission has been reviewed.", "empty"); td.colSpan = 9;
      tr.append(td); rows.append(tr);
    }
    for (const [p, n] of Object.entries(counts)) {
      const el = document.querySelector(`[data-count="${p}"]`);
      if (el) el.textContent = WS.fmt(n);
    }
    document.querySelector('[data-count="overdue"]').textContent = WS.fmt(overdue);
    document.getElementById("mq-updated").textContent = `${answer.data.length} open · updated ${new Date().toLocaleTimeString("en-GB")}`;
    if (openId !== null && !items.has(openId)) closePanel();
  }

  function closePanel() { openId = null; panel.hidden = true; }

  function open(id) {
    const r = items.get(id);
    if (!r) return;
    openId = id;
    document.getElementById("mq-item-id").textContent = String(r.id);
    document.getElementById("mq-item-what").textContent = `${r.priority} · ${r.label || "not classified yet"}`;
    const facts = document.getElementById("mq-item-facts");
    facts.replaceChildren();
    const pairs = [["Patient", r.patient], ["Enrolment", r.enrolment_id], ["Device", r.device],
      ["Classifier", r.reason], ["Received", when(r.received_at)], ["Due", when(r.due_at)], ["Flag", r.flag]];
    for (const [k, v] of pairs) {
      const tr = document.createElement("tr");
      const th = document.createElement("th"); th.scope = "row"; th.textContent = k;
      tr.append(th, cell(v)); facts.append(tr);
    }
    panel.hidden = false;
    if (form) { form.reset(); toggleNotice(); WS.showError(document.getElementById("mq-review-error"), ""); }
    rows.querySelectorAll("tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === String(id)));
    panel.scrollIntoView({ block: "nearest" });
  }

  function toggleNotice() {
    const action = form.querySelector('input[name="action"]:checked').value;
    document.getElementById("mq-notice").hidden = !(action === "notified" || action === "escalated");
  }

  rows.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-id]");
    if (tr) open(Number(tr.dataset.id));
  });
  rows.addEventListener("keydown", (event) => {
    const tr = event.target.closest("tr[data-id]");
    if (!tr) return;
    if (event.key === "Enter") open(Number(tr.dataset.id));
    if (event.key === "ArrowDown" && tr.nextElementSibling) { event.preventDefault(); tr.nextElementSibling.focus(); }
    if (event.key === "ArrowUp" && tr.previousElementSibling) { event.preventDefault(); tr.previousElementSibling.focus(); }
  });

  if (form) {
    form.addEventListener("change", toggleNotice);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (openId === null) return;
      const action = form.querySelector('input[name="action"]:checked').value;
      const body = { action, note: form.note.value, confirmed_rhythm: form.confirmed_rhythm.value.trim() || null };
      if (!document.getElementById("mq-notice").hidden && form.recipient.value.trim()) {
        body.notification = { recipient: form.recipient.value.trim(), channel: form.channel.value,
          read_back: form.read_back.checked, acknowledged: form.acknowledged.checked, outcome: form.outcome.value };
      }
      const answer = await WS.api("POST", `/api/v1/monitoring/queue/${openId}/review`, body);
      const rest = WS.fieldErrors(form, answer.detail);
      if (!answer.ok) { WS.showError(document.getElementById("mq-review-error"), rest.join("; ") || answer.message); return; }
      const warnings = (answer.data.warnings || []).join(" ");
      document.getElementById("mq-saved").textContent = `Item ${answer.data.item_id} closed (${answer.data.action}). ${warnings}`;
      closePanel();
      load();
    });
  }

  load();
  setInterval(load, (page.refresh_s || 15) * 1000);
});
