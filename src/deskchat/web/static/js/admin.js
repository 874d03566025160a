// Admin pages (/admin): groups, technicians, canned messages, settings, webhooks, monitor, reports.
import { createApi, fetchAll } from "./lib/api.js";
import { signIn } from "./lib/auth.js";
import { hoursSummary, readHours, setupHoursForm, showHours, showHoursErrors } from "./admin/hours.js";
import { Monitor } from "./admin/monitor.js";
import { Reports } from "./admin/reports.js";
import { Webhooks } from "./admin/webhooks.js";
import { byId, createNotifier, el, linkify, replaceChildren } from "./lib/dom.js";

const api = createApi();
const notify = createNotifier(byId("notice"));
const SCOPE_LABELS = { global: "Global", group: "Group", personal: "Personal" };
const SECTIONS = ["groups", "technicians", "canned", "settings", "webhooks", "monitor", "reports"];
const ROUTING_LABELS = { broadcast: "Pick Up", auto_assign: "Auto-assign" };
const data = { groups: [], techs: [], canned: [], me: null };
const editing = { group: null, tech: null, canned: null };
// Sections with something live (auto refresh, a socket): told when they are shown and hidden.
const live = {};

const groupName = (id) => data.groups.find((g) => g.id === id)?.name || `Group ${id}`;

