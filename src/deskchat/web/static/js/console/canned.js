// Canned messages: the picker dialog (search, categories) and "/shortcut" suggestions in the composer.
import { query } from "../lib/api.js";
import { byId, el, replaceChildren } from "../lib/dom.js";

const SLASH_RE = /(^|\s)\/([a-z0-9_-]*)$/i;
const MAX_SUGGESTIONS = 6;

export class Canned {
  /**
   * chatId() -> id of the open chat; insert(text, replaceFrom?) puts text in the composer;
   * notify(text) shows errors.
   */
  constructor({ api, chatId, composer, insert, notify }) {
    this.api = api;
    this.chatId = chatId;
    this.composer = composer;
    this.insert = insert;
    this.notify = notify;
    this.all = [];
    this.loadedAt = 0;
    this.dialog = byId("canned-dialog");
    this.search = byId("canned-search");
    this.category = byId("canned-category");
    this.list = byId("canned-list");
    // The picker's box is "Search" only while the picker is open: otherwise the top bar's Search is the one.
    this.searchLabel = this.dialog.querySelector('label[for="canned-search"]');
    this.searchLabel?.removeAttribute("for");
    this.suggestList = byId("shortcut-list");
    this.suggestions = [];
    this.active = 0;
    this.slashStart = -1;
    this.searchTimer = null;
    this.bindPicker();
    this.bindSuggestions();
  }

  async loadAll(force = false) {
    if (!force && Date.now() - this.loadedAt < 60000) return this.all;
    try {
      const data = await this.api.get(`/canned-messages${query({ limit: 200 })}`);
      this.all = data?.items || [];
      this.loadedAt = Date.now();
    } catch (err) {
      this.notify(err.message);
    }
    return this.all;
  }

  // ---- picker dialog ----

