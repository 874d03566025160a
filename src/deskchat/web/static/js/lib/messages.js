// Rendering of timeline messages, shared by the end-user page and the console.
import { el, formatDateTime, formatTime, linkify } from "./dom.js";

/** Is this message written by the person looking at it? */
export function isOwn(message, viewer) {
  const author = message.author || {};
  if (viewer.kind === "requester") return author.kind === "requester";
  return author.kind === "technician" && author.id === viewer.id;
}

/** A <li> for one message: text bubbles, or a centred line for system messages. */
export function renderMessage(message, viewer) {
  const author = message.author || {};
  if (message.kind === "system" || author.kind === "system") {
    return el(
      "li",
      { className: "msg msg--system", dataset: { seq: message.seq, event: message.event || "" } },
      el("span", { className: "msg__system-text" }, linkify(message.body)),
      el("time", { className: "msg__time", dateTime: message.created_at }, formatTime(message.created_at)),
    );
  }
  const own = isOwn(message, viewer);
  const classes = ["msg", `msg--${author.kind || "unknown"}`];
  if (own) classes.push("msg--own");
  return el(
    "li",
    { className: classes.join(" "), dataset: { seq: message.seq } },
    el(
      "div",
      { className: "msg__meta" },
      el("span", { className: "msg__author" }, own ? "You" : author.name || "Unknown"),
      el("time", { className: "msg__time", dateTime: message.created_at }, formatTime(message.created_at)),
    ),
    el("div", { className: "msg__body" }, linkify(message.body)),
  );
}

/** Plain-text transcript of a chat, for "Save transcript". */
export function transcriptText(chat, messages) {
  const lines = [
    `deskchat transcript — chat ${chat.id}`,
    `Subject: ${chat.subject || ""}`,
    `Requester: ${chat.requester?.name || ""} <${chat.requester?.email || ""}>`,
    `Started: ${formatDateTime(chat.created_at)}`,
  ];
  if (chat.request_id) lines.push(`Request: #${chat.request_id}`);
  lines.push("");
  for (const message of messages) {
    const when = formatDateTime(message.created_at);
    const who = message.kind === "system" ? "***" : `${message.author?.name || "Unknown"}:`;
    lines.push(`[${when}] ${who} ${message.body}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Offer a text file for download, built in the browser. */
export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  const link = el("a", { href: url, download: filename, className: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