function showSection() {
  const wanted = location.hash.slice(1);
  const name = SECTIONS.includes(wanted) ? wanted : "groups";
  for (const section of SECTIONS) byId(`section-${section}`).hidden = section !== name;
  for (const link of document.querySelectorAll(".admin__nav a")) {
    if (link.dataset.section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [section, module] of Object.entries(live)) module.setShown(section === name);
}

function actionButton(label, name, handler, extra = "") {
  const button = el("button", { type: "button", className: `small ${extra}`, "aria-label": `${label} ${name}` }, label);
  button.addEventListener("click", handler);
  return button;
}

async function guarded(work, success) {
  try {
    await work();
    if (success) notify(success, { kind: "ok" });
    return true;
  } catch (err) {
    const fields = err.problem?.errors ? ` (${Object.entries(err.problem.errors).map(([k, v]) => `${k}: ${v}`).join("; ")})` : "";
    notify(err.message + fields);
    return false;
  }
}

/** A message beside a field (its `<id>-error` box), or none. */
function fieldError(id, text) {
  const input = byId(id);
  const box = byId(`${id}-error`);
  input.setAttribute("aria-invalid", "true");
  box.textContent = String(text);
  box.hidden = false;
}

function clearFieldError(id) {
  byId(id).removeAttribute("aria-invalid");
  const box = byId(`${id}-error`);
  box.textContent = "";
  box.hidden = true;
}

// ---- groups ----

async function loadGroups() {
  data.groups = await fetchAll(api, "/groups");
  const rows = data.groups.map((g) =>
    el(
      "tr",
      {},
      el("td", { className: "strong" }, g.name),
      el("td", {}, g.description || ""),
      el("td", {}, String(g.online_technicians ?? 0)),
      el("td", {}, ROUTING_LABELS[g.routing || "broadcast"] || g.routing),
      el("td", { className: "small" }, hoursSummary(g.business_hours)),
      el(
        "td",
        { className: "row-actions" },
        actionButton("Edit", g.name, () => editGroup(g)),
        actionButton("Delete", g.name, () => deleteGroup(g), "danger-outline"),
      ),
    ),
  );
  replaceChildren(byId("groups-rows"), rows.length ? rows : emptyRow(6, "No groups yet."));
  fillGroupChoices();
  live.reports?.setGroups(data.groups);
}

function emptyRow(span, text) {
  return el("tr", {}, el("td", { colSpan: span, className: "empty" }, text));
}

function editGroup(group) {
  editing.group = group;
  byId("group-form-title").textContent = `Edit group “${group.name}”`;
  byId("group-name").value = group.name;
  byId("group-description").value = group.description || "";
  byId("group-routing").value = group.routing || "broadcast";
  clearFieldError("group-routing");
  showHours(group.business_hours || null);
  byId("group-submit").textContent = "Save Group";
  byId("group-cancel").hidden = false;
  byId("group-name").focus();
}

function resetGroupForm() {
  editing.group = null;
  byId("group-form").reset();
  clearFieldError("group-routing");
  showHours(null);
  byId("group-form-title").textContent = "Add a group";
  byId("group-submit").textContent = "Add Group";
  byId("group-cancel").hidden = true;
}

async function saveGroup(event) {
  event.preventDefault();
  const hours = readHours();
  if (!hours.ok) {
    notify("Please correct the business hours.");
    byId("group-form").querySelector("[aria-invalid=true]")?.focus();
    return;
  }
  const body = { name: byId("group-name").value.trim(), description: byId("group-description").value.trim() };
  const group = editing.group;
  // Business hours and routing go with a PATCH, and only when they changed (a new group: right after
  // creating it).
  const hoursChanged = JSON.stringify(hours.hours) !== JSON.stringify(group?.business_hours ?? null);
  const routing = byId("group-routing").value;
  const routingChanged = routing !== (group?.routing || "broadcast");
  const later = {};
  if (hoursChanged) later.business_hours = hours.hours;
  if (routingChanged) later.routing = routing;
  if (group) Object.assign(body, later);
  clearFieldError("group-routing");
  let saved = group;
  try {
    saved = group ? await api.patch(`/groups/${group.id}`, body) : await api.post("/groups", body);
    if (!group && Object.keys(later).length) saved = await api.patch(`/groups/${saved.id}`, later);
  } catch (err) {
    groupError(err, saved);
    return;
  }
  notify(group ? "Group saved." : "Group added.", { kind: "ok" });
  resetGroupForm();
  await guarded(loadGroups);
}

/** A refused save: field errors of the hours beside their fields, the rest in the notice. */
function groupError(err, saved) {
  const errors = { ...(err.problem?.errors || {}) };
  const routingError = errors.routing;
  delete errors.routing;
  if (routingError) fieldError("group-routing", routingError);
  const { rest, first } = showHoursErrors(errors);
  notify(rest ? `${err.message} (${rest})` : err.message);
  (first || (routingError ? byId("group-routing") : null))?.focus();
  if (saved && !editing.group) {
    // The group was created and only its hours were refused: go on editing it.
    editing.group = saved;
    byId("group-form-title").textContent = `Edit group “${saved.name}”`;
    byId("group-submit").textContent = "Save Group";
    byId("group-cancel").hidden = false;
    guarded(loadGroups);
  }
}

async function deleteGroup(group) {
  if (!window.confirm(`Delete the group “${group.name}”?`)) return;
  if (await guarded(() => api.del(`/groups/${group.id}`), "Group deleted.")) await loadGroups();
}

// ---- technicians ----

const isActive = (tech) => tech.active !== false;

function techStatus(tech) {
  if (!isActive(tech)) return el("span", { className: "pill pill--deactivated" }, "Deactivated");
  return el("span", { className: `pill pill--${tech.online ? "active" : "plain"}` }, tech.online ? "Online" : tech.status);
}

/** Deactivate or Reactivate: the button's name is exactly its text; the row's name cell describes it. */
function activeButton(tech, nameId) {
  const active = isActive(tech);
  if (active && tech.id === data.me?.id) return null; // an admin cannot lock themselves out
  const button = el(
    "button",
    { type: "button", className: active ? "small danger-outline" : "small", "aria-describedby": nameId },
    active ? "Deactivate" : "Reactivate",
  );
  button.addEventListener("click", () => setActive(tech, !active, button));
  return button;
}

async function loadTechs() {
  data.techs = await fetchAll(api, "/technicians");
  const rows = data.techs.map((t) => {
    const nameId = `tech-name-${t.id}`;
    return el(
      "tr",
      { className: isActive(t) ? null : "is-deactivated" },
      el("td", { className: "strong", id: nameId }, t.name),
      el("td", {}, t.email),
      el("td", {}, t.role === "admin" ? "Admin" : "Technician"),
      el("td", {}, (t.group_ids || []).map(groupName).join(", ") || "—"),
      el("td", {}, techStatus(t)),
      el("td", {}, maxChatsText(t)),
      el("td", { className: "row-actions" }, actionButton("Edit", t.name, () => editTech(t)), activeButton(t, nameId)),
    );
  });
  replaceChildren(byId("techs-rows"), rows.length ? rows : emptyRow(7, "No technicians yet."));
}

function maxChatsText(tech) {
  return Number.isInteger(tech.max_chats) ? String(tech.max_chats) : "No limit";
}

async function setActive(tech, active, button) {
  const question = active
    ? `Reactivate ${tech.name}? They can sign in again.`
    : `Deactivate ${tech.name}? They are signed out at once and can no longer sign in.`;
  if (!window.confirm(question)) return;
  button.disabled = true;
  const ok = await guarded(
    () => api.patch(`/technicians/${tech.id}`, { active }),
    active ? `${tech.name} reactivated.` : `${tech.name} deactivated.`,
  );
  // Refresh either way: on failure the list may be stale (someone else changed it meanwhile).
  try {
    await loadTechs();
  } catch (err) {
    if (ok) notify(err.message);
  }
  button.disabled = false;
}

function fillGroupChoices() {
  const checked = new Set(checkedGroups());
  replaceChildren(
    byId("tech-groups"),
    data.groups.length
      ? data.groups.map((g) =>
          el(
            "label",
            { className: "check" },
            el("input", { type: "checkbox", value: String(g.id), checked: checked.has(g.id) }),
            g.name,
          ),
        )
      : el("span", { className: "muted small" }, "Create a group first."),
  );
  const chosen = byId("canned-group").value;
  replaceChildren(byId("canned-group"), data.groups.map((g) => el("option", { value: String(g.id) }, g.name)));
  if (chosen) byId("canned-group").value = chosen;
}

function checkedGroups() {
  return [...byId("tech-groups").querySelectorAll("input:checked")].map((i) => Number(i.value));
}

function editTech(tech) {
  editing.tech = tech;
  byId("tech-form-title").textContent = `Edit ${tech.name}`;
  byId("tech-name").value = tech.name;
  byId("tech-email").value = tech.email;
  byId("tech-password").value = "";
  byId("tech-role").value = tech.role;
  byId("tech-max-chats").value = Number.isInteger(tech.max_chats) ? String(tech.max_chats) : "";
  clearFieldError("tech-max-chats");
  for (const input of byId("tech-groups").querySelectorAll("input")) {
    input.checked = (tech.group_ids || []).includes(Number(input.value));
  }
  byId("tech-submit").textContent = "Save Technician";
  byId("tech-cancel").hidden = false;
  byId("tech-name").focus();
}

function resetTechForm() {
  editing.tech = null;
  byId("tech-form").reset();
  clearFieldError("tech-max-chats");
  byId("tech-form-title").textContent = "Add a technician";
  byId("tech-submit").textContent = "Add Technician";
  byId("tech-cancel").hidden = true;
}

async function saveTech(event) {
  event.preventDefault();
  const body = {
    name: byId("tech-name").value.trim(),
    email: byId("tech-email").value.trim(),
    role: byId("tech-role").value,
    group_ids: checkedGroups(),
  };
  const password = byId("tech-password").value;
  if (password) body.password = password;
  const tech = editing.tech;
  if (!tech && !password) {
    notify("A new technician needs a password.");
    byId("tech-password").focus();
    return;
  }
  clearFieldError("tech-max-chats");
  const max = readMaxChats();
  if (!max.ok) {
    fieldError("tech-max-chats", "Enter a whole number from 1 to 50, or leave it empty for no limit.");
    byId("tech-max-chats").focus();
    return;
  }
  // Sent only when it says something: a new technician with a limit, or a limit that changed.
  if (tech ? max.value !== (tech.max_chats ?? null) : max.value !== null) body.max_chats = max.value;
  let ok = true;
  try {
    await (tech ? api.patch(`/technicians/${tech.id}`, body) : api.post("/technicians", body));
    notify(tech ? "Technician saved." : "Technician added.", { kind: "ok" });
  } catch (err) {
    ok = false;
    const errors = { ...(err.problem?.errors || {}) };
    const maxError = Object.entries(errors).find(([field]) => /max_chats/.test(field));
    if (maxError) {
      fieldError("tech-max-chats", maxError[1]);
      delete errors[maxError[0]];
      byId("tech-max-chats").focus();
    }
    const rest = Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join("; ");
    notify(rest ? `${err.message} (${rest})` : err.message);
  }
  if (ok) {
    resetTechForm();
    await loadTechs();
  }
}

/** The Max chats field: {ok, value: null (no limit) | 1..50}. */
function readMaxChats() {
  const text = byId("tech-max-chats").value.trim();
  if (!text) return { ok: true, value: null };
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 50) return { ok: false, value: null };
  return { ok: true, value };
}

