// The side panel: requester, chat facts, the linked request and its notes.
import { byId, el, formatDateTime, formatTime, linkify, replaceChildren } from "../lib/dom.js";

const STATE_LABELS = { waiting: "Waiting", active: "Active", ended: "Ended", missed: "Missed" };

export class Details {
  /** ctx: {api, current() -> view, groupName(id), techName(id), notify} */
  constructor(ctx) {
    this.ctx = ctx;
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
    byId("fact-id").textContent = String(chat.id);
    byId("fact-group").textContent = this.ctx.groupName(chat.group_id);
    replaceChildren(byId("fact-state"), el("span", { className: `pill pill--${chat.state}` }, STATE_LABELS[chat.state] || chat.state));
    byId("fact-started").textContent = formatDateTime(chat.created_at);
    const names = (chat.participant_ids || []).map((id) => {
      const name = this.ctx.techName(id);
      return id === chat.owner_id ? `${name} (owner)` : name;
    });
    byId("fact-participants").textContent = names.join(", ") || "—";
    this.renderRequest(view);
    this.renderNotes(view);
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
