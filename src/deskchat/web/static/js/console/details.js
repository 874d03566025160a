// The side panel: requester (a verified one's previous chats and requests), chat facts, the linked
// request and its notes.
import { byId, el, formatDateTime, formatTime, linkify, replaceChildren } from "../lib/dom.js";
import { ratingText } from "../lib/messages.js";

const STATE_LABELS = { waiting: "Waiting", active: "Active", ended: "Ended", missed: "Missed" };
const HISTORY_FRESH_MS = 30000; // a verified requester's history is asked again after this

export class Details {
  /** ctx: {api, current() -> view, groupName(id), techName(id), notify, openChat(id)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.history = new Map(); // requester id -> {at, data: {chats, requests} | null, failed, loading}
    this.historyShown = null; // what the history lists show now
    this.panel = byId("details");
    this.notes = byId("notes");
    this.noteForm = byId("note-form");
    this.noteField = byId("note");
    this.noteForm.addEventListener("submit", (e) => this.addNote(e));
    this.noteField.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.noteForm.requestSubmit();
      }
    });
    byId("notes-button").addEventListener("click", () => this.focusNotes());
  }

  render(view) {
    this.panel.hidden = !view;
    if (!view) return;
    const chat = view.chat;
    byId("requester-name").textContent = chat.requester?.name || "";
    byId("requester-email").textContent = chat.requester?.email || "";
    byId("requester-verified").hidden = !chat.requester?.verified;
    this.renderHistory(view);
    byId("fact-id").textContent = String(chat.id);
    byId("fact-group").textContent = this.ctx.groupName(chat.group_id);
    replaceChildren(byId("fact-state"), el("span", { className: `pill pill--${chat.state}` }, STATE_LABELS[chat.state] || chat.state));
    byId("fact-started").textContent = formatDateTime(chat.created_at);
    const names = (chat.participant_ids || []).map((id) => {
      const name = this.ctx.techName(id);
      return id === chat.owner_id ? `${name} (owner)` : name;
    });
    byId("fact-participants").textContent = names.join(", ") || "—";
    // The requester's rating, once they gave one (a chat frame brings it).
    const rating = chat.rating;
    byId("fact-rating-label").hidden = !rating;
    byId("fact-rating").hidden = !rating;
    byId("fact-rating").textContent = rating ? ratingText(rating) : "";
    this.renderRequest(view);
    this.renderNotes(view);
  }

  /** Previous chats and Requests of a verified requester (GET /requesters/{id}); nothing for others. */
  renderHistory(view) {
    const box = byId("requester-history");
    const requester = view.chat.requester;
    box.hidden = !(requester?.verified && requester.id);
    if (box.hidden) {
      this.historyShown = null;
      return;
    }
    let entry = this.history.get(requester.id);
    if (!entry || (!entry.loading && Date.now() - entry.at > HISTORY_FRESH_MS)) entry = this.loadHistory(requester.id);
    // render() runs on every chat frame: rebuild the lists only when there is something new (keeps focus).
    const shown = `${view.chat.id}:${requester.id}:${entry.at}:${entry.loading}:${entry.failed}`;
    if (shown === this.historyShown) return;
    this.historyShown = shown;
    const data = entry.data;
    const placeholder = (text) => el("li", { className: "empty" }, text);
    const waitText = entry.failed ? "Could not load." : "Loading…";
    const chats = data ? data.chats.filter((c) => c.id !== view.chat.id) : null;
    replaceChildren(
      byId("history-chats"),
      chats ? (chats.length ? chats.map((c) => this.historyChat(c)) : placeholder("No previous chats.")) : placeholder(waitText),
    );
    const requests = data ? data.requests : null;
    replaceChildren(
      byId("history-requests"),
      requests ? (requests.length ? requests.map((r) => historyRequest(r)) : placeholder("No requests.")) : placeholder(waitText),
    );
  }

  loadHistory(requesterId) {
    const previous = this.history.get(requesterId);
    const entry = { at: Date.now(), data: previous?.data || null, failed: false, loading: true };
    this.history.set(requesterId, entry);
    this.ctx.api
      .get(`/requesters/${requesterId}`)
      .then((found) => {
        entry.data = { chats: found?.chats || [], requests: found?.requests || [] };
      })
      .catch((err) => {
        // 404: nothing of theirs this technician may read (beyond the chat open here).
        if (err.status === 404) entry.data = { chats: [], requests: [] };
        else entry.failed = true;
      })
      .finally(() => {
        entry.loading = false;
        entry.at = Date.now();
        const view = this.ctx.current();
        if (view && view.chat.requester?.id === requesterId) this.renderHistory(view);
      });
    return entry;
  }

