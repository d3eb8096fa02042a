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
  let openedFromList = false;  // opened from the queue's list (closed there by someone else: the panel goes)
  let view = null;  // the open item as GET /api/v1/monitoring/queue/{id} answered

  const when = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "—");
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text == null || text === "" ? "—" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  // One page of the queue (page.page_size items from page.offset, the page's ?offset=); the counts are of
  // the whole queue (GET /api/v1/monitoring/queue/counts), not of the page.
  function showPager(total) {
    const size = page.page_size, offset = page.offset;
    const pager = document.getElementById("mq-pager");
    const prev = document.getElementById("mq-prev"), next = document.getElementById("mq-next");
    pager.hidden = !(offset > 0 || offset + size < total);
    prev.hidden = !(offset > 0);
    // past the end (items closed since the link was made, or a later page emptied while it was shown):
    // Previous leads to the queue's last page, not to another empty one
    const before = offset < total ? offset - size : Math.floor((total - 1) / size) * size;
    prev.href = before > 0 ? `/monitoring?offset=${before}` : "/monitoring";
    next.hidden = !(offset + size < total);
    next.href = `/monitoring?offset=${offset + size}`;
    const shown = Math.max(0, Math.min(size, total - offset));
    document.getElementById("mq-rows-of").textContent = shown
      ? `Items ${offset + 1}–${offset + shown} of ${WS.fmt(total)}`
      : `No items from item ${WS.fmt(offset + 1)} on: the queue has ${WS.fmt(total)}`;
  }

  async function load() {
    const background = { background: true };
    const [answer, counted] = await Promise.all([
      WS.api("GET", `/api/v1/monitoring/queue?offset=${page.offset}&limit=${page.page_size}`, undefined, background),
      WS.api("GET", "/api/v1/monitoring/queue/counts", undefined, background),
    ]);
    if (!answer.ok || !counted.ok) { WS.showError(error, (answer.ok ? counted : answer).message); return; }
    WS.showError(error, "");
    items = new Map(answer.data.map((r) => [r.id, r]));
    const counts = Object.fromEntries(page.priorities.map((p) => [p, counted.data.by_priority[p] || 0]));
    const overdue = counted.data.overdue;
    rows.replaceChildren();
    for (const r of answer.data) {
      const tr = document.createElement("tr");
      tr.tabIndex = 0;
      tr.dataset.id = String(r.id);
      tr.className = `priority-${r.priority}${r.overdue ? " overdue" : ""}${r.id === openId ? " selected" : ""}`;
      const badge = document.createElement("span");
      badge.className = `badge priority-${r.priority}`; badge.textContent = r.priority;
      const pr = document.createElement("td"); pr.append(badge);
      tr.append(cell(r.id), pr, cell(r.patient), cell(r.device), cell(r.label), cell(r.reason),
        cell(`${when(r.received_at)} ${r.time_zone}`, "when"),
        cell(`${when(r.due_at)} ${r.time_zone}` + (r.overdue ? " (overdue)" : ""), r.overdue ? "when late" : "when"),
        cell(r.flag));
      rows.append(tr);
    }
    if (!answer.data.length) {
      const tr = document.createElement("tr");
      // an empty page of a queue that has open strips must not say that everything was reviewed
      const td = cell(answer.total ? `No open strips on this page: ${WS.fmt(answer.total)} open in the queue, on the earlier pages.`
        : "No open strips: every transmission has been reviewed.", "empty"); td.colSpan = 9;
      tr.append(td); rows.append(tr);
    }
    for (const [p, n] of Object.entries(counts)) {
      const el = document.querySelector(`[data-count="${p}"]`);
      if (el) el.textContent = WS.fmt(n);
    }
    document.querySelector('[data-count="overdue"]').textContent = WS.fmt(overdue);
    showPager(answer.total);
    document.getElementById("mq-updated").textContent = `${WS.fmt(counted.data.open)} open · updated ${new Date().toISOString().slice(11, 19)} UTC`;
    if (openId !== null && openedFromList && !items.has(openId)) closePanel();
    loadWaiting();
  }

  const local = (iso, zone) => (iso ? `${iso.slice(0, 16).replace("T", " ")} ${zone}` : "—");

  // The physician's call-back recorded on the page: the same POST /api/v1/monitoring/notifications/{id}/ack
  // as `monitor ack` (monitor:review, the session's CSRF token, audited `monitor:acknowledge`).
  function ackForm(notice) {
    const f = document.createElement("form");
    f.className = "mq-ack"; f.dataset.notice = String(notice.id);
    const outcome = document.createElement("input");
    outcome.name = "outcome"; outcome.maxLength = 2000; outcome.autocomplete = "off";
    outcome.placeholder = "what the physician said or decided";
    outcome.setAttribute("aria-label", `Outcome of notification ${notice.id}`);
    const err = document.createElement("p");
    err.className = "field-error"; err.dataset.for = "outcome"; err.setAttribute("role", "alert"); err.hidden = true;
    const go = document.createElement("button");
    go.type = "submit"; go.className = "btn small"; go.textContent = "Acknowledge";
    f.append(outcome, go, err);
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      go.disabled = true;
      const answer = await WS.api("POST", `/api/v1/monitoring/notifications/${notice.id}/ack`, { outcome: outcome.value });
      go.disabled = false;
      const rest = WS.fieldErrors(f, answer.detail);
      if (!answer.ok) { WS.showError(err, rest.join("; ") || answer.message); return; }
      // another workstation got there first: the refresh alone would show their name and drop this outcome unsaid
      for (const box of document.querySelectorAll("[data-ack-status]")) box.textContent = "";
      f.closest("[data-ack-box]").querySelector("[data-ack-status]").textContent = answer.data.already
        ? `Notification ${notice.id} had already been acknowledged by ${answer.data.acknowledged_by}`
          + (outcome.value.trim() ? ": your outcome was not recorded." : ".") : "";
      loadWaiting();
      if (openId === notice.queue_item_id) open(openId);
    });
    return f;
  }

  function acknowledged(notice) {
    if (notice.acknowledged_at) {
      return `${local(notice.acknowledged_at, notice.time_zone)} by ${notice.acknowledged_by}`;
    }
    return page.may_ack ? ackForm(notice) : "not yet";
  }

  function showNotices(v) {
    const shown = (v.notifications || []).map((n) => tr([n.id, badge(n.tier),
      `${n.recipient} (${n.channel.replace("_", " ")}${n.read_back ? ", read back" : ""})`
        + (n.escalated_from_id ? ` · escalation of ${n.escalated_from_id}` : ""),
      `${local(n.sent_at, n.time_zone)} by ${n.sent_by}`, n.outcome, acknowledged(n)], n.flag ? "flagged" : ""));
    table("mq-notices", shown.length ? shown : [tr(["No notification was sent about this strip.", "", "", "", "", ""])]);
  }

  async function loadWaiting() {
    const body = document.querySelector("#mq-waiting tbody");
    const answer = await WS.api("GET", "/api/v1/monitoring/notifications", undefined, { background: true });
    WS.showError(document.getElementById("mq-waiting-error"), answer.ok ? "" : answer.message);
    if (!answer.ok) return;
    // a call-back being typed is not wiped by the refresh
    if (body.contains(document.activeElement) && document.activeElement.closest("form")) return;
    const out = answer.data.map((n) => {
      const link = document.createElement("button");
      link.type = "button"; link.className = "btn small link"; link.textContent = `item ${n.queue_item_id}`;
      link.addEventListener("click", () => open(n.queue_item_id));
      const row = tr([n.id, link, n.patient, badge(n.tier), `${n.recipient} (${n.channel.replace("_", " ")})`,
        local(n.sent_at, n.time_zone), n.flag, ...(page.may_ack ? [ackForm(n)] : [])], n.flag ? "flagged" : "");
      row.dataset.notice = String(n.id);
      return row;
    });
    const none = document.createElement("td");
    none.colSpan = 8; none.className = "empty"; none.textContent = "No notification is waiting for a physician's answer.";
    const empty = document.createElement("tr"); empty.append(none);
    body.replaceChildren(...(out.length ? out : [empty]));
  }

  function closePanel() {
    const was = openId;
    openId = null; panel.hidden = true; view = null;
    const row = was !== null ? rows.querySelector(`tr[data-id="${was}"]`) : null;
    if (row) row.focus();
  }

  function table(id, rowsOf) {
    const body = document.querySelector(`#${id} tbody`);
    body.replaceChildren();
    for (const r of rowsOf) body.append(r);
  }
  function tr(cells, cls) {
    const row = document.createElement("tr");
    if (cls) row.className = cls;
    for (const c of cells) row.append(c instanceof Node ? (() => { const td = document.createElement("td"); td.append(c); return td; })() : cell(c));
    return row;
  }
  function badge(priority) {
    const b = document.createElement("span");
    b.className = `badge priority-${priority}`; b.textContent = priority; return b;
  }

  function paintStrip() {
    const status = document.getElementById("mq-strip-status");
    const canvas = document.getElementById("mq-strip");
    if (!view || !view.strip) {
      canvas.hidden = true;
      status.textContent = view ? `No trace: ${view.strip_error || "the strip could not be read"}` : "";
      return;
    }
    canvas.hidden = false;
    const kinds = new Set((view.matched || []).map((r) => r.event));
    const events = ((view.observation && view.observation.events) || [])
      .filter((e) => kinds.has(e.kind) && e.start_s != null);
    MonitorStrip.draw(canvas, view.strip, events);
    const b = view.strip.beats;
    const counts = Object.entries(b.counts).map(([k, n]) => `${k} ${n}`).join(" · ") || "none";
    status.textContent = `${view.strip.lead}, ${view.strip.duration_s.toFixed(1)} s at ${view.strip.fs} Hz`
      + `${view.strip.truncated ? " (first part shown)" : ""}. Beats: ${counts}`
      + `${b.note ? ` (${b.note})` : ""}; labelled by the ${b.engine}.`;
  }

  // an item of the list, or (from a notification) one already closed: its panel shows what was done
  async function open(id) {
    const r = items.get(id);
    // another item's panel: the notice about this one's acknowledgement no longer applies
    if (openId !== id) panel.querySelector("[data-ack-status]").textContent = "";
    openId = id;
    openedFromList = Boolean(r);
    document.getElementById("mq-item-id").textContent = String(id);
    document.getElementById("mq-item-what").textContent = r ? `${r.priority} · ${r.label || "not classified yet"}` : "";
    panel.hidden = false;
    if (form) { form.reset(); toggleNotice(); WS.showError(document.getElementById("mq-review-error"), ""); }
    rows.querySelectorAll("tr").forEach((row) => row.classList.toggle("selected", row.dataset.id === String(id)));
    document.getElementById("mq-strip-status").textContent = "Loading the strip…";
    const answer = await WS.api("GET", `/api/v1/monitoring/queue/${id}`);
    if (openId !== id) return;
    if (!answer.ok) { document.getElementById("mq-strip-status").textContent = `Not loaded: ${answer.message}`; return; }
    view = answer.data;
    const v = view;
    document.getElementById("mq-item-what").textContent = `${v.priority} · ${v.label || "not classified yet"}`;
    if (form) {
      // a closed item is not closed again: its panel says how it was closed, its notices stay answerable
      form.hidden = v.status !== "open";
      const closed = document.getElementById("mq-item-closed");
      closed.hidden = v.status === "open";
      closed.textContent = v.status === "open" ? "" : `Closed (${v.action || "—"}): acknowledge a call-back under Notifications.`;
    }
    showNotices(v);
    const obs = v.observation;
    document.getElementById("mq-item-why").textContent = `Classifier: ${v.reason || "—"}`
      + (obs ? ` · strip ${obs.label}: ${obs.reason}` : "");
    const facts = document.getElementById("mq-item-facts");
    facts.replaceChildren();
    const rate = v.observation && v.observation.heart_rate_bpm != null ? `${Math.round(v.observation.heart_rate_bpm)} bpm` : "—";
    // the received and due times are on the patient's clock (their enrolment's zone; UTC without one)
    const zone = v.time_zone || "UTC";
    const pairs = [["Patient", v.patient ? `${v.patient} (${v.patient_id})` : "— (not attributed)"], ["Enrolment", v.enrolment_id],
      ["Device", v.device], ["Strip label", v.label], ["Heart rate", rate], ["Recorded (UTC)", v.strip ? when(v.strip.recorded_at) : "—"],
      ["Patient's clock", v.recorded_local ? `${v.recorded_local.slice(0, 16).replace("T", " ")} (${v.time_zone})` : "—"],
      ["Received", `${when(v.received_at)} (${zone})`], ["Due", `${when(v.due_at)} (${zone})` + (v.overdue ? " (overdue)" : "")],
      ["Flag", v.flag]];
    for (const [k, val] of pairs) {
      const row = document.createElement("tr");
      const th = document.createElement("th"); th.scope = "row"; th.textContent = k;
      const td = cell(val);
      if (k === "Enrolment" && v.enrolment_id != null) {
        // the period's own page: dates, recorders and their swaps, criteria versions, counts, billing
        const a = document.createElement("a");
        a.href = `/monitoring/periods/${v.enrolment_id}`; a.textContent = `period ${v.enrolment_id}`;
        a.dataset.testid = "period-link";
        td.replaceChildren(a);
      }
      row.append(th, td); facts.append(row);
    }
    const crit = v.criteria;
    document.getElementById("mq-criteria-source").textContent = crit
      ? (crit.signed_by ? `${crit.source}, signed by ${crit.signed_by} ${when(crit.signed_at)}` : crit.source) : "none (no enrolment)";
    const fired = new Set((v.matched || []).map((m) => m.id));
    table("mq-criteria", (crit ? crit.rules : []).map((rule) => tr([rule.tier, rule.text], fired.has(rule.id) ? "fired" : "")));
    table("mq-recent", v.recent.length ? v.recent.map((h) => tr([h.id, when(h.received_at), badge(h.priority), h.label,
      h.status === "open" ? "open" : h.action, [h.confirmed_rhythm, h.note].filter(Boolean).join(" — ")])) : [tr(["No earlier strips.", "", "", "", "", ""])]);
    if (form) form.confirmed_rhythm.value = v.confirmed_rhythm || page.rhythm_names[v.label] || "";
    paintStrip();
    panel.scrollIntoView({ block: "start" });
    document.getElementById("mq-item-title").focus({ preventScroll: true });
  }

  function toggleNotice() {
    const action = form.querySelector('input[name="action"]:checked').value;
    document.getElementById("mq-notice").hidden = !(action === "notified" || action === "escalated");
  }

  document.getElementById("mq-item-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && openId !== null && !event.target.closest("input, textarea, select")) closePanel();
  });
  window.addEventListener("resize", () => { if (view) paintStrip(); });
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
      // an escalation goes to the on-call physician, with the tier read, channel and outcome given here
      if (!document.getElementById("mq-notice").hidden && (form.recipient.value.trim() || action === "escalated")) {
        body.notification = { recipient: form.recipient.value.trim(), channel: form.channel.value,
          read_back: form.read_back.checked, acknowledged: form.acknowledged.checked, outcome: form.outcome.value,
          tier: form.tier.value || null };  // null: the item's priority; a tier read raises it, never lowers
      }
      const answer = await WS.api("POST", `/api/v1/monitoring/queue/${openId}/review`, body);
      const rest = WS.fieldErrors(form, answer.detail);
      if (!answer.ok) {
        // a message already shown next to its field is not said again under the form; that field has the focus
        WS.showError(document.getElementById("mq-review-error"), rest.join("; ") || (answer.detail.length ? "" : answer.message));
        const invalid = form.querySelector('[aria-invalid="true"]');
        if (invalid) invalid.focus();
        return;
      }
      const warnings = (answer.data.warnings || []).join(" ");
      document.getElementById("mq-saved").textContent = `Item ${answer.data.item_id} closed (${answer.data.action}). ${warnings}`;
      closePanel();
      load();
    });
  }

  load();
  setInterval(load, (page.refresh_s || 15) * 1000);
});
