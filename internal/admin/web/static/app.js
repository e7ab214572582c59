// The ferry admin dashboard: signs in with the admin token, then polls the
// admin API (/api/v1/sessions and /api/v1/stats) while the tab is visible.
// Everything the server sends is put into the page as text (textContent),
// never as HTML, since user names, paths and commands come from FTP
// clients.

import * as fmt from "./format.js";
import { ThroughputChart } from "./chart.js";

const tokenKey = "ferry.admin-token";
const pollEvery = 1500; // ms
const retryMax = 15000; // ms: the longest wait between retries

const $ = (id) => document.getElementById(id);

// Unauthorized is a 401: the token is wrong or no longer accepted.
class Unauthorized extends Error {}

// APIError is an answer other than 2xx and 401; status is its HTTP status.
class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const state = {
  token: sessionStorage.getItem(tokenKey) || "",
  version: null,
  // Server clock minus browser clock, in ms, so that "3 min ago" is right
  // when the two disagree.
  skew: 0,
  timer: 0,
  inFlight: false,
  again: false,
  failures: 0,
  confirmID: "",
};

const rows = new Map(); // session id → row
// Sessions disconnected from this page, by id, with when: a refresh that
// was already under way when the server closed one may still list it, and
// its row must not come back.
const gone = new Map();
const goneFor = 10000; // ms
const chart = new ThroughputChart($("chart"));

async function api(method, path) {
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" },
      cache: "no-store",
    });
  } catch (err) {
    throw new Error(`cannot reach the server (${err.message})`);
  }
  if (resp.status === 401) {
    throw new Unauthorized("the token was refused");
  }
  if (resp.status === 204) {
    return null;
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // A proxy's HTML error page, or a cut-off answer: say what we know.
  }
  if (!resp.ok) {
    const msg = body && typeof body.error === "string" ? body.error : `HTTP ${resp.status}`;
    throw new APIError(resp.status, msg);
  }
  if (body === null) {
    throw new APIError(resp.status, "the server's answer is not JSON");
  }
  return body;
}

// --- signing in and out ----------------------------------------------------

function showLogin(message) {
  $("dashboard").hidden = true;
  $("facts").hidden = true;
  $("logout").hidden = true;
  hideBanner();
  $("login-view").hidden = false;
  $("login-message").textContent = message || "";
  const input = $("token");
  input.value = "";
  input.focus();
}

function showDashboard() {
  $("login-view").hidden = true;
  $("dashboard").hidden = false;
  $("facts").hidden = false;
  $("logout").hidden = false;
  chart.draw(); // it was hidden: now it has a size
}

function signOut(message) {
  clearTimeout(state.timer);
  state.token = "";
  state.version = null;
  sessionStorage.removeItem(tokenKey);
  for (const row of rows.values()) {
    row.tr.remove();
  }
  rows.clear();
  showLogin(message);
}

async function signIn(event) {
  event.preventDefault();
  const button = $("login-submit");
  const token = $("token").value.trim();
  if (token === "") {
    $("login-message").textContent = "Enter the admin token.";
    return;
  }
  button.disabled = true;
  $("login-message").textContent = "Signing in…";
  state.token = token;
  try {
    setVersion(await api("GET", "/api/v1/version"));
  } catch (err) {
    state.token = "";
    $("login-message").textContent = err instanceof Unauthorized
      ? "That token was refused. Check it and try again."
      : `Could not sign in: ${err.message}.`;
    $("token").select();
    return;
  } finally {
    button.disabled = false;
  }
  sessionStorage.setItem(tokenKey, token);
  $("login-message").textContent = "";
  showDashboard();
  poll();
}

function setVersion(v) {
  state.version = v;
  $("version").textContent = v.version || "?";
  $("version").title = v.go ? `built with ${v.go}` : "";
  noteServerClock(v.uptime_seconds);
}

// noteServerClock estimates the server's clock from its start time and
// its uptime, as both arrive in every stats answer.
function noteServerClock(uptimeSeconds) {
  const started = state.version ? Date.parse(state.version.started) : NaN;
  if (Number.isFinite(started) && Number.isFinite(uptimeSeconds)) {
    state.skew = started + uptimeSeconds * 1000 - Date.now();
  }
}

function serverNow() {
  return Date.now() + state.skew;
}

function secondsSince(rfc3339) {
  const t = Date.parse(rfc3339);
  return Number.isFinite(t) ? (serverNow() - t) / 1000 : NaN;
}

// --- polling ---------------------------------------------------------------