// ---- canned messages ----

async function loadCanned() {
  const params = { q: byId("canned-filter-q").value.trim(), category: byId("canned-filter-category").value };
  data.canned = await fetchAll(api, "/canned-messages", params);
  const rows = data.canned.map((c) =>
    el(
      "tr",
      {},
      el("td", { className: "strong" }, c.title),
      el("td", {}, c.shortcut ? el("code", {}, `/${c.shortcut}`) : "—"),
      el("td", {}, c.category || "—"),
      el("td", {}, c.scope === "group" ? `Group: ${groupName(c.group_id)}` : SCOPE_LABELS[c.scope] || c.scope),
      el("td", { className: "cell-text" }, linkify(c.body)),
      el(
        "td",
        { className: "row-actions" },
        actionButton("Edit", c.title, () => editCanned(c)),
        actionButton("Delete", c.title, () => deleteCanned(c), "danger-outline"),
      ),
    ),
  );
  replaceChildren(byId("canned-rows"), rows.length ? rows : emptyRow(6, "No canned messages."));
  if (!params.q && !params.category) fillCategories();
}

function fillCategories() {
  const categories = [...new Set(data.canned.map((c) => c.category).filter(Boolean))].sort();
  const select = byId("canned-filter-category");
  const chosen = select.value;
  replaceChildren(select, el("option", { value: "" }, "All categories"), categories.map((c) => el("option", { value: c }, c)));
  select.value = chosen;
  replaceChildren(byId("canned-categories"), categories.map((c) => el("option", { value: c })));
}

