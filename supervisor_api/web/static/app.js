// PAM Supervisor Dashboard: plain JS over the JSON API and the /api/stream events.
"use strict";

const S = { me: null, agents: new Map(), jobs: new Map(), zones: new Map(), today: new Map(),
            alarms: [], skew: 0, source: null };
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k ?? ""));
  return e;
};

function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)pam_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { "x-pam-csrf": csrf() } };
  if (body !== undefined) { opts.headers["content-type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) { const e = new Error((data && data.detail) || r.statusText); e.status = r.status; throw e; }
  return data;
}

// ---- session -------------------------------------------------------------------------
async function boot() {
  try { S.me = await api("GET", "/api/me"); }
  catch (e) { if (e.status === 401) return showLogin(); throw e; }
  $("#login").hidden = true; $("#main").hidden = false;
  $("#whoami").textContent = `${S.me.user} (${S.me.role})`;
  document.body.classList.toggle("can-act", S.me.can_act);
  connect();
}

async function showLogin() {
  $("#main").hidden = true; $("#login").hidden = false;
  if (!csrf()) await fetch("/", { credentials: "same-origin" });  // sets the CSRF cookie
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api("POST", "/api/login", { username: f.get("username"), password: f.get("password") });
    $("#login-error").textContent = "";
    ev.target.reset();
    boot();
  } catch (e) { $("#login-error").textContent = e.message; }
});

$("#logout").addEventListener("click", async () => {
  if (S.source) S.source.close();
  await api("POST", "/api/logout");
  showLogin();
});

// ---- live stream ---------------------------------------------------------------------
function connect() {
  if (S.source) S.source.close();
  const src = new EventSource("/api/stream");
  S.source = src;
  setConn("connecting…", "");
  src.addEventListener("open", () => setConn("live", "ok"));
  src.addEventListener("error", async () => {
    setConn("reconnecting…", "bad");
    if (src.readyState === EventSource.CLOSED) {  // refused (logged out?) rather than dropped
      try { await api("GET", "/api/me"); setTimeout(connect, 2000); } catch { showLogin(); }
    }
  });
  src.addEventListener("overview", (ev) => {
    const o = JSON.parse(ev.data);
    S.skew = Date.parse(o.now) - Date.now();
    S.agents = new Map(o.agents.map((a) => [a.agent_id, a]));
    S.jobs = new Map(o.jobs.map((j) => [`${j.zone}/${j.job_id}`, j]));
    S.zones = new Map(o.zones.map((z) => [z.zone, z]));
    S.today = new Map(Object.entries(o.today));
    S.alarms = o.alarms.slice().reverse();
    renderAll();
  });
  src.addEventListener("agent", (ev) => {
    const a = JSON.parse(ev.data);
    const cur = S.agents.get(a.agent_id);
    if (cur && cur.version >= a.version) return;
    if (a.agent_state === "Logout") S.agents.delete(a.agent_id); else S.agents.set(a.agent_id, a);
    renderAgent(a.agent_id); renderTiles(); renderFilters();
  });
  src.addEventListener("today", (ev) => {
    const t = JSON.parse(ev.data);
    S.today.set(t.agent_id, t); renderAgent(t.agent_id);
  });
  src.addEventListener("job", (ev) => {
    const j = JSON.parse(ev.data);
    S.jobs.set(`${j.zone}/${j.job_id}`, j); renderJobs(); renderFilters();
  });
  src.addEventListener("zone", (ev) => {
    const z = JSON.parse(ev.data); S.zones.set(z.zone, z); renderZones();
  });
  src.addEventListener("alarm", (ev) => {
    S.alarms.unshift(JSON.parse(ev.data)); S.alarms.length = Math.min(S.alarms.length, 500);
    renderAlarms();
  });
}

function setConn(text, cls) { const c = $("#conn"); c.textContent = text; c.className = `pill ${cls}`; }

