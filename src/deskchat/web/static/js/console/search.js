// Search in the top bar: Enter asks GET /search, the results open in a panel under the box (↓ / ↑ move,
// Enter opens, Escape closes) with the matched words in <mark> (text nodes only); "/" outside a text
// field and Ctrl+K / Cmd+K come here from anywhere in the console.
import { query } from "../lib/api.js";
import { byId, el, highlighted, replaceChildren } from "../lib/dom.js";

const LIMIT = 20;
const NOT_TEXT = new Set(["button", "checkbox", "color", "file", "hidden", "image", "radio", "range", "reset", "submit"]);
const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");

/** Focus is somewhere typing a "/" means a "/" (the message box, a note, a dialog's field). */
function isTextField(node) {
  if (!(node instanceof Element)) return false;
  if (node.isContentEditable) return true;
  if (node.tagName === "TEXTAREA") return true;
  return node.tagName === "INPUT" && !NOT_TEXT.has((node.type || "text").toLowerCase());
}

const anyDialogOpen = () => Boolean(document.querySelector("dialog[open]"));

export class Search {
  /** ctx: {api, openChat(id) -> Promise (opens a chat in this page)} */
  constructor(ctx) {
    this.ctx = ctx;
    this.form = byId("search-form");
    this.input = byId("search");
    this.label = byId("search-label");
    this.panel = byId("search-panel");
    this.status = byId("search-status");
    this.list = byId("search-results");
    this.announce = byId("search-announce");
    this.seq = 0;
    byId("search-key-k").textContent = IS_MAC ? "⌘K" : "Ctrl+K";
    byId("search-hint").textContent =
      `Press / or ${IS_MAC ? "Command+K" : "Ctrl+K"} to come here. Enter searches requests and chats; ` +
      "Down arrow moves into the results, Escape closes them.";
    this.bind();
    this.watchDialogs();
  }

  bind() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
    this.input.addEventListener("input", () => {
      if (!this.input.value.trim()) this.close();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" && this.links().length) {
        event.preventDefault();
        this.open();
        this.links()[0].focus();
      }
    });
    this.list.addEventListener("keydown", (event) => this.listKeys(event));
    this.list.addEventListener("click", (event) => this.activate(event));
    this.form.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        event.preventDefault();
        event.stopPropagation();
        this.close();
        this.input.focus();
      }
    });
    // Clicking or tabbing anywhere else closes the panel.
    document.addEventListener("pointerdown", (event) => {
      if (!this.panel.hidden && !this.form.contains(event.target)) this.close();
    });
    this.form.addEventListener("focusout", (event) => {
      if (event.relatedTarget && !this.form.contains(event.relatedTarget)) this.close();
    });
    document.addEventListener("keydown", (event) => this.shortcut(event));
  }

  /** "/" (not while typing) and Ctrl+K / Cmd+K focus the box. */
  shortcut(event) {
    if (event.defaultPrevented || event.isComposing || anyDialogOpen()) return;
    const modifier = event.ctrlKey || event.metaKey;
    const isK = modifier && !event.altKey && !event.shiftKey && String(event.key || "").toLowerCase() === "k";
    const isSlash = event.key === "/" && !modifier && !event.altKey && !isTextField(event.target);
    if (!isK && !isSlash) return;
    event.preventDefault();
    this.focus();
  }

  focus() {
    this.input.focus();
    this.input.select();
    if (this.input.value.trim() && this.links().length) this.open();
  }

  /**
   * While a modal dialog is open the page behind it is inert: its own fields (the canned picker's Search)
   * are then the only ones of their name, so this box gives up its label until the dialog closes.
   */
  watchDialogs() {
    const sync = () => {
      if (anyDialogOpen()) {
        this.label.removeAttribute("for");
        this.close();
      } else {
        this.label.setAttribute("for", "search");
      }
    };
    const observer = new MutationObserver(sync);
    for (const dialog of document.querySelectorAll("dialog")) {
      observer.observe(dialog, { attributes: true, attributeFilter: ["open"] });
    }
    sync();
  }

  async run() {
    const q = this.input.value.trim();
    if (!q) {
      // An empty query is 422 on the server: nothing to ask.
      this.close();
      return;
    }
    const seq = ++this.seq;
    replaceChildren(this.list);
    this.status.textContent = "Searching…";
    this.open();
    let items;
    try {
      items = (await this.ctx.api.get(`/search${query({ q, limit: LIMIT })}`))?.items || [];
    } catch (err) {
      if (seq !== this.seq) return;
      this.say(err.message);
      return;
    }
    if (seq !== this.seq) return; // a newer search overtook this one
    const results = items.map((item) => this.renderItem(item)).filter(Boolean);
    replaceChildren(this.list, results);
    this.say(
      results.length
        ? `${results.length} ${results.length === 1 ? "result" : "results"} for “${q}”`
        : `No results for “${q}”`,
    );
  }

  say(text) {
    this.status.textContent = text;
    this.announce.textContent = text;
  }

  renderItem(item) {
    const id = Number(item?.id);
    if (!Number.isInteger(id) || id < 1 || (item.kind !== "request" && item.kind !== "chat")) return null;
    const isRequest = item.kind === "request";
    const link = el(
      "a",
      {
        className: "search-result",
        href: isRequest ? `/requests#${id}` : `/console?chat=${id}`,
        dataset: { kind: item.kind, id: String(id) },
      },
      el(
        "span",
        { className: "search-result__head" },
        el("span", { className: `search-result__kind search-result__kind--${item.kind}` }, isRequest ? `Request #${id}` : `Chat ${id}`),
        el("span", { className: "search-result__title" }, item.title || (isRequest ? "(no subject)" : "")),
      ),
      item.snippet ? el("span", { className: "search-result__snippet" }, highlighted(item.snippet, item.highlights)) : null,
    );
    return el("li", {}, link);
  }

  links() {
    return [...this.list.querySelectorAll("a.search-result")];
  }

  listKeys(event) {
    const links = this.links();
    const index = links.indexOf(document.activeElement);
    if (index < 0) return;
    if (event.key === " ") {
      // Space opens a result too (it would scroll the panel otherwise), like Enter.
      event.preventDefault();
      links[index].click();
      return;
    }
    let next = null;
    if (event.key === "ArrowDown") next = links[Math.min(index + 1, links.length - 1)];
    else if (event.key === "ArrowUp") next = index > 0 ? links[index - 1] : this.input;
    else if (event.key === "Home") next = links[0];
    else if (event.key === "End") next = links[links.length - 1];
    if (!next) return;
    event.preventDefault();
    next.focus();
  }

  /** A result was chosen (click, Enter): a request opens on /requests, a chat here in the console. */
  activate(event) {
    const link = event.target.closest("a.search-result");
    if (!link) return;
    const plain = event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey;
    if (!plain) return; // a new tab or window: the link's own address
    this.close();
    if (link.dataset.kind !== "chat") return; // /requests#<id> opens that request
    event.preventDefault();
    this.ctx.openChat(Number(link.dataset.id));
  }

  open() {
    this.panel.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.panel.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
  }
}