function scopeChanged() {
  byId("canned-group-field").hidden = byId("canned-scope").value !== "group";
}

function editCanned(item) {
  editing.canned = item;
  byId("canned-form-title").textContent = `Edit “${item.title}”`;
  byId("canned-title-field").value = item.title;
  byId("canned-shortcut").value = item.shortcut || "";
  byId("canned-body").value = item.body;
  byId("canned-category-field").value = item.category || "";
  byId("canned-scope").value = item.scope;
  if (item.group_id) byId("canned-group").value = String(item.group_id);
  scopeChanged();
  byId("canned-submit").textContent = "Save Canned Message";
  byId("canned-cancel").hidden = false;
  byId("canned-title-field").focus();
}

function resetCannedForm() {
  editing.canned = null;
  byId("canned-form").reset();
  scopeChanged();
  byId("canned-form-title").textContent = "Add a canned message";
  byId("canned-submit").textContent = "Add Canned Message";
  byId("canned-cancel").hidden = true;
}

async function saveCanned(event) {
  event.preventDefault();
  const scope = byId("canned-scope").value;
  const body = {
    title: byId("canned-title-field").value.trim(),
    body: byId("canned-body").value,
    shortcut: byId("canned-shortcut").value.trim() || null,
    scope,
    group_id: scope === "group" ? Number(byId("canned-group").value) || null : null,
  };
  const category = byId("canned-category-field").value.trim();
  if (category) body.category = category;
  const item = editing.canned;
  const ok = await guarded(
    () => (item ? api.patch(`/canned-messages/${item.id}`, body) : api.post("/canned-messages", body)),
    item ? "Canned message saved." : "Canned message added.",
  );
  if (ok) {
    resetCannedForm();
    await loadCanned();
  }
}