  bindPicker() {
    byId("canned-open").addEventListener("click", () => this.open());
    this.dialog.querySelector(".js-close").addEventListener("click", () => this.dialog.close());
    this.search.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.refreshList(), 150);
    });
    this.category.addEventListener("change", () => this.refreshList());
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        this.list.querySelector("button")?.focus();
      } else if (event.key === "Enter") {
        event.preventDefault();
        this.list.querySelector("button")?.click();
      }
    });
    this.list.addEventListener("keydown", (event) => this.listKeys(event));
    this.dialog.addEventListener("close", () => {
      this.searchLabel?.removeAttribute("for");
      this.composer.focus();
    });
  }

  async open() {
    this.search.value = "";
    this.searchLabel?.setAttribute("for", "canned-search");
    this.dialog.showModal();
    this.search.focus();
    await this.loadAll(true);
    this.fillCategories();
    await this.refreshList();
  }

  fillCategories() {
    const chosen = this.category.value;
    const categories = [...new Set(this.all.map((c) => c.category).filter(Boolean))].sort();
    replaceChildren(
      this.category,
      el("option", { value: "" }, "All categories"),
      categories.map((name) => el("option", { value: name }, name)),
    );
    if (categories.includes(chosen)) this.category.value = chosen;
  }

  async refreshList() {
    let items;
    try {
      const params = { q: this.search.value.trim(), category: this.category.value, limit: 200 };
      items = (await this.api.get(`/canned-messages${query(params)}`))?.items || [];
    } catch (err) {
      this.notify(err.message);
      return;
    }
    if (!items.length) {
      replaceChildren(this.list, el("li", { className: "empty" }, "No canned messages match."));
      return;
    }
    replaceChildren(this.list, items.map((item) => this.renderItem(item)));
  }

  renderItem(item) {
    const button = el(
      "button",
      { type: "button", className: "canned-item" },
      el(
        "span",
        { className: "canned-item__head" },
        el("span", { className: "canned-item__title" }, item.title),
        item.shortcut ? el("code", { className: "canned-item__shortcut" }, `/${item.shortcut}`) : null,
        item.category ? el("span", { className: "pill" }, item.category) : null,
        el("span", { className: "pill" }, item.scope),
      ),
      el("span", { className: "canned-item__body" }, item.body),
    );
    button.addEventListener("click", () => this.choose(item));
    return el("li", {}, button);
  }

  listKeys(event) {
    const buttons = [...this.list.querySelectorAll("button")];
    const index = buttons.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && index < buttons.length - 1) {
      event.preventDefault();
      buttons[index + 1].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (index > 0) buttons[index - 1].focus();
      else this.search.focus();
    }
  }

  async choose(item, replaceFrom = -1) {
    const chatId = this.chatId();
    let body = item.body;
    try {
      if (chatId) body = (await this.api.get(`/canned-messages/${item.id}/render${query({ chat_id: chatId })}`)).body;
    } catch (err) {
      this.notify(`Could not fill in the canned message: ${err.message}`);
    }
    if (this.dialog.open) this.dialog.close();
    if (body) this.insert(body, replaceFrom);
  }

  /** A suggested canned message ({id, title}): filled in for the open chat exactly like one chosen in the picker. */
  insertSuggested(suggestion) {
    // The raw body (placeholders unfilled) is only what goes in should the server not fill it in.
    const known = this.all.find((c) => c.id === suggestion.id);
    return this.choose(known || { ...suggestion, body: "" });
  }

  // ---- "/shortcut" suggestions ----

  bindSuggestions() {
    this.composer.addEventListener("input", () => this.updateSuggestions());
    this.composer.addEventListener("blur", () => setTimeout(() => this.hideSuggestions(), 150));
    this.suggestList.addEventListener("mousedown", (event) => event.preventDefault());
  }

  async updateSuggestions() {
    const caret = this.composer.selectionStart;
    const before = this.composer.value.slice(0, caret);
    const match = before.match(SLASH_RE);
    if (!match) {
      this.hideSuggestions();
      return;
    }
    if (!this.all.length) await this.loadAll();
    else this.loadAll();
    const typed = match[2].toLowerCase();
    this.slashStart = caret - typed.length - 1;
    this.suggestions = this.all
      .filter((c) => c.shortcut && c.shortcut.toLowerCase().startsWith(typed))
      .sort((a, b) => a.shortcut.length - b.shortcut.length)
      .slice(0, MAX_SUGGESTIONS);
    if (!this.suggestions.length) {
      this.hideSuggestions();
      return;
    }
    this.active = 0;
    this.renderSuggestions();
  }

  renderSuggestions() {
    replaceChildren(
      this.suggestList,
      this.suggestions.map((item, i) => {
        const option = el(
          "li",
          { role: "option", id: `shortcut-${item.id}`, className: "shortcut-option", "aria-selected": String(i === this.active) },
          el("code", {}, `/${item.shortcut}`),
          el("span", { className: "shortcut-option__title" }, item.title),
        );
        option.addEventListener("click", () => this.pick(i));
        return option;
      }),
    );
    this.suggestList.hidden = false;
    this.composer.setAttribute("aria-expanded", "true");
    this.composer.setAttribute("aria-activedescendant", `shortcut-${this.suggestions[this.active].id}`);
  }

  hideSuggestions() {
    this.suggestList.hidden = true;
    this.suggestions = [];
    this.composer.setAttribute("aria-expanded", "false");
    this.composer.removeAttribute("aria-activedescendant");
  }

  /** Handle keys in the composer while suggestions are open; true if the key was used. */
  handleKey(event) {
    if (this.suggestList.hidden || !this.suggestions.length) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.suggestions.length) % this.suggestions.length;
      this.renderSuggestions();
    } else if (event.key === "Tab" || (event.key === "Enter" && !event.shiftKey)) {
      this.pick(this.active);
    } else if (event.key === "Escape") {
      this.hideSuggestions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  pick(index) {
    const item = this.suggestions[index];
    const from = this.slashStart;
    this.hideSuggestions();
    if (item) this.choose(item, from);
  }
}
