// Offline messages left while nobody could chat: a dismissible card per `offline_message` frame,
// linking to the request on /requests.
import { byId, el } from "../lib/dom.js";

export class OfflineNotices {
  /** onArrive() is called for each new card (a chime). */
  constructor({ onArrive = () => {} } = {}) {
    this.onArrive = onArrive;
    this.section = byId("offline-messages");
    this.list = byId("offline-list");
    this.cards = new Map();
  }

  /** A request with source offline_message (the frame's data). */
  add(request) {
    if (!request?.id || this.cards.has(request.id)) return;
    const name = request.requester?.name || request.requester?.email || "someone";
    const dismiss = el(
      "button",
      { type: "button", className: "ghost small", "aria-label": `Dismiss offline message #${request.id}` },
      "Dismiss",
    );
    dismiss.addEventListener("click", () => this.dismiss(request.id));
    const card = el(
      "li",
      { className: "alert-card alert-card--offline", dataset: { requestId: request.id } },
      el(
        "p",
        { className: "alert-card__question" },
        `Offline message from ${name}: ${request.subject || ""} — `,
        el("a", { href: `/requests#${request.id}` }, `#${request.id}`),
      ),
      el("div", { className: "alert-card__email muted small" }, request.requester?.email || ""),
      el("div", { className: "alert-card__actions" }, dismiss),
    );
    this.cards.set(request.id, card);
    this.list.prepend(card);
    this.section.hidden = false;
    this.onArrive(request);
  }

  dismiss(requestId) {
    this.cards.get(requestId)?.remove();
    this.cards.delete(requestId);
    this.section.hidden = this.cards.size === 0;
  }
}
