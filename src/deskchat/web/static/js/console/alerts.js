// Waiting-chat alerts: cards with a live timer, a chime, a browser notification, the tab title count.
import { byId, el, formatDuration, linkify, replaceChildren, secondsSince } from "../lib/dom.js";

const BASE_TITLE = "deskchat console";

export class Alerts {
  /** onPickUp(chat) is called when the technician presses Pick Up. */
  constructor({ groupName, onPickUp }) {
    this.groupName = groupName;
    this.onPickUp = onPickUp;
    this.cards = new Map();
    this.list = byId("alerts");
    this.empty = byId("alerts-empty");
    this.count = byId("waiting-count");
    this.audio = null;
    setInterval(() => this.tick(), 1000);
    const unlock = () => this.unlockAudio();
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
  }

  /** Show or refresh a waiting chat. `fresh` = a live alert (chime + notification). */
  add(chat, { fresh = false } = {}) {
    if (chat.state !== "waiting") {
      this.remove(chat.id);
      return;
    }
    const existing = this.cards.get(chat.id);
    if (existing) {
      existing.chat = chat;
      return;
    }
    const card = this.renderCard(chat);
    this.cards.set(chat.id, { chat, card });
    this.insertSorted(chat, card);
    this.update();
    if (fresh) {
      this.chime();
      this.notify(chat);
    }
  }

  remove(chatId) {
    const entry = this.cards.get(chatId);
    if (!entry) return;
    entry.card.remove();
    this.cards.delete(chatId);
    this.update();
  }

  /** Replace all cards with the server's current waiting list (after load or reconnect). */
  reconcile(chats) {
    const ids = new Set(chats.map((c) => c.id));
    for (const id of [...this.cards.keys()]) if (!ids.has(id)) this.remove(id);
    for (const chat of chats) this.add(chat);
  }

  renderCard(chat) {
    const waited = el("span", { className: "alert-card__waited" }, `waiting ${formatDuration(secondsSince(chat.created_at))}`);
    const pick = el("button", { type: "button", className: "primary small" }, "Pick Up");
    pick.addEventListener("click", async () => {
      pick.disabled = true;
      try {
        await this.onPickUp(chat);
      } finally {
        pick.disabled = false;
      }
    });
    const requester = chat.requester || {};
    const card = el(
      "li",
      { className: "alert-card", dataset: { chatId: chat.id } },
      el(
        "div",
        { className: "alert-card__top" },
        el("span", { className: "pill pill--waiting" }, this.groupName(chat.group_id)),
        waited,
      ),
      el("div", { className: "alert-card__who" }, requester.name || "Unknown requester"),
      el("div", { className: "alert-card__email muted small" }, requester.email || ""),
      el("p", { className: "alert-card__question" }, linkify(chat.subject || "")),
      el("div", { className: "alert-card__actions" }, pick),
    );
    card.waitedNode = waited;
    return card;
  }

  insertSorted(chat, card) {
    const created = Date.parse(chat.created_at);
    for (const node of this.list.children) {
      const other = this.cards.get(Number(node.dataset.chatId));
      if (other && Date.parse(other.chat.created_at) > created) {
        this.list.insertBefore(card, node);
        return;
      }
    }
    this.list.append(card);
  }

  tick() {
    for (const { chat, card } of this.cards.values()) {
      card.waitedNode.textContent = `waiting ${formatDuration(secondsSince(chat.created_at))}`;
    }
  }

  update() {
    const n = this.cards.size;
    this.count.textContent = String(n);
    this.count.classList.toggle("badge--muted", n === 0);
    this.empty.hidden = n > 0;
    document.title = n ? `(${n}) ${BASE_TITLE}` : BASE_TITLE;
  }

  /** The oldest waiting chat's Pick Up button (for keyboard focus after a notification). */
  focusFirst() {
    this.list.querySelector("button")?.focus();
  }

  unlockAudio() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.audio) {
      try {
        this.audio = new Ctx();
      } catch {
        return;
      }
    }
    if (this.audio.state === "suspended") this.audio.resume().catch(() => {});
  }

  /** Two soft notes; quiet enough for an office. */
  chime() {
    const ctx = this.audio;
    if (!ctx || ctx.state !== "running") return;
    const start = ctx.currentTime;
    [660, 880].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const t = start + i * 0.16;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.12, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.32);
    });
  }

  notify(chat) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    if (document.visibilityState === "visible" && document.hasFocus()) return;
    try {
      const requester = chat.requester?.name || "Someone";
      const note = new Notification(`New chat in ${this.groupName(chat.group_id)}`, {
        body: `${requester}: ${chat.subject || ""}`.slice(0, 180),
        tag: `deskchat-chat-${chat.id}`,
      });
      note.onclick = () => {
        window.focus();
        this.focusFirst();
        note.close();
      };
    } catch {
      /* some browsers only allow notifications from a service worker */
    }
  }

  /** A requester wrote while the console is in the background: chime and notify (one per chat). */
  messageArrived(chat, message) {
    this.chime();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const note = new Notification(`${chat.requester?.name || "Requester"} wrote`, {
        body: String(message.body || "").slice(0, 180),
        tag: `deskchat-message-${chat.id}`,
      });
      note.onclick = () => {
        window.focus();
        note.close();
      };
    } catch {
      /* notifications unavailable */
    }
  }

  /** Show the "Enable notifications" button while permission has not been asked. */
  setupPermissionButton() {
    const button = byId("enable-notifications");
    if (!("Notification" in window) || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", () => this.askPermission());
  }

  askPermission() {
    if (!("Notification" in window) || Notification.permission !== "default") return;
    Notification.requestPermission().then(() => {
      byId("enable-notifications").hidden = Notification.permission === "default";
    });
  }

  clear() {
    replaceChildren(this.list);
    this.cards.clear();
    this.update();
  }
}
