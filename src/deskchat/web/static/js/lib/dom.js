// Small DOM helpers. Everything a user typed goes through text nodes, never innerHTML.

/** Create an element: el("button", {className: "x", type: "button"}, "text", child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of a node. */
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** document.getElementById that fails loudly when the page is missing a node. */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node;
}

// http and https URLs only; the scheme must be followed by "//" and a host character.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/** Turn text into a fragment of text nodes and safe <a> links (http/https only). */
export function linkify(text) {
  const fragment = document.createDocumentFragment();
  const source = String(text ?? "");
  let last = 0;
  for (const match of source.matchAll(URL_RE)) {
    let url = match[0];
    const trailing = url.match(TRAILING);
    if (trailing) url = url.slice(0, url.length - trailing[0].length);
    const href = safeHttpUrl(url);
    if (!href) continue;
    if (match.index > last) fragment.append(document.createTextNode(source.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = url;
    fragment.append(link);
    last = match.index + url.length;
  }
  if (last < source.length) fragment.append(document.createTextNode(source.slice(last)));
  return fragment;
}

/**
 * Plain text with some ranges wrapped in <mark>, built from text nodes only (the text is never parsed as markup).
 * `ranges` are [start, end) offsets in characters (code points, as the API counts them, so an emoji is one);
 * out-of-range, empty or overlapping ones are clipped or skipped.
 */
export function highlighted(text, ranges) {
  const chars = Array.from(String(text ?? ""));
  const spans = (Array.isArray(ranges) ? ranges : [])
    .map((r) => [Math.max(0, Math.floor(Number(r?.[0]))), Math.min(chars.length, Math.floor(Number(r?.[1])))])
    .filter(([start, end]) => Number.isFinite(start) && Number.isFinite(end) && end > start)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const fragment = document.createDocumentFragment();
  let at = 0;
  for (const [from, end] of spans) {
    if (end <= at) continue;
    const start = Math.max(from, at);
    if (start > at) fragment.append(document.createTextNode(chars.slice(at, start).join("")));
    const mark = document.createElement("mark");
    mark.textContent = chars.slice(start, end).join("");
    fragment.append(mark);
    at = end;
  }
  if (at < chars.length) fragment.append(document.createTextNode(chars.slice(at).join("")));
  return fragment;
}

function safeHttpUrl(candidate) {
  try {
    const parsed = new URL(candidate);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    if (!parsed.hostname) return null;
    return parsed.href;
  } catch {
    return null;
  }
}

/** "1:23", "12:05", "1:02:03" for a number of seconds. */
export function formatDuration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Milliseconds of an ISO time; times without a zone are UTC (the API speaks UTC). */
export function parseTime(iso) {
  if (!iso) return NaN;
  const text = String(iso);
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) || !text.includes("T") ? text : `${text}Z`;
  return Date.parse(zoned);
}

/** Seconds elapsed since an ISO time (never negative, tolerates clock skew). */
export function secondsSince(iso) {
  const then = parseTime(iso);
  if (Number.isNaN(then)) return 0;
  return Math.max(0, (Date.now() - then) / 1000);
}

/** Local clock time of an ISO timestamp, e.g. "14:05". */
export function formatTime(iso) {
  const date = new Date(parseTime(iso));
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Local date and time of an ISO timestamp. */
export function formatDateTime(iso) {
  const date = new Date(parseTime(iso));
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** Show a message in a polite live region; errors stay until replaced or dismissed. */
export function createNotifier(region) {
  let timer = null;
  return function notify(text, { kind = "error", timeout = kind === "error" ? 8000 : 4000 } = {}) {
    clearTimeout(timer);
    region.dataset.kind = kind;
    region.textContent = text || "";
    region.hidden = !text;
    if (text && timeout) {
      timer = setTimeout(() => {
        region.textContent = "";
        region.hidden = true;
      }, timeout);
    }
  };
}

/** A random id for client_msg_id (crypto.randomUUID needs a secure context). */
export function randomId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
