// Incident requests (/requests): filtered list, detail with description and notes, status changes.
import { createApi, query } from "./lib/api.js";
import { signIn } from "./lib/auth.js";
import { byId, createNotifier, el, formatDateTime, linkify, replaceChildren } from "./lib/dom.js";
import { ratingText } from "./lib/messages.js";

const api = createApi();
const notify = createNotifier(byId("notice"));
const SOURCE_LABELS = { live_chat: "Live chat", missed_chat: "Missed chat", offline_message: "Offline message" };
const state = { items: [], cursor: null, selected: null, groups: new Map(), listToken: 0 };

const ui = {
  source: byId("filter-source"),
  status: byId("filter-status"),
  list: byId("request-list"),
  more: byId("load-more"),
  empty: byId("detail-empty"),
  detail: byId("detail"),
  notes: byId("detail-notes"),
  noteForm: byId("note-form"),
  note: byId("note"),
  detailStatus: byId("detail-status"),
};

async function loadList({ append = false } = {}) {
  const params = { source: ui.source.value, status: ui.status.value, limit: 50, cursor: append ? state.cursor : null };
  const token = ++state.listToken;
  try {
    const data = await api.get(`/requests${query(params)}`);
    if (token !== state.listToken) return; // the filters changed meanwhile
    state.items = append ? [...state.items, ...(data?.items || [])] : data?.items || [];
    state.cursor = data?.next_cursor || null;
  } catch (err) {
    notify(err.message);
    return;
  }
  renderList();
}

function renderList() {
  ui.more.hidden = !state.cursor;
  if (!state.items.length) {
    replaceChildren(ui.list, el("li", { className: "empty" }, "No requests match these filters."));
    return;
  }
  replaceChildren(
    ui.list,
    state.items.map((r) => {
      const button = el(
        "button",
        { type: "button", className: "request-item", "aria-current": state.selected?.id === r.id ? "true" : null },
        el(
          "span",
          { className: "request-item__top" },
          el("strong", {}, `#${r.id}`),
          el("span", { className: `pill pill--${r.status}` }, r.status),
          el("span", { className: "pill" }, SOURCE_LABELS[r.source] || r.source),
        ),
        el("span", { className: "request-item__subject" }, r.subject),
        el("span", { className: "muted small" }, `${r.requester?.name || ""} · ${formatDateTime(r.created_at)}`),
      );
      button.addEventListener("click", () => {
        location.hash = String(r.id);
      });
      return el("li", {}, button);
    }),
  );
}

async function openFromHash() {
  const id = Number(location.hash.slice(1));
  if (!id) {
    state.selected = null;
    ui.detail.hidden = true;
    ui.empty.hidden = false;
    renderList();
    return;
  }
  try {
    const [request, notes] = await Promise.all([api.get(`/requests/${id}`), api.get(`/requests/${id}/notes`)]);
    state.selected = request;
    renderDetail(request, notes?.items || []);
  } catch (err) {
    notify(err.message);
  }
  renderList();
}

const CHAT_LINK = Symbol("chat link");

function renderDetail(request, notes) {
  ui.empty.hidden = true;
  ui.detail.hidden = false;
  byId("detail-id").textContent = `#${request.id}`;
  byId("detail-subject").textContent = request.subject;
  const group = request.group_id ? state.groups.get(request.group_id)?.name : null;
  const meta = [
    SOURCE_LABELS[request.source] || request.source,
    `${request.requester?.name || ""} <${request.requester?.email || ""}>`,
    group ? `Group: ${group}` : null,
    request.chat_id ? CHAT_LINK : null,
    formatDateTime(request.created_at),
  ].filter(Boolean);
  // The chat behind the request opens in the console (its transcript, and its whispers for technicians).
  const parts = meta.map((part) =>
    part === CHAT_LINK ? el("a", { href: `/console?chat=${request.chat_id}` }, `Chat ${request.chat_id}`) : part,
  );
  replaceChildren(byId("detail-meta"), parts.flatMap((part, i) => (i ? [" · ", part] : [part])));
  ui.detailStatus.value = request.status;
  // How the requester rated the chat behind this request (request.chat_rating), if they did.
  const rating = request.chat_rating;
  byId("detail-rating-section").hidden = !rating;
  byId("detail-rating").textContent = rating ? ratingText(rating) : "";
  replaceChildren(byId("detail-description"), linkify(request.description || ""));
  renderNotes(notes);
}

function renderNotes(notes) {
  const sorted = [...notes].sort((a, b) => a.id - b.id);
  replaceChildren(
    ui.notes,
    sorted.length
      ? sorted.map((n) =>
          el(
            "li",
            { className: "note", dataset: { id: n.id } },
            el("div", { className: "note__meta muted small" }, el("strong", {}, n.author?.name || ""), ` · ${formatDateTime(n.created_at)}`),
            el("div", { className: "note__body" }, linkify(n.body)),
          ),
        )
      : el("li", { className: "empty" }, "No notes yet."),
  );
}

async function changeStatus() {
  const request = state.selected;
  if (!request) return;
  try {
    const updated = await api.patch(`/requests/${request.id}`, { status: ui.detailStatus.value });
    state.selected = updated;
    state.items = state.items.map((r) => (r.id === updated.id ? updated : r));
    renderList();
    notify(`Request #${updated.id} is now ${updated.status}.`, { kind: "ok" });
  } catch (err) {
    ui.detailStatus.value = request.status;
    notify(err.message);
  }
}

async function addNote(event) {
  event.preventDefault();
  const request = state.selected;
  const body = ui.note.value.trim();
  if (!request || !body) {
    ui.note.focus();
    return;
  }
  try {
    await api.post(`/requests/${request.id}/notes`, { body });
    ui.note.value = "";
    const notes = await api.get(`/requests/${request.id}/notes`);
    renderNotes(notes?.items || []);
  } catch (err) {
    notify(err.message);
  }
}

async function boot() {
  await signIn(api);
  ui.source.addEventListener("change", () => loadList());
  ui.status.addEventListener("change", () => loadList());
  ui.more.addEventListener("click", () => loadList({ append: true }));
  ui.detailStatus.addEventListener("change", changeStatus);
  ui.noteForm.addEventListener("submit", addNote);
  window.addEventListener("hashchange", openFromHash);
  try {
    const groups = await api.get("/groups?limit=200");
    state.groups = new Map((groups?.items || []).map((g) => [g.id, g]));
  } catch {
    /* group names are a nicety */
  }
  await loadList();
  await openFromHash();
}

boot();