  historyChat(chat) {
    const button = el(
      "button",
      { type: "button", className: "history__item" },
      el("span", { className: "history__subject" }, chat.subject || `Chat ${chat.id}`),
      el("span", { className: `pill pill--${chat.state}` }, STATE_LABELS[chat.state] || chat.state),
      el("time", { className: "muted small", dateTime: chat.created_at }, formatDateTime(chat.created_at)),
    );
    button.addEventListener("click", () => this.ctx.openChat?.(chat.id));
    return el("li", {}, button);
  }

  renderRequest(view) {
    const box = byId("request-info");
    const request = view.request;
    if (!view.chat.request_id) {
      replaceChildren(box, el("p", { className: "muted small" }, "No request yet."));
      return;
    }
    const id = view.chat.request_id;
    replaceChildren(
      box,
      el(
        "div",
        { className: "request-card" },
        el("a", { className: "request-card__id", href: `/requests#${id}` }, `#${id}`),
        request ? el("span", { className: `pill pill--${request.status}` }, request.status) : null,
        el("div", { className: "request-card__subject" }, request ? request.subject : "Loading…"),
      ),
    );
  }

  renderNotes(view) {
    const linked = Boolean(view.chat.request_id);
    byId("notes-hint").hidden = linked;
    this.noteForm.hidden = !linked;
    const notes = [...(view.notes || [])].sort((a, b) => a.id - b.id);
    replaceChildren(
      this.notes,
      notes.map((note) =>
        el(
          "li",
          { className: "note" },
          el(
            "div",
            { className: "note__meta muted small" },
            el("strong", {}, note.author?.name || "Technician"),
            " · ",
            el("time", { dateTime: note.created_at }, formatTime(note.created_at)),
          ),
          el("div", { className: "note__body" }, linkify(note.body)),
        ),
      ),
    );
    if (linked && !notes.length) this.notes.append(el("li", { className: "empty" }, "No notes yet."));
  }

  /** Load the request and its notes for a view (after conversion or when opening the chat). */
  async loadRequest(view) {
    const id = view.chat.request_id;
    if (!id) return;
    try {
      const [request, notes] = await Promise.all([
        view.request?.id === id ? view.request : this.ctx.api.get(`/requests/${id}`),
        this.ctx.api.get(`/requests/${id}/notes`),
      ]);
      view.request = request;
      this.mergeNotes(view, notes?.items || []);
    } catch (err) {
      this.ctx.notify(err.message);
    }
    if (this.ctx.current() === view) this.render(view);
  }

  mergeNotes(view, notes) {
    const byId_ = new Map((view.notes || []).map((n) => [n.id, n]));
    for (const note of notes) byId_.set(note.id, note);
    view.notes = [...byId_.values()];
  }

  /** A live `note` frame. */
  addLiveNote(view, note) {
    this.mergeNotes(view, [note]);
    if (this.ctx.current() === view) this.renderNotes(view);
  }

  async addNote(event) {
    event.preventDefault();
    const view = this.ctx.current();
    const body = this.noteField.value.trim();
    if (!view || !body) {
      this.noteField.focus();
      return;
    }
    const button = this.noteForm.querySelector("button");
    button.disabled = true;
    try {
      const note = await this.ctx.api.post(`/chats/${view.chat.id}/notes`, { body });
      this.noteField.value = "";
      this.addLiveNote(view, note);
    } catch (err) {
      this.ctx.notify(err.message);
    } finally {
      button.disabled = false;
    }
  }

  focusNotes() {
    const section = byId("notes-section");
    section.scrollIntoView({ block: "nearest" });
    if (!this.noteForm.hidden) this.noteField.focus();
    else section.focus();
  }
}

function historyRequest(request) {
  return el(
    "li",
    {},
    el(
      "a",
      { className: "history__item", href: `/requests#${request.id}` },
      el("span", { className: "history__id" }, `#${request.id}`),
      el("span", { className: `pill pill--${request.status}` }, request.status),
      el("time", { className: "muted small", dateTime: request.created_at }, formatDateTime(request.created_at)),
      el("span", { className: "history__subject" }, request.subject || ""),
    ),
  );
}