async function deleteCanned(item) {
  if (!window.confirm(`Delete the canned message “${item.title}”?`)) return;
  if (await guarded(() => api.del(`/canned-messages/${item.id}`), "Canned message deleted.")) await loadCanned();
}

// ---- settings ----

async function loadSettings() {
  const settings = await api.get("/settings");
  byId("missed-conversion").checked = Boolean(settings.missed_chat_conversion);
  byId("missed-timeout").value = String(settings.missed_chat_timeout_seconds);
  byId("forward-email").value = settings.request_forward_email || "";
}

async function saveSettings(event) {
  event.preventDefault();
  clearFieldError("forward-email");
  const forward = byId("forward-email");
  if (forward.value.trim() && !forward.checkValidity()) {
    fieldError("forward-email", "Enter an email address, or leave it empty to forward nothing.");
    forward.focus();
    return;
  }
  const body = {
    missed_chat_conversion: byId("missed-conversion").checked,
    missed_chat_timeout_seconds: Number(byId("missed-timeout").value),
    request_forward_email: forward.value.trim() || null,
  };
  try {
    const saved = await api.patch("/settings", body);
    if (saved) byId("forward-email").value = saved.request_forward_email || "";
    notify("Settings saved.", { kind: "ok" });
  } catch (err) {
    const errors = { ...(err.problem?.errors || {}) };
    if (errors.request_forward_email) {
      fieldError("forward-email", errors.request_forward_email);
      delete errors.request_forward_email;
      forward.focus();
    }
    const rest = Object.entries(errors).map(([k, v]) => `${k}: ${v}`).join("; ");
    notify(rest ? `${err.message} (${rest})` : err.message);
  }
}

// ---- boot ----

function bind() {
  window.addEventListener("hashchange", showSection);
  byId("group-form").addEventListener("submit", saveGroup);
  byId("group-cancel").addEventListener("click", resetGroupForm);
  setupHoursForm();
  byId("tech-form").addEventListener("submit", saveTech);
  byId("tech-cancel").addEventListener("click", resetTechForm);
  byId("canned-form").addEventListener("submit", saveCanned);
  byId("canned-cancel").addEventListener("click", resetCannedForm);
  byId("canned-scope").addEventListener("change", scopeChanged);
  byId("canned-filter-category").addEventListener("change", () => guarded(loadCanned));
  let timer;
  byId("canned-filter-q").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => guarded(loadCanned), 200);
  });
  byId("settings-form").addEventListener("submit", saveSettings);
}

async function boot() {
  data.me = await signIn(api);
  if (data.me.role !== "admin") {
    byId("not-admin").hidden = false;
    return;
  }
  const body = byId("admin-body");
  body.append(byId("admin-sections").content.cloneNode(true));
  body.hidden = false;
  live.webhooks = new Webhooks({ api, notify });
  live.monitor = new Monitor({ api, notify });
  live.reports = new Reports({ api, notify });
  bind();
  showSection();
  await guarded(loadGroups);
  await Promise.all([guarded(loadTechs), guarded(loadCanned), guarded(loadSettings), guarded(() => live.webhooks.load())]);
}

boot();