// ---- rendering -----------------------------------------------------------------------
const TALKING = new Set(["Talking", "Hold", "Consult", "ConferenceOwner", "ConferencePassive", "Dialing"]);
const PENDING = new Set(["PendingInbound", "PendingOutbound", "PendingManualInbound",
                         "PendingManualJobMovement", "PendingJobAttach"]);

function stateClass(a) {
  if (a.agent_state === "Unknown") return "st-unknown";
  if (TALKING.has(a.call_state)) return "st-talking";
  if (a.call_state === "Preview" || a.call_state === "Callback") return "st-preview";
  if (a.call_state === "Wrapup") return "st-wrapup";
  if (a.agent_state === "NotReady") return "st-notready";
  if (a.agent_state.startsWith("Pending") || PENDING.has(a.job_state)) return "st-pending";
  return "st-ready";
}

const secs = (a) => Math.max(0, (Date.now() + S.skew - Date.parse(a.since)) / 1000);
function hms(s) {
  s = Math.floor(s || 0);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(x).padStart(2, "0")}`;
}

function shade(tr, a) {  // as VICIdial's real-time report: the longer in state, the darker
  const l = Math.max(38, 90 - (secs(a) / 60) * 6);
  tr.style.setProperty("--l", `${l}%`);
  tr.classList.toggle("dark", l < 55);
}

function matches(a) {
  const z = $("#f-zone").value, st = $("#f-state").value, j = $("#f-job").value;
  const q = $("#f-q").value.trim().toLowerCase();
  if (z && a.zone !== z) return false;
  if (st && ![a.agent_state, a.call_state, a.job_state].includes(st)) return false;
  if (j && a.job_id !== j) return false;
  if (q && !`${a.agent_id} ${a.agent_name || ""}`.toLowerCase().includes(q)) return false;
  return true;
}

function agentRow(a) {
  const t = S.today.get(a.agent_id) || {};
  const td = (v, cls) => el("td", cls ? { class: cls } : {}, v);
  const acts = el("td", { class: "act" });
  if (S.me && S.me.can_act) {
    acts.append(el("button", { type: "button", className: "release", onclick: () => askRelease(a.agent_id) }, "Release"),
                " ",
                el("button", { type: "button", className: "move", onclick: () => askMove(a.agent_id) }, "Move"));
  }
  const tr = el("tr", { "data-agent": a.agent_id, class: stateClass(a) },
    td(a.agent_id), td(a.agent_name || ""), td(a.extension), td(a.zone),
    td((a.skills || []).map((s) => `${s.name}:${s.level}`).join(" ")), td(`${a.time_zone} / ${a.locale}`),
    td(a.agent_state), td(a.call_state), td(a.job_state),
    td(a.reason_code != null ? `${a.reason_code}${a.reason ? " " + a.reason : ""}` : ""),
    td(a.job_id || ""), el("td", { class: "num since" }, hms(secs(a))),
    td(String((a.pending_consults || []).length), "num"), td(String((a.pending_callbacks || []).length), "num"),
    td(String(t.calls ?? 0), "num"), td(hms(t.talk_s), "num"), td(hms(t.wrapup_s), "num"),
    td(hms(t.idle_s), "num"), td(hms(t.not_ready_s), "num"), acts);
  shade(tr, a);
  tr.hidden = !matches(a);
  return tr;
}

function renderAgent(id) {
  const body = $("#agents tbody");
  const old = body.querySelector(`tr[data-agent="${CSS.escape(id)}"]`);
  const a = S.agents.get(id);
  if (!a) { if (old) old.remove(); return; }
  const tr = agentRow(a);
  if (old) old.replaceWith(tr);
  else {
    const next = [...body.children].find((r) => r.dataset.agent > id);
    body.insertBefore(tr, next || null);
  }
  countShown();
}

function renderAgents() {
  const body = $("#agents tbody");
  body.replaceChildren(...[...S.agents.values()].sort((x, y) => x.agent_id < y.agent_id ? -1 : 1).map(agentRow));
  countShown();
}

function countShown() {
  const rows = $("#agents tbody").children;
  const shown = [...rows].filter((r) => !r.hidden).length;
  $("#shown").textContent = `${shown} of ${rows.length} agents`;
}

function renderTiles() {
  const as = [...S.agents.values()];
  const n = (f) => as.filter(f).length;
  const tiles = [
    ["Logged in", as.length], ["Ready", n((a) => a.agent_state === "Ready")],
    ["Talking", n((a) => TALKING.has(a.call_state) && a.call_state !== "Dialing")],
    ["Wrap-up", n((a) => a.call_state === "Wrapup")], ["Not ready", n((a) => a.agent_state === "NotReady")],
    ["Pending", n((a) => a.agent_state.startsWith("Pending") || PENDING.has(a.job_state))],
  ];
  $("#tiles").replaceChildren(...tiles.map(([k, v]) => el("div", { class: "tile", "data-tile": k }, k, el("b", {}, String(v)))));
}

function renderJobs() {
  const rows = [...S.jobs.values()].map((j) => el("tr", { "data-job": j.job_id },
    ...[j.zone, j.job_id, j.action_name, j.campaign_type, j.status, j.priority, j.min_agents,
        j.max_agents, j.licenses, j.assigned, j.calls_connected, j.calls_no_agent].map((v) => el("td", {}, String(v)))));
  $("#jobs tbody").replaceChildren(...rows);
}

function renderZones() {
  const zs = [...S.zones.values()];
  $("#zones").replaceChildren(...zs.map((z) => el("span", { class: `pill ${z.available ? "ok" : "bad"}`, "data-zone": z.zone },
    `${z.zone}: ${z.available ? "available" : "unavailable"}`)));
  const down = zs.filter((z) => !z.available);
  $("#banner").hidden = down.length === 0;
  $("#banner").textContent = down.map((z) => `Zone ${z.zone} is unavailable: ${z.reason || "failover"}. Figures may be stale until it is back.`).join(" ");
}

function renderAlarms() {
  $("#alarms tbody").replaceChildren(...S.alarms.map((r) => el("tr", { class: `sev-${r.severity}`, "data-alarm": r.code },
    ...[new Date(r.received).toLocaleTimeString(), r.zone, r.code, r.severity, r.agent_id || "", r.message].map((v) => el("td", {}, v)))));
  $("#alarm-count").textContent = S.alarms.length ? String(S.alarms.length) : "";
}

function renderFilters() {
  const fill = (sel, values) => {
    const s = $(sel), cur = s.value;
    s.replaceChildren(el("option", { value: "" }, "all"), ...[...values].sort().map((v) => el("option", { value: v }, v)));
    s.value = [...values].includes(cur) ? cur : "";
  };
  const as = [...S.agents.values()];
  fill("#f-zone", new Set([...S.zones.keys()]));
  fill("#f-state", new Set(as.flatMap((a) => [a.agent_state, a.call_state, a.job_state])));
  fill("#f-job", new Set([...S.jobs.values()].map((j) => j.job_id)));
}

function renderAll() { renderFilters(); renderAgents(); renderTiles(); renderJobs(); renderZones(); renderAlarms(); }

for (const id of ["#f-zone", "#f-state", "#f-job", "#f-q"]) {
  $(id).addEventListener("input", () => {
    for (const tr of $("#agents tbody").children) tr.hidden = !matches(S.agents.get(tr.dataset.agent));
    countShown();
  });
}

// The "In state" clock ticks locally; PAM is not asked anything.
setInterval(() => {
  for (const tr of $("#agents tbody").children) {
    const a = S.agents.get(tr.dataset.agent);
    if (!a) continue;
    tr.querySelector(".since").textContent = hms(secs(a));
    shade(tr, a);
  }
}, 1000);

// ---- actions -------------------------------------------------------------------------
function showOutcome(o) {
  const box = $("#outcome");
  box.className = `outcome ${o.result}`;
  box.replaceChildren(el("b", {}, o.result === "accepted" ? "Done. " : "Not done. "), o.summary,
                      o.hint ? el("div", { class: "hint" }, `What to do: ${o.hint}.`) : "");
  box.hidden = false;
  if (o.agent) { const cur = S.agents.get(o.agent.agent_id); if (!cur || cur.version < o.agent.version) { S.agents.set(o.agent.agent_id, o.agent); renderAgent(o.agent.agent_id); } }
}

function dialog(id, agentId, prepare) {
  const d = $(id);
  d.querySelector(".dlg-agent").textContent = agentId;
  prepare(d.querySelector("form"));
  d.showModal();
  return new Promise((resolve) => d.addEventListener("close", () => resolve(d.returnValue === "ok" ? d.querySelector("form") : null), { once: true }));
}

async function askRelease(agentId) {
  const f = await dialog("#dlg-release", agentId, (f) => { f.thrash.value = S.me.thrash_seconds; });
  if (!f) return;
  try { showOutcome(await api("POST", `/api/agents/${encodeURIComponent(agentId)}/release`, { thrash_seconds: Number(f.thrash.value || 0) })); }
  catch (e) { showOutcome({ result: "refused", summary: e.message }); }
}

async function askMove(agentId) {
  const a = S.agents.get(agentId);
  const jobs = [...S.jobs.values()].filter((j) => j.zone === a.zone && j.status === "running" && j.job_id !== a.job_id);
  const f = await dialog("#dlg-move", agentId, (f) => {
    f.job.replaceChildren(...jobs.map((j) => el("option", { value: j.job_id }, `${j.job_id} (${j.action_name})`)));
  });
  if (!f || !f.job.value) return;
  try { showOutcome(await api("POST", `/api/agents/${encodeURIComponent(agentId)}/move`, { job_id: f.job.value })); }
  catch (e) { showOutcome({ result: "refused", summary: e.message }); }
}

// ---- tabs and reports ----------------------------------------------------------------
for (const b of document.querySelectorAll(".tabs button")) {
  b.addEventListener("click", () => {
    for (const x of document.querySelectorAll(".tabs button")) x.classList.toggle("active", x === b);
    for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== `tab-${b.dataset.tab}`;
  });
}

function reportUrl(form, format) {
  const f = new FormData(form), p = new URLSearchParams();
  for (const k of ["agent", "job"]) if (f.get(k)) p.set(k, f.get(k));
  for (const k of ["from", "to"]) if (f.get(k)) p.set(k, new Date(f.get(k)).toISOString());
  if (format) p.set("format", format);
  return `/api/reports/${f.get("kind")}?${p}`;
}

$("#report-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#report-error").textContent = "";
  try {
    const rows = await api("GET", reportUrl(ev.target));
    const cols = rows.length ? Object.keys(rows[0]) : [];
    $("#report thead").replaceChildren(el("tr", {}, ...cols.map((c) => el("th", {}, c))));
    $("#report tbody").replaceChildren(...rows.map((r) => el("tr", {}, ...cols.map((c) => el("td", {}, fmt(c, r[c]))))));
    if (!rows.length) $("#report-error").textContent = "No rows for this selection.";
  } catch (e) { $("#report-error").textContent = e.message; }
});
$("#report-csv").addEventListener("click", (ev) => { ev.preventDefault(); window.location = reportUrl($("#report-form"), "csv"); });
function fmt(key, v) {  // durations as h:mm:ss, ratios with two decimals, codes readable
  if (v == null) return "";
  if (typeof v === "number") return key.endsWith("_s") ? hms(v) : Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (Array.isArray(v)) return v.map((c) => c.code !== undefined ? `${c.code}: ${c.count} (${c.percent}%)` : JSON.stringify(c)).join("; ");
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${hms(x)}`).join("; ");
  if (/^\d{4}-\d\d-\d\dT/.test(v)) return new Date(v).toLocaleString();
  return String(v);
}

boot();
