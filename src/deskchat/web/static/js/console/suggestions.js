// Suggestions beside an active chat we are in (GET /chats/{id}/suggestions): canned messages that one click puts
// into Message (filled in for the chat, like the Canned Messages picker) and similar earlier requests. Asked when
// the chat is opened and again, debounced, whenever the requester writes.
import { byId, el, replaceChildren } from "../lib/dom.js";

const DEBOUNCE_MS = 500;
const GONE = new Set([403, 404, 409]); // not ours (any more), or no longer active

export class Suggestions {
  /** ctx: {api, current() -> view, canUse(chat) -> bool (active and we are in it), insertCanned({id, title})} */
  constructor(ctx) {
    this.ctx = ctx;
    this.section = byId("suggestions-section");
    this.empty = byId("suggestions-empty");
    this.cannedBox = byId("suggested-canned-box");
    this.cannedList = byId("suggested-canned");
    this.requestsBox = byId("suggested-requests-box");
    this.requestsList = byId("suggested-requests");
    this.found = new Map(); // chat id -> {canned, requests}
    this.asked = new Map(); // chat id -> number of the latest question (older answers are dropped)
    this.timers = new Map();
    this.shownKey = null;
  }

  /** Show what we have for the open chat (after any change of it); hidden unless we can act in it. */
  render(view) {
    const chatId = view?.chat.id;
    if (!view || !this.ctx.canUse(view.chat)) {
      this.section.hidden = true;
      this.shownKey = null;
      return;
    }
    this.section.hidden = false;
    const data = this.found.get(chatId) || { canned: [], requests: [] };
    // render() follows every chat frame: rebuild only when there is something new (keeps focus on a button).
    if (this.shownKey?.chatId === chatId && this.shownKey.data === data) return;
    this.shownKey = { chatId, data };
    const canned = data.canned.filter((c) => Number.isInteger(c?.id));
    const requests = data.requests.filter((r) => Number.isInteger(r?.id));
    replaceChildren(this.cannedList, canned.map((item) => this.cannedItem(item)));
    replaceChildren(this.requestsList, requests.map((item) => requestItem(item)));
    this.cannedBox.hidden = !canned.length;
    this.requestsBox.hidden = !requests.length;
    this.empty.hidden = Boolean(canned.length || requests.length);
  }

  /** The chat was opened: ask now. */
  opened(view) {
    if (!view || !this.ctx.canUse(view.chat)) return;
    clearTimeout(this.timers.get(view.chat.id));
    this.load(view.chat.id);
  }

  /** The requester wrote in a chat: ask again shortly (a burst of messages is one question). */
  requesterWrote(chatId) {
    clearTimeout(this.timers.get(chatId));
    this.timers.set(
      chatId,
      setTimeout(() => {
        this.timers.delete(chatId);
        const view = this.ctx.current();
        // Another chat's suggestions are asked when it is opened.
        if (view?.chat.id === chatId && this.ctx.canUse(view.chat)) this.load(chatId);
      }, DEBOUNCE_MS),
    );
  }

  async load(chatId) {
    const number = (this.asked.get(chatId) || 0) + 1;
    this.asked.set(chatId, number);
    let data;
    try {
      data = await this.ctx.api.get(`/chats/${chatId}/suggestions`);
    } catch (err) {
      if (this.asked.get(chatId) !== number) return;
      if (GONE.has(err.status)) this.found.delete(chatId);
      else return; // a hiccup: keep what is shown, the next message asks again
      data = null;
    }
    if (this.asked.get(chatId) !== number) return;
    if (data) {
      this.found.set(chatId, {
        canned: Array.isArray(data.canned) ? data.canned : [],
        requests: Array.isArray(data.requests) ? data.requests : [],
      });
    }
    const view = this.ctx.current();
    if (view?.chat.id === chatId) this.render(view);
  }

  /** A chat we no longer hold. */
  forget(chatId) {
    clearTimeout(this.timers.get(chatId));
    this.timers.delete(chatId);
    this.found.delete(chatId);
    this.asked.delete(chatId);
  }

  cannedItem(item) {
    const button = el("button", { type: "button", className: "suggestion", title: "Put this into Message" }, item.title || `Canned message ${item.id}`);
    button.addEventListener("click", () => this.ctx.insertCanned({ id: item.id, title: item.title }));
    return el("li", {}, button);
  }
}

function requestItem(request) {
  return el(
    "li",
    { className: "suggestion-request" },
    el(
      "a",
      { className: "suggestion-request__link", href: `/requests#${request.id}` },
      el("span", { className: "history__id" }, `#${request.id}`),
      " ",
      el("span", {}, request.subject || ""),
    ),
    request.status ? el("span", { className: `pill pill--${request.status}` }, request.status) : null,
  );
}
