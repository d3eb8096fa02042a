// ECG Desk workstation: what every page shares (API calls with the CSRF token, errors in words next to
// their cause, logout, the idle-logoff notice, time formatting).
"use strict";

const WS = (() => {
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";

  function data() {
    const el = document.getElementById("page-data");
    return el ? JSON.parse(el.textContent) : {};
  }

  // Text typed but not saved when the session ends (idle logoff, or a save answered 401) is kept in this
  // tab's sessionStorage (never sent anywhere, gone when the tab closes) and put back when the same user
  // logs in again and returns to the page; another user's login discards it. No silent loss.
  const DRAFTS = "ecgdesk-drafts";
  function keepDrafts() {
    const fields = {};
    document.querySelectorAll("main textarea[id]").forEach((el) => {
      if (el.value.trim() && el.value !== el.defaultValue) fields[el.id] = el.value;
    });
    if (!Object.keys(fields).length) return;
    try {
      sessionStorage.setItem(DRAFTS, JSON.stringify(
        { user: meta("user"), path: location.pathname + location.search, fields }));
    } catch (err) { /* storage refused (private mode, quota): the login page then says nothing was kept */ }
  }
  function keptDrafts() {
    try { return JSON.parse(sessionStorage.getItem(DRAFTS) || "null"); } catch (err) { return null; }
  }
  function restoreDrafts() {
    const kept = keptDrafts();
    const user = meta("user");
    if (!kept || !user) return;
    if (kept.user !== user) { sessionStorage.removeItem(DRAFTS); return; }
    if (kept.path !== location.pathname + location.search) return;
    const back = Object.entries(kept.fields || {}).filter(([id]) => document.getElementById(id));
    back.forEach(([id, value]) => { document.getElementById(id).value = value; });
    sessionStorage.removeItem(DRAFTS);
    if (!back.length) return;
    const note = document.createElement("p");
    note.className = "notice";
    note.id = "drafts-restored";
    note.setAttribute("role", "status");
    note.textContent = "Your text from before the logoff is back in the form below. It is not saved yet: check it and save.";
    const main = document.querySelector("main");
    if (main) main.prepend(note);
  }

  let leaving = false;
  function toLogin(reason) {
    if (leaving) return;
    leaving = true;
    keepDrafts();
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/login?reason=${reason}&next=${next}`);
  }

  // One call of the JSON API. Resolves to {ok, status, data, message, detail}; never throws for an HTTP
  // refusal, so each page can put the message next to the field or button that caused it.
  // opts.background: a page's own timer, not the user's activity (the server's idle clock keeps running).
  async function api(method, url, body, opts) {
    const background = Boolean(opts && opts.background);
    const headers = { Accept: "application/json" };
    if (background) headers["X-ECGDesk-Background"] = "1";
    if (method !== "GET") headers["X-CSRF-Token"] = meta("csrf-token");
    // opts.contentType: the body is sent as it is (an X12 file's text), not as JSON.
    const raw = Boolean(opts && opts.contentType);
    if (body !== undefined) headers["Content-Type"] = raw ? opts.contentType : "application/json";
    let response;
    try {
      response = await fetch(url, { method, headers, credentials: "same-origin",
        body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)) });
    } catch (err) {
      return { ok: false, status: 0, data: null, detail: [], message: "ECG Desk cannot be reached: check the network and try again." };
    }
    if (!background) touched = Date.now();
    const text = await response.text();
    let payload = null;
    try { payload = text ? JSON.parse(text) : null; } catch (err) { payload = null; }
    const loggingIn = method === "POST" && url === "/api/v1/session";
    if (response.status === 401 && !loggingIn) { toLogin(/inactivity/.test(text) ? "idle" : "ended"); }
    const detail = (payload && Array.isArray(payload.detail)) ? payload.detail : [];
    const message = detail.length ? detail.map(describe).join("; ")
      : (response.ok ? "" : `The server answered ${response.status}.`);
    // total: a paged listing's row count in all (X-Total-Count), null for other answers
    const total = response.headers.get("X-Total-Count");
    return { ok: response.ok, status: response.status, data: payload, detail, message, bytes: text.length,
      total: total === null ? null : Number(total) };
  }

  // A recording's files to POST /api/v1/studies/{id}/recording, as multipart "files" parts, through
  // XMLHttpRequest (fetch reports no upload progress): onProgress(loaded, total) while the bytes go.
  // Resolves like api(): {ok, status, data, detail, message}; a 401 goes to the login form saying why.
  function upload(studyId, files, onProgress) {
    return new Promise((resolve) => {
      const form = new FormData();
      for (const f of files) form.append("files", f, f.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/v1/studies/${studyId}/recording`);
      xhr.setRequestHeader("X-CSRF-Token", meta("csrf-token"));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
      xhr.addEventListener("load", () => {
        touched = Date.now();
        let payload = null;
        try { payload = JSON.parse(xhr.responseText); } catch (err) { payload = null; }
        if (xhr.status === 401) toLogin(/inactivity/.test(xhr.responseText) ? "idle" : "ended");
        const detail = payload && Array.isArray(payload.detail) ? payload.detail : [];
        const message = detail.length ? detail.map(describe).join("; ")
          : (xhr.status < 300 ? "" : `The server answered ${xhr.status}.`);
        resolve({ ok: xhr.status < 300, status: xhr.status, data: payload, detail, message });
      });
      xhr.addEventListener("error", () => resolve({ ok: false, status: 0, data: null,
        detail: [{ loc: ["files"], msg: "the upload was interrupted" }], message: "files: the upload was interrupted" }));
      xhr.send(form);
    });
  }

  function describe(item) {
    const field = (item.loc || []).filter((p) => p !== "body" && p !== "query" && p !== "path").join(".");
    return field ? `${field}: ${item.msg}` : item.msg;
  }

  // Show a message in an error element (or hide it with an empty message).
  function showError(el, message) {
    if (!el) return;
    el.textContent = message || "";
    el.hidden = !message;
  }

  // A field the user edits after an error no longer says it is wrong: its message would contradict
  // what is now in it (a filled field still marked "required").
  function clearOnEdit(event) {
    const input = event.target;
    if (!input.name || !input.hasAttribute("aria-invalid")) return;
    input.removeAttribute("aria-invalid");
    const note = input.form && input.form.querySelector(`.field-error[data-for="${input.name}"]`);
    if (note) showError(note, "");
  }

  // Put each error of an API answer next to the form field it names (data-for="field" elements);
  // returns the messages that name no field of the form.
  function fieldErrors(form, detail) {
    if (!form.dataset.clearsOnEdit) {
      form.dataset.clearsOnEdit = "1";
      form.addEventListener("input", clearOnEdit);
      form.addEventListener("change", clearOnEdit);
    }
    form.querySelectorAll(".field-error[data-for]").forEach((el) => showError(el, ""));
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    const rest = [];
    for (const item of detail) {
      const names = (item.loc || []).map(String);
      const hit = names.map((n) => form.querySelector(`.field-error[data-for="${n.split("[")[0]}"]`)).find(Boolean);
      if (hit) {
        showError(hit, item.msg);
        const input = form.querySelector(`[name="${hit.dataset.for}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
      } else rest.push(describe(item));
    }
    return rest;
  }

  // Recording times as a reader of a multi-day study needs them: "Day 2 14:22:05".
  function clock(startIso, seconds, withDate) {
    if (!startIso) {
      const s = Math.max(0, Math.floor(seconds));
      const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), x = s % 60;
      return `${d ? `+${d}d ` : "+"}${pad(h)}:${pad(m)}:${pad(x)}`;
    }
    const start = new Date(startIso);
    const t = new Date(start.getTime() + seconds * 1000);
    const dayIndex = Math.round((utcDay(t) - utcDay(start)) / 86400000) + 1;
    const hms = `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}`;
    if (withDate) return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${hms}`;
    return `Day ${dayIndex} ${hms}`;
  }
  const utcDay = (t) => Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate());
  const pad = (n) => String(n).padStart(2, "0");
  const fmt = (n) => Number(n).toLocaleString("en-US");

  // Idle logoff: the server ends a session after idle-seconds without a request. Activity here keeps it
  // alive (a light request at most once a minute); a minute before the end a notice says so, and at the
  // end the page goes to the login form saying why.
  let touched = Date.now();
  let active = Date.now();
  function idleWatch() {
    const idle = Number(meta("idle-seconds")) || 0;
    const notice = document.getElementById("idle-notice");
    if (!idle || !notice) return;
    const warnAt = Math.max(idle - 60, idle * 0.8);
    const onActivity = () => {
      active = Date.now();
      if (!notice.hidden) notice.hidden = true;
      if (Date.now() - touched > 60000) api("GET", "/api/v1/session");
    };
    ["keydown", "mousedown", "wheel", "touchstart"].forEach((e) => document.addEventListener(e, onActivity, { passive: true }));
    document.getElementById("idle-stay").addEventListener("click", onActivity);
    setInterval(() => {
      const quiet = (Date.now() - Math.max(active, touched)) / 1000;
      const sinceServer = (Date.now() - touched) / 1000;
      if (sinceServer >= idle) { toLogin("idle"); return; }
      if (quiet >= warnAt) {
        document.getElementById("idle-left").textContent = String(Math.max(0, Math.ceil(idle - sinceServer)));
        notice.hidden = false;
      }
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    restoreDrafts();
    const out = document.getElementById("logout");
    if (out) out.addEventListener("click", async () => {
      sessionStorage.removeItem(DRAFTS);  // logging out on purpose: nothing is waiting to come back
      await api("DELETE", "/api/v1/session");
      location.assign("/login?reason=logout");
    });
    idleWatch();
  });

  // A background job of a study (`pick` chooses it from the study's jobs, newest first): `onJob` gets it
  // each second until it ends; the ended job, or null when the study lists no such job.
  async function followJob(studyId, pick, onJob) {
    for (;;) {
      const answer = await api("GET", `/api/v1/studies/${studyId}`);
      const job = answer.ok ? (answer.data.jobs || []).find(pick) : null;
      if (!job) return null;
      onJob(job);
      if (["done", "failed", "cancelled"].includes(job.status)) return job;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  const jobState = (job) => job.retry_wait || `${job.status}, ${Math.round(100 * job.progress)} %`;

  // A sent study's report rendered again after an edit is a background job (the edit's answer names it,
  // report_job): follow it until it ends, telling `say` the state in words each time.
  async function followReport(studyId, jobId, say) {
    const job = await followJob(studyId, (j) => j.id === jobId,
      (j) => say(`the report is being rendered again (job ${jobId}, ${jobState(j)})`));
    if (!job) say(`the report is being rendered again (job ${jobId}); see the study page for its progress`);
    else if (job.status === "done" && job.result.note) say(job.result.note);  // not needed any more: nothing rendered
    else if (job.status === "done") say(`the report was rendered again as version ${job.result.version} and is back on the physician's worklist, marked changed after sending`);
    else say(`the report could not be rendered again (job ${jobId} ${job.status}${job.error ? `: ${job.error}` : ""}): create it on the report page`);
  }

  return { api, upload, data, showError, fieldErrors, clock, fmt, describe, keptDrafts, followJob, jobState, followReport };
})();
