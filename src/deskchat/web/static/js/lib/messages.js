// Rendering of timeline messages, shared by the end-user page and the console.
import { humanSize, renderAttachment } from "./attachments.js";
import { el, formatDateTime, formatTime, linkify } from "./dom.js";

/** Is this message written by the person looking at it? */
export function isOwn(message, viewer) {
  const author = message.author || {};
  if (viewer.kind === "requester") return author.kind === "requester";
  return author.kind === "technician" && author.id === viewer.id;
}

/**
 * A <li> for one message: text bubbles, attachments (thumbnail or file chip, bytes from `files`, an
 * AttachmentStore), or a centred line for system messages.
 */
export function renderMessage(message, viewer, { files = null, onError } = {}) {
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
  const attachment = message.kind === "attachment" ? message.attachment || { filename: message.body } : null;
  if (attachment) classes.push("msg--attachment");
  return el(
    "li",
    { className: classes.join(" "), dataset: { seq: message.seq } },
    el(
      "div",
      { className: "msg__meta" },
      el("span", { className: "msg__author" }, own ? "You" : author.name || "Unknown"),
      el("time", { className: "msg__time", dateTime: message.created_at }, formatTime(message.created_at)),
    ),
    attachment
      ? el("div", { className: "msg__body msg__body--file" }, renderAttachment(attachment, files, { onError }))
      : el("div", { className: "msg__body" }, linkify(message.body)),
  );
}

/** How an attachment reads in a transcript: its filename and size. */
function attachmentText(message) {
  const attachment = message.attachment || {};
  const name = attachment.filename || message.body || "file";
  return `[attachment: ${name}${attachment.size !== undefined ? `, ${humanSize(attachment.size)}` : ""}]`;
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
    const text = message.kind === "attachment" ? attachmentText(message) : message.body;
    lines.push(`[${when}] ${who} ${text}`);
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

/** "Rated 4/5: “Quick and friendly”" for a chat's rating ({score, comment}). */
export function ratingText(rating) {
  const comment = String(rating?.comment || "").trim();
  return `Rated ${rating?.score}/5${comment ? `: “${comment}”` : ""}`;
}