// poll fetches and shows the sessions and stats, then schedules itself.
// Calls while one is running make it run once more right after, so that
// a disconnect or a return to the tab shows up at once.
async function poll() {
  if (state.inFlight) {
    state.again = true;
    return;
  }
  clearTimeout(state.timer);
  if (!state.token || document.hidden) {
    return; // visibilitychange starts it again
  }
  state.inFlight = true;
  let delay = pollEvery;
  try {
    if (!state.version) {
      setVersion(await api("GET", "/api/v1/version"));
    }
    const [sessions, stats] = await Promise.all([
      api("GET", "/api/v1/sessions"),
      api("GET", "/api/v1/stats"),
    ]);
    noteServerClock(stats.uptime_seconds);
    const list = sessions.sessions || [];
    renderStats(stats, list);
    renderSessions(list);
    state.failures = 0;
    hideBanner();
  } catch (err) {
    if (err instanceof Unauthorized) {
      state.inFlight = false;
      signOut("The token is no longer accepted. Sign in again.");
      return;
    }
    state.failures++;
    delay = Math.min(retryMax, pollEvery * 2 ** Math.min(state.failures - 1, 4));
    showBanner(`Cannot update: ${err.message}. Retrying in ${Math.round(delay / 1000)} s.`);
  } finally {
    state.inFlight = false;
  }
  if (state.again) {
    state.again = false;
    delay = 0;
  }
  if (state.token) {
    state.timer = setTimeout(poll, delay);
  }
}

function showBanner(text) {
  const b = $("banner");
  b.textContent = text;
  b.hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
}

// --- stats -----------------------------------------------------------------

function renderStats(stats, sessions) {
  $("uptime").textContent = fmt.duration(stats.uptime_seconds);
  const n = stats.sessions ?? 0;
  $("session-count").textContent = String(n);
  $("session-noun").textContent = n === 1 ? "session" : "sessions";
  chart.update(stats.throughput || []);
  const last = chart.latest();
  $("now-download").textContent = fmt.rate(last.down);
  $("now-upload").textContent = fmt.rate(last.up);
  // The usage table counts anonymous logins under "anonymous".
  const online = new Set(sessions.filter((s) => s.user || s.anonymous)
    .map((s) => (s.anonymous ? "anonymous" : s.user)));
  renderUsers(stats.users || [], online);
}

// renderUsers fills the usage table; online holds the users logged in now.
function renderUsers(users, online) {
  const body = $("users-body");
  const trs = users.map((u) => {
    const tr = document.createElement("tr");
    tr.dataset.user = u.user;
    const lastSeen = online.has(u.user) ? "connected now" : fmt.ago(secondsSince(u.last_seen));
    cell(tr, u.user);
    cell(tr, String(u.sessions), "num");
    cell(tr, fmt.bytes(u.uploaded_bytes), "num");
    cell(tr, fmt.bytes(u.downloaded_bytes), "num");
    cell(tr, String(u.uploads), "num");
    cell(tr, String(u.downloads), "num");
    const known = online.has(u.user) || !Number.isNaN(secondsSince(u.last_seen));
    const seen = cell(tr, known ? lastSeen : "–");
    seen.title = localTime(u.last_seen);
    return tr;
  });
  body.replaceChildren(...trs);
  $("users-empty").hidden = users.length > 0;
}

function cell(tr, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) {
    td.className = className;
  }
  tr.append(td);
  return td;
}

function localTime(rfc3339) {
  const t = Date.parse(rfc3339);
  return Number.isFinite(t) ? new Date(t).toLocaleString() : "";
}

// --- sessions --------------------------------------------------------------

// renderSessions updates the table in place, row by session id, so that
// a row's Disconnect button keeps its focus across refreshes.
function renderSessions(all) {
  const body = $("sessions-body");
  const seen = new Set();
  const now = Date.now();
  for (const [id, at] of gone) {
    if (now - at > goneFor) {
      gone.delete(id);
    }
  }
  const list = all.filter((s) => !gone.has(s.id));
  list.forEach((s, i) => {
    let row = rows.get(s.id);
    if (!row) {
      row = makeRow(s.id);
      rows.set(s.id, row);
    }
    fillRow(row, s);
    seen.add(s.id);
    if (body.children[i] !== row.tr) {
      body.insertBefore(row.tr, body.children[i] || null);
    }
  });
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  $("sessions").hidden = list.length === 0;
  $("sessions-empty").hidden = list.length > 0;
}

