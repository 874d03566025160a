// Attachments, shared by the end-user page and the console: upload with progress (XMLHttpRequest),
// thumbnails and file chips, bytes fetched with the page's own credentials and shown as blob: URLs.
import { API, ApiError, cookie } from "./api.js";
import { el, randomId, replaceChildren } from "./dom.js";

// What the server serves inline (decided from the content); everything else is a download.
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** Is this attachment shown as a thumbnail? */
export const isImage = (attachment) => IMAGE_TYPES.has(String(attachment?.content_type || "").toLowerCase());

/** "812 B", "12 KB", "3.4 MB". */
export function humanSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  const mb = n / (1024 * 1024);
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** Auth headers exactly like lib/api.js: a bearer token, else the cookie plus X-CSRF-Token on unsafe calls. */
function authHeaders(token, unsafe) {
  if (token) return { Authorization: `Bearer ${token}` };
  return unsafe ? { "X-CSRF-Token": cookie("csrf_token") } : {};
}

function problemOf(text, status) {
  try {
    const data = JSON.parse(text);
    if (data && typeof data === "object") return data;
  } catch {
    /* not JSON */
  }
  return { detail: status === 413 ? "The file is too large." : text ? text.slice(0, 300) : `Upload failed (${status})` };
}

/**
 * POST /chats/{chatId}/attachments as multipart/form-data (field `file`, `client_msg_id`).
 * onProgress(fraction 0..1) while the bytes go up. Resolves with the message, rejects with ApiError.
 */
