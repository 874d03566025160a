// Whispers: private messages between technicians inside a chat's timeline. They have no seq: each sits
// among the messages by created_at, in a dashed box that says only technicians see it. Loaded when a
// chat is opened (GET /chats/{id}/whispers, oldest first), then live from `whisper` frames; sent with
// More Actions → Whisper (field Whisper, Send Whisper). Never on the requester's page, never in a transcript.
import { byId, el, formatTime, linkify, parseTime } from "../lib/dom.js";

/** Milliseconds of a timeline item's created_at (items without one sort last). */
function timeOf(iso) {
  const ms = parseTime(iso);
  return Number.isNaN(ms) ? Number.MAX_SAFE_INTEGER : ms;
}

/**
 * Put a timeline item in its place: a message after every other message (seq order stays) but before
 * whispers written later than it; a whisper after everything written at or before it.
 */
export function placeInTimeline(list, item, iso) {
  const at = timeOf(iso);
  item.dataset.at = String(at);
  const whisper = item.classList.contains("msg--whisper");
  let before = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    const later = Number(node.dataset.at) > at;
    if (!later) break;
    if (!whisper && !node.classList.contains("msg--whisper")) break; // messages never pass messages
    before = node;
  }
  list.insertBefore(item, before);
  return item;
}

export class Whispers {
  /**
   * ctx: {api, me(), current() -> view, view(id) -> view, notify, canWhisper(chat),
   *       shown(view, item): scroll when it is the open chat}
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.dialog = byId("whisper-dialog");
    this.form = byId("whisper-form");
    this.field = byId("whisper");
    this.submit = byId("whisper-submit");
    this.dialog.querySelector(".js-close").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => this.send(event));
    this.field.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
  }

  /** A view's whisper state (made on first use). */
  of(view) {
    if (!view.whispers) view.whispers = { ids: new Set(), loaded: false, loading: null };
    return view.whispers;
  }

  /** Earlier whispers of a chat (on opening it, and after a reconnect); ones already shown are skipped. */
  load(view) {
    const entry = this.of(view);
    if (entry.loading) return entry.loading;
    entry.loading = (async () => {
      try {
        const data = await this.ctx.api.get(`/chats/${view.chat.id}/whispers`);
        for (const whisper of data?.items || []) this.add(view, whisper, { live: false });
        entry.loaded = true;
      } catch (err) {
        // 403/404: not ours to read (or a server without whispers); the chat itself still shows.
        entry.loaded = err.status === 403 || err.status === 404;
      } finally {
        entry.loading = null;
      }
    })();
    return entry.loading;
  }

  /** A `whisper` frame: shown in that chat if it is open here; others are ignored. */
  accept(chatId, whisper) {
    const view = this.ctx.view(chatId ?? whisper?.chat_id);
    if (view && whisper) this.add(view, whisper, { live: true });
  }

  add(view, whisper, { live }) {
    const entry = this.of(view);
    if (whisper.id === undefined || entry.ids.has(whisper.id)) return;
    entry.ids.add(whisper.id);
    const item = placeInTimeline(view.list, this.render(whisper), whisper.created_at);
    this.ctx.shown(view, item, { live, own: this.isOwn(whisper) });
  }

  isOwn(whisper) {
    return whisper.author?.kind === "technician" && whisper.author.id === this.ctx.me().id;
  }

  render(whisper) {
    const who = this.isOwn(whisper) ? "you" : whisper.author?.name || "a technician";
    return el(
      "li",
      { className: "msg msg--whisper", dataset: { whisperId: String(whisper.id) } },
      el(
        "div",
        { className: "whisper__meta" },
        el("span", { className: "whisper__label" }, `Whisper from ${who} — only technicians see this`),
        el("time", { className: "msg__time", dateTime: whisper.created_at }, formatTime(whisper.created_at)),
      ),
      el("div", { className: "whisper__body" }, linkify(whisper.body)),
    );
  }

  // ---- sending ----

  /** A refusal shown in the dialog (the page's notice would sit behind it). */
  error(text) {
    const box = byId("whisper-error");
    box.textContent = text || "";
    box.hidden = !text;
  }

  open() {
    const view = this.ctx.current();
    if (!view || !this.ctx.canWhisper(view.chat)) return;
    this.error("");
    this.dialog.showModal();
    this.field.focus();
  }

  async send(event) {
    event.preventDefault();
    const view = this.ctx.current();
    const body = this.field.value.trim();
    if (!view) return;
    if (!body) {
      this.error("Write the whisper first.");
      this.field.focus();
      return;
    }
    this.submit.disabled = true;
    try {
      const whisper = await this.ctx.api.post(`/chats/${view.chat.id}/whispers`, { body });
      this.field.value = "";
      this.dialog.close();
      if (whisper) this.add(view, whisper, { live: true });
    } catch (err) {
      this.error(err.message);
    } finally {
      this.submit.disabled = false;
    }
  }
}
