// The console's message box: Enter sends over the socket (REST when it is down), typing signals,
// drafts, and the ack/error answers of the server.
import { byId, randomId } from "../lib/dom.js";

const TYPING_EVERY_MS = 2500;
const ACK_TIMEOUT_MS = 8000;

export class Composer {
  /**
   * ctx: {api, socket() -> LiveSocket, view(chatId), current() -> view, isOpen(chat), notify,
   *       handleKey(event) -> bool (canned-message suggestions come first)}
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.form = byId("composer");
    this.box = byId("message");
    this.pending = new Map();
    this.lastTypingSent = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.box.addEventListener("keydown", (event) => this.onKey(event));
    this.box.addEventListener("input", () => this.onInput());
  }

  send() {
    const view = this.ctx.current();
    const body = this.box.value.trim();
    if (!view || !body || !this.ctx.isOpen(view.chat)) return;
    const clientMsgId = randomId();
    this.pending.set(clientMsgId, { chatId: view.chat.id, body });
    this.box.value = "";
    view.draft = "";
    this.autoGrow();
    const frame = { type: "send", chat_id: view.chat.id, body, client_msg_id: clientMsgId };
    if (!this.ctx.socket()?.send(frame)) this.sendRest(clientMsgId);
    else setTimeout(() => this.sendRest(clientMsgId), ACK_TIMEOUT_MS);
  }

  /** REST fallback; safe to repeat because the server de-duplicates client_msg_id. */
  async sendRest(clientMsgId) {
    const pending = this.pending.get(clientMsgId);
    if (!pending) return;
    try {
      const message = await this.ctx.api.post(`/chats/${pending.chatId}/messages`, {
        body: pending.body,
        client_msg_id: clientMsgId,
      });
      this.pending.delete(clientMsgId);
      this.ctx.view(pending.chatId)?.timeline.accept(message);
    } catch (err) {
      if (err.status === 0) return; // offline: tried again after the next hello
      this.pending.delete(clientMsgId);
      this.restoreDraft(pending);
      this.ctx.notify(err.message);
    }
  }

  /** After a reconnect: anything not acknowledged goes again (idempotent). */
  resendPending() {
    for (const clientMsgId of this.pending.keys()) this.sendRest(clientMsgId);
  }

  onAck(frame) {
    const pending = this.pending.get(frame.client_msg_id);
    this.pending.delete(frame.client_msg_id);
    const chatId = frame.message?.chat_id ?? pending?.chatId;
    if (frame.message) this.ctx.view(chatId)?.timeline.accept(frame.message);
  }

  /** An error frame; a refused send puts its text back for editing. */
  onError(frame) {
    const problem = frame.error || {};
    let text = problem.detail || problem.title || "Something went wrong.";
    if (problem.type === "rate_limited" && problem.retry_after) text += ` Try again in ${problem.retry_after} s.`;
    const pending = frame.client_msg_id ? this.pending.get(frame.client_msg_id) : null;
    if (pending) {
      this.pending.delete(frame.client_msg_id);
      this.restoreDraft(pending);
    }
    this.ctx.notify(text);
  }

  restoreDraft(pending) {
    const view = this.ctx.view(pending.chatId);
    if (!view) return;
    if (this.ctx.current() === view && !this.box.value) {
      this.box.value = pending.body;
      this.autoGrow();
    } else if (!view.draft) view.draft = pending.body;
  }

  /** Put text at the caret (or over the "/shortcut" typed from replaceFrom), ready to edit. */
  insert(text, replaceFrom = -1) {
    const box = this.box;
    if (box.disabled) return;
    const end = box.selectionEnd;
    const start = replaceFrom >= 0 ? replaceFrom : box.selectionStart;
    box.setRangeText(text, start, end, "end");
    box.focus();
    this.autoGrow();
    const view = this.ctx.current();
    if (view) view.draft = box.value;
  }

  /** Show a chat's draft when switching to it. */
  load(draft) {
    this.box.value = draft || "";
    this.autoGrow();
  }

  autoGrow() {
    this.box.style.height = "auto";
    this.box.style.height = `${Math.min(this.box.scrollHeight + 2, 200)}px`;
  }

  onKey(event) {
    if (this.ctx.handleKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    }
  }

  onInput() {
    this.autoGrow();
    const view = this.ctx.current();
    if (!view) return;
    const text = this.box.value;
    view.draft = text;
    const now = Date.now();
    if (text.trim() && !text.startsWith("/") && now - this.lastTypingSent > TYPING_EVERY_MS) {
      this.lastTypingSent = now;
      this.ctx.socket()?.send({ type: "typing", chat_id: view.chat.id });
    }
  }
}