export function uploadFile({ chatId, file, token = null, clientMsgId = randomId(), onProgress = () => {} }) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name || "file");
    form.append("client_msg_id", clientMsgId);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/chats/${chatId}/attachments`);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(authHeaders(token, true))) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      const problem = problemOf(xhr.responseText, xhr.status);
      if (xhr.status >= 200 && xhr.status < 300) resolve(problem);
      else reject(new ApiError(problem, xhr.status));
    });
    const failed = () =>
      reject(new ApiError({ type: "network", detail: "The upload did not reach the server. Check your connection." }, 0));
    xhr.addEventListener("error", failed);
    xhr.addEventListener("abort", failed);
    xhr.send(form);
  });
}

/** Files of a paste or drop (DataTransfer), in order. */
export function filesOf(transfer) {
  if (!transfer) return [];
  const files = [...(transfer.files || [])];
  if (files.length) return files;
  return [...(transfer.items || [])]
    .filter((item) => item.kind === "file")
    .map((item) => item.getAsFile())
    .filter(Boolean);
}

/**
 * The bytes of a conversation's attachments as object URLs, fetched once each with the page's
 * credentials; clear() revokes them all (when the conversation view goes away).
 */
export class AttachmentStore {
  /** token() -> the bearer token, or null for cookie authentication. */
  constructor({ token = () => null } = {}) {
    this.token = token;
    this.urls = new Map(); // attachment id -> Promise<object URL>
  }

  /** An object URL of the attachment's bytes (cached). */
  url(attachment) {
    const id = attachment.id;
    if (!this.urls.has(id)) {
      const promise = this.fetchBlob(id).then((blob) => URL.createObjectURL(blob));
      promise.catch(() => this.urls.delete(id));
      this.urls.set(id, promise);
    }
    return this.urls.get(id);
  }

  async fetchBlob(id) {
    const token = this.token();
    let response;
    try {
      response = await fetch(`${API}/attachments/${id}`, {
        headers: authHeaders(token, false),
        credentials: token ? "omit" : "same-origin",
      });
    } catch (err) {
      throw new ApiError({ type: "network", detail: "The server cannot be reached. Check your connection." }, 0);
    }
    if (!response.ok) throw new ApiError(problemOf(await response.text(), response.status), response.status);
    return response.blob();
  }

  /** Save the file under its own name (fetched as a blob, then an <a download> click). */
  async download(attachment) {
    const url = await this.url(attachment);
    const link = el("a", { href: url, download: attachment.filename || "file", className: "visually-hidden" });
    document.body.append(link);
    link.click();
    link.remove();
  }

  clear() {
    for (const promise of this.urls.values()) promise.then((url) => URL.revokeObjectURL(url), () => {});
    this.urls.clear();
  }
}

/**
 * The body of an attachment message: a thumbnail (images; a click opens the full image) or a file
 * chip with name, size and Download. onError(text) reports a failed fetch.
 */
export function renderAttachment(attachment, store, { onError = () => {} } = {}) {
  const name = attachment?.filename || "file";
  if (!store || !attachment?.id) return el("span", { className: "file-chip__name" }, name);
  if (isImage(attachment)) return renderThumb(attachment, store, onError);
  return fileChip(attachment, store, onError);
}

function renderThumb(attachment, store, onError) {
  const name = attachment.filename || "image";
  const img = el("img", { className: "file-thumb__img", alt: name, decoding: "async" });
  const link = el(
    "a",
    { className: "file-thumb is-loading", href: "#", target: "_blank", rel: "noopener", title: `Open ${name}` },
    img,
  );
  const caption = el(
    "span",
    { className: "file-thumb__caption" },
    el("span", { className: "file-chip__name" }, name),
    el("span", { className: "file-chip__size" }, humanSize(attachment.size)),
  );
  const box = el("span", { className: "file-thumb-box", dataset: { attachmentId: attachment.id } }, link, caption);
  link.addEventListener("click", (event) => {
    if (link.classList.contains("is-loading")) event.preventDefault();
  });
  store.url(attachment).then(
    (url) => {
      img.src = url;
      link.href = url;
      link.classList.remove("is-loading");
    },
    (err) => {
      replaceChildren(box, fileChip(attachment, store, onError));
      onError(err.message);
    },
  );
  return box;
}

/** "PDF", "LOG", or "FILE": the chip's little badge. */
function extensionOf(name) {
  const match = String(name).match(/\.([A-Za-z0-9]{1,4})$/);
  return match ? match[1].toUpperCase() : "FILE";
}

function fileChip(attachment, store, onError) {
  const name = attachment.filename || "file";
  const button = el(
    "button",
    { type: "button", className: "small file-chip__download", "aria-label": `Download ${name}` },
    "Download",
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await store.download(attachment);
    } catch (err) {
      onError(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return el(
    "span",
    { className: "file-chip", dataset: { attachmentId: attachment.id } },
    el("span", { className: "file-chip__icon", "aria-hidden": "true" }, extensionOf(name)),
    el("span", { className: "file-chip__name" }, name),
    el("span", { className: "file-chip__size" }, humanSize(attachment.size)),
    button,
  );
}

/**
 * Attach File, paste and drop for one composer: uploads each file with a progress row in `list`.
 * ctx: {token() -> bearer or null, chatId() -> id or null, canUpload() -> bool,
 *       onMessage(message) (the answer, for the timeline of message.chat_id), notify(text)}
 */
export class Uploader {
  constructor(ctx, { button, input, pasteTarget, dropTarget, list }) {
    this.ctx = ctx;
    this.list = list;
    this.dropTarget = dropTarget;
    button.addEventListener("click", () => {
      if (this.ready()) input.click();
    });
    input.addEventListener("change", () => {
      const files = [...(input.files || [])];
      input.value = ""; // the same file again later is a new choice
      this.add(files);
    });
    pasteTarget.addEventListener("paste", (event) => this.onPaste(event));
    this.bindDrop(dropTarget);
  }

  ready() {
    if (this.ctx.chatId() && this.ctx.canUpload()) return true;
    this.ctx.notify("Files can be sent only while the chat is open.");
    return false;
  }

  /** A pasted image (no text on the clipboard) is attached; pasted text stays text. */
  onPaste(event) {
    const data = event.clipboardData;
    const files = filesOf(data);
    if (!files.length || (data.getData && data.getData("text/plain"))) return;
    event.preventDefault();
    this.add(files);
  }

  bindDrop(target) {
    let depth = 0;
    const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
    target.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      target.classList.add("is-dropping");
    });
    target.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = this.ctx.canUpload() ? "copy" : "none";
    });
    target.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) target.classList.remove("is-dropping");
    });
    target.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      target.classList.remove("is-dropping");
      this.add(filesOf(event.dataTransfer));
    });
    // A file dropped beside the drop zone would make the browser leave the page to show the file.
    window.addEventListener("dragover", (event) => {
      if (!hasFiles(event) || target.contains(event.target)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "none";
    });
    window.addEventListener("drop", (event) => {
      if (hasFiles(event) && !target.contains(event.target)) event.preventDefault();
    });
  }

  /** Upload files one after another (the timeline keeps their order). */
  async add(files) {
    if (!files.length || !this.ready()) return;
    const chatId = this.ctx.chatId();
    for (const file of files) await this.uploadOne(chatId, file);
  }

  async uploadOne(chatId, file) {
    const name = file.name || "file";
    const bar = el("progress", { max: 100, value: 0, "aria-label": `Uploading ${name}` });
    const percent = el("span", { className: "upload__percent" }, "0%");
    const row = el(
      "li",
      { className: "upload" },
      el("span", { className: "upload__name" }, name),
      bar,
      percent,
    );
    this.list.append(row);
    this.list.hidden = false;
    try {
      const message = await uploadFile({
        chatId,
        file,
        token: this.ctx.token(),
        onProgress: (fraction) => {
          const value = Math.round(fraction * 100);
          bar.value = value;
          percent.textContent = `${value}%`;
        },
      });
      row.remove();
      this.ctx.onMessage(message);
    } catch (err) {
      row.remove();
      this.ctx.notify(`${name}: ${err.message}`);
    } finally {
      this.list.hidden = !this.list.children.length;
    }
  }

  /** Forget the progress rows (another chat is shown). Uploads still running finish on the server. */
  reset() {
    replaceChildren(this.list);
    this.list.hidden = true;
  }
}