function makeRow(id) {
  const tr = document.createElement("tr");
  tr.dataset.sessionId = id;
  const row = { tr, session: null };
  row.user = cell(tr, "");
  row.remote = cell(tr, "");
  row.since = cell(tr, "");
  row.command = cell(tr, "", "command");

  row.transferCell = cell(tr, "");
  row.idle = document.createElement("span");
  row.idle.className = "idle";
  row.idle.textContent = "idle";
  row.transfer = document.createElement("div");
  row.transfer.className = "transfer";
  row.what = document.createElement("span");
  row.what.className = "what";
  row.rate = document.createElement("span");
  row.rate.className = "rate";
  row.progress = document.createElement("progress");
  row.amount = document.createElement("span");
  row.amount.className = "amount";
  row.transfer.append(row.what, row.rate, row.progress, row.amount);
  row.transferCell.append(row.idle, row.transfer);

  const actions = cell(tr, "");
  row.button = document.createElement("button");
  row.button.type = "button";
  row.button.className = "disconnect";
  row.button.textContent = "Disconnect";
  row.button.addEventListener("click", () => askDisconnect(row.session));
  actions.append(row.button);
  return row;
}

function who(s) {
  if (s.anonymous) {
    return s.user ? `anonymous (${s.user})` : "anonymous";
  }
  return s.user || "(not logged in)";
}

function fillRow(row, s) {
  row.session = s;
  row.user.replaceChildren(document.createTextNode(s.anonymous ? "anonymous" : s.user || "—"));
  if (!s.user && !s.anonymous) {
    row.user.title = "not logged in yet";
  }
  // The protocol as a tag: TLS for FTPS, SFTP for SFTP, none for FTP.
  const proto = s.protocol === "sftp" ? "SFTP" : s.tls ? "TLS" : "";
  if (proto) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = proto;
    row.user.append(tag);
  }
  row.remote.textContent = s.remote;
  row.since.textContent = fmt.ago(secondsSince(s.started));
  row.since.title = `connected ${localTime(s.started)}`;
  row.command.textContent = s.command || "";
  row.command.title = s.command ? `${s.command} (${fmt.ago(secondsSince(s.command_at))})` : "";
  row.button.setAttribute("aria-label", `Disconnect ${who(s)} from ${s.remote}`);

  const t = s.transfer;
  row.idle.hidden = Boolean(t);
  row.transfer.hidden = !t;
  if (!t) {
    return;
  }
  const upload = ["STOR", "APPE", "STOU"].includes(t.verb);
  row.transfer.classList.toggle("upload", upload);
  row.what.textContent = `${t.verb} ${t.path}`;
  row.what.title = t.path;
  row.rate.textContent = fmt.rate(t.rate || 0);
  row.progress.setAttribute("aria-label", `${t.verb} ${t.path}`);
  let amount = fmt.bytes(t.bytes);
  if (t.size > 0) {
    row.progress.max = t.size;
    row.progress.value = Math.min(t.bytes, t.size);
    const pct = Math.floor((100 * Math.min(t.bytes, t.size)) / t.size);
    amount += ` of ${fmt.bytes(t.size)} (${pct} %)`;
    if (t.rate > 0 && t.bytes < t.size) {
      amount += ` · ${fmt.duration((t.size - t.bytes) / t.rate)} left`;
    }
  } else {
    row.progress.removeAttribute("value"); // size unknown: indeterminate
    amount += upload ? " received" : " sent";
  }
  row.amount.textContent = amount;
}

// --- disconnecting -----------------------------------------------------------

function askDisconnect(s) {
  if (!s) {
    return;
  }
  state.confirmID = s.id;
  const what = s.transfer ? `, running ${s.transfer.verb} ${s.transfer.path}` : "";
  $("confirm-text").textContent =
    `${who(s)} at ${s.remote}${what}. The client is told "421" and the connection is closed.`;
  const dialog = $("confirm");
  dialog.returnValue = "";
  dialog.showModal();
}

async function confirmClosed() {
  const dialog = $("confirm");
  const id = state.confirmID;
  state.confirmID = "";
  if (dialog.returnValue !== "disconnect" || !id) {
    return;
  }
  try {
    await api("DELETE", `/api/v1/sessions/${encodeURIComponent(id)}`);
    gone.set(id, Date.now());
    const row = rows.get(id);
    if (row) {
      row.tr.remove();
      rows.delete(id);
    }
  } catch (err) {
    if (err instanceof Unauthorized) {
      signOut("The token is no longer accepted. Sign in again.");
      return;
    }
    if (!(err instanceof APIError && err.status === 404)) {
      showBanner(`Could not disconnect: ${err.message}.`);
    }
    // 404: the session ended meanwhile, which is what was wanted.
  }
  poll();
}

// --- wiring ----------------------------------------------------------------

$("login-form").addEventListener("submit", signIn);
$("logout").addEventListener("click", () => signOut("Signed out."));
$("confirm").addEventListener("close", confirmClosed);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    poll();
  }
});

if (state.token) {
  showDashboard();
  poll();
} else {
  showLogin("");
}
