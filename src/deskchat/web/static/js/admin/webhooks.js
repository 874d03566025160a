// Webhooks on /admin: the list (URL, events, description, signing secret with Copy), the form that adds
// or edits one (URL, Description, one checkbox per event), Send test event, Delete, and Recent
// deliveries, refreshed every few seconds while they are shown.
import { fetchAll, query } from "../lib/api.js";
import { byId, el, formatDateTime, replaceChildren } from "../lib/dom.js";

const REFRESH_MS = 3000;
const STATUS_LABELS = { pending: "pending", delivered: "delivered", failed: "failed" };

export class Webhooks {
  /** ctx: {api, notify} */
  constructor(ctx) {
    this.ctx = ctx;
    this.items = [];
    this.open = new Map(); // webhook id -> {box, loading} of the deliveries shown
    this.editing = null;
    this.shown = false;
    this.timer = null;
    this.form = byId("webhook-form");
    this.list = byId("webhooks-list");
    this.form.addEventListener("submit", (event) => this.save(event));
    byId("webhook-cancel").addEventListener("click", () => this.resetForm());
  }

  /** The section is shown or hidden: deliveries refresh only while it shows. */
  setShown(shown) {
    this.shown = shown;
    clearInterval(this.timer);
    this.timer = null;
    if (shown) {
      this.refreshDeliveries();
      this.timer = setInterval(() => this.refreshDeliveries(), REFRESH_MS);
    }
  }

  async load() {
    this.items = await fetchAll(this.ctx.api, "/webhooks");
    this.render();
  }

  render() {
    const known = new Set(this.items.map((h) => h.id));
    for (const id of [...this.open.keys()]) if (!known.has(id)) this.open.delete(id);
    replaceChildren(
      this.list,
      this.items.length
        ? this.items.map((hook) => this.card(hook))
        : el("p", { className: "card empty webhooks__empty" }, "No webhooks yet. Add one below."),
    );
    for (const id of this.open.keys()) this.loadDeliveries(id);
  }

  card(hook) {
    const titleId = `webhook-${hook.id}-url`;
    const secretId = `webhook-${hook.id}-secret`;
    const deliveriesId = `webhook-${hook.id}-deliveries`;
    const described = { "aria-describedby": titleId };
    const button = (label, handler, className = "small") => {
      const node = el("button", { type: "button", className, ...described }, label);
      node.addEventListener("click", () => handler(node));
      return node;
    };
    const secret = el("input", {
      id: secretId,
      type: "text",
      className: "webhook__secret-value",
      readOnly: true,
      value: hook.secret || "",
      spellcheck: "false",
      autocomplete: "off",
    });
    const shown = this.open.has(hook.id);
    const toggle = el(
      "button",
      { type: "button", className: "small", "aria-expanded": String(shown), "aria-controls": deliveriesId, ...described },
      "Recent deliveries",
    );
    const box = el("div", { id: deliveriesId, className: "webhook__deliveries", hidden: !shown });
    toggle.addEventListener("click", () => this.toggleDeliveries(hook.id, toggle, box));
    if (shown) this.open.set(hook.id, { box, loading: false });
    return el(
      "article",
      { className: "card webhook", "aria-labelledby": titleId, dataset: { webhookId: String(hook.id) } },
      el(
        "div",
        { className: "webhook__head" },
        el("h2", { id: titleId, className: "webhook__url" }, hook.url),
        el(
          "div",
          { className: "row-actions" },
          button("Send test event", (node) => this.sendTest(hook, node)),
          button("Edit", () => this.edit(hook)),
          button("Delete", () => this.remove(hook), "small danger-outline"),
        ),
      ),
      hook.description ? el("p", { className: "webhook__description" }, hook.description) : null,
      el(
        "ul",
        { className: "webhook__events", "aria-label": "Events" },
        (hook.events || []).map((name) => el("li", {}, el("code", {}, name))),
      ),
      el(
        "div",
        { className: "webhook__secret" },
        el("label", { for: secretId }, "Signing secret"),
        secret,
        button("Copy", (node) => this.copy(secret, node)),
      ),
      el("div", { className: "webhook__more" }, toggle),
      box,
    );
  }

  // ---- the form ----

  readEvents() {
    return [...this.form.querySelectorAll("input[name=webhook-event]:checked")].map((i) => i.value);
  }

  clearErrors() {
    for (const id of ["webhook-url", "webhook-description", "webhook-events"]) {
      const box = byId(`${id}-error`);
      box.textContent = "";
      box.hidden = true;
    }
    byId("webhook-url").removeAttribute("aria-invalid");
    byId("webhook-description").removeAttribute("aria-invalid");
  }

  fieldError(id, text) {
    const box = byId(`${id}-error`);
    box.textContent = String(text);
    box.hidden = false;
    document.getElementById(id)?.setAttribute("aria-invalid", "true");
  }

  /** Field errors of a 422 beside their fields; the rest as text. */
  showErrors(errors) {
    const rest = [];
    let first = null;
    for (const [field, text] of Object.entries(errors || {})) {
      const target = /url/.test(field) ? "webhook-url" : /events/.test(field) ? "webhook-events" : /description/.test(field) ? "webhook-description" : null;
      if (target) {
        this.fieldError(target, text);
        first = first || target;
      } else rest.push(`${field}: ${text}`);
    }
    if (first === "webhook-events") this.form.querySelector("input[name=webhook-event]")?.focus();
    else if (first) byId(first).focus();
    return rest.join("; ");
  }

  async save(event) {
    event.preventDefault();
    this.clearErrors();
    const url = byId("webhook-url").value.trim();
    const events = this.readEvents();
    let invalid = false;
    if (!url) {
      this.fieldError("webhook-url", "Enter the URL deskchat should POST to.");
      invalid = true;
    } else if (!/^https?:\/\//i.test(url)) {
      this.fieldError("webhook-url", "The URL must start with http:// or https://.");
      invalid = true;
    }
    if (!events.length) {
      this.fieldError("webhook-events", "Choose at least one event.");
      invalid = true;
    }
    if (invalid) {
      const first = this.form.querySelector("[aria-invalid=true]") || this.form.querySelector("input[name=webhook-event]");
      first?.focus();
      return;
    }
    const body = { url, events, description: byId("webhook-description").value.trim() };
    const hook = this.editing;
    const button = byId("webhook-submit");
    button.disabled = true;
    try {
      const saved = hook ? await this.ctx.api.patch(`/webhooks/${hook.id}`, body) : await this.ctx.api.post("/webhooks", body);
      this.ctx.notify(hook ? "Webhook saved." : "Webhook added. Its signing secret is shown in the list.", { kind: "ok" });
      this.resetForm();
      await this.load();
      if (!hook && saved?.id) document.querySelector(`[data-webhook-id="${saved.id}"] .webhook__secret-value`)?.focus();
    } catch (err) {
      const rest = this.showErrors(err.problem?.errors);
      this.ctx.notify(rest ? `${err.message} (${rest})` : err.message);
    } finally {
      button.disabled = false;
    }
  }

  edit(hook) {
    this.editing = hook;
    this.clearErrors();
    byId("webhook-form-title").textContent = "Edit webhook";
    byId("webhook-url").value = hook.url;
    byId("webhook-description").value = hook.description || "";
    const wanted = new Set(hook.events || []);
    for (const input of this.form.querySelectorAll("input[name=webhook-event]")) input.checked = wanted.has(input.value);
    byId("webhook-submit").textContent = "Save Webhook";
    byId("webhook-cancel").hidden = false;
    byId("webhook-url").focus();
  }

  resetForm() {
    this.editing = null;
    this.form.reset();
    this.clearErrors();
    byId("webhook-form-title").textContent = "Add a webhook";
    byId("webhook-submit").textContent = "Add Webhook";
    byId("webhook-cancel").hidden = true;
  }

  // ---- actions ----

  async remove(hook) {
    if (!window.confirm(`Delete the webhook to ${hook.url}? Its deliveries are deleted too.`)) return;
    try {
      await this.ctx.api.del(`/webhooks/${hook.id}`);
      this.ctx.notify("Webhook deleted.", { kind: "ok" });
      if (this.editing?.id === hook.id) this.resetForm();
    } catch (err) {
      this.ctx.notify(err.message);
    }
    try {
      await this.load();
    } catch (err) {
      this.ctx.notify(err.message);
    }
  }

  async sendTest(hook, button) {
    button.disabled = true;
    try {
      const answer = await this.ctx.api.post(`/webhooks/${hook.id}/test`);
      this.ctx.notify(`Test event sent${answer?.event_id ? ` (${answer.event_id})` : ""}. Its delivery shows under Recent deliveries.`, {
        kind: "ok",
      });
      // Show the deliveries so the test event's fate is visible.
      const card = this.list.querySelector(`[data-webhook-id="${hook.id}"]`);
      const toggle = card?.querySelector(".webhook__more button");
      const box = card?.querySelector(".webhook__deliveries");
      if (toggle && box && !this.open.has(hook.id)) this.toggleDeliveries(hook.id, toggle, box);
      else this.loadDeliveries(hook.id);
    } catch (err) {
      this.ctx.notify(err.message);
    } finally {
      button.disabled = false;
    }
  }

  async copy(input, button) {
    const text = input.value;
    let done = false;
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch {
      // No clipboard API (not a secure context, or refused): select the text and copy the old way.
      input.focus();
      input.select();
      try {
        done = document.execCommand("copy");
      } catch {
        done = false;
      }
    }
    if (done) {
      button.textContent = "Copied";
      setTimeout(() => (button.textContent = "Copy"), 1500);
      this.ctx.notify("Signing secret copied.", { kind: "ok" });
    } else {
      input.focus();
      input.select();
      this.ctx.notify("Press Ctrl+C to copy the selected secret.", { kind: "info" });
    }
  }

  // ---- deliveries ----

  toggleDeliveries(id, toggle, box) {
    const show = !this.open.has(id);
    toggle.setAttribute("aria-expanded", String(show));
    box.hidden = !show;
    if (show) {
      this.open.set(id, { box, loading: false });
      replaceChildren(box, el("p", { className: "muted small" }, "Loading…"));
      this.loadDeliveries(id);
    } else {
      this.open.delete(id);
    }
  }

  refreshDeliveries() {
    if (!this.shown) return;
    for (const id of this.open.keys()) this.loadDeliveries(id);
  }

  async loadDeliveries(id) {
    const entry = this.open.get(id);
    if (!entry || entry.loading) return;
    entry.loading = true;
    let items;
    try {
      const data = await this.ctx.api.get(`/webhooks/${id}/deliveries${query({ limit: 20 })}`);
      items = data?.items || [];
    } catch (err) {
      if (this.open.get(id) === entry) {
        entry.shown = null;
        replaceChildren(entry.box, el("p", { className: "notice" }, err.message));
      }
      return;
    } finally {
      entry.loading = false;
    }
    if (this.open.get(id) !== entry) return;
    // Redrawn only when something changed (the refresh runs every few seconds).
    const shown = JSON.stringify(items);
    if (entry.shown === shown) return;
    entry.shown = shown;
    replaceChildren(entry.box, this.deliveriesTable(items));
  }

  deliveriesTable(items) {
    if (!items.length) return el("p", { className: "empty" }, "No deliveries yet.");
    return el(
      "table",
      { className: "table deliveries" },
      el("caption", { className: "visually-hidden" }, "Recent deliveries"),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["Time", "Event", "Status", "Attempts", "Last answer", "Event id"].map((h) => el("th", { scope: "col" }, h)),
        ),
      ),
      el(
        "tbody",
        {},
        items.map((d) =>
          el(
            "tr",
            { dataset: { eventId: d.event_id || "" } },
            el("td", { className: "small" }, formatDateTime(d.created_at)),
            el("td", {}, el("code", {}, d.event || "")),
            el("td", {}, el("span", { className: `pill pill--delivery-${d.status}` }, STATUS_LABELS[d.status] || d.status)),
            el("td", {}, String(d.attempts ?? 0)),
            el("td", { className: "small cell-text" }, lastAnswer(d)),
            el("td", { className: "small" }, el("code", { className: "event-id" }, d.event_id || "")),
          ),
        ),
      ),
    );
  }
}

function lastAnswer(delivery) {
  const parts = [];
  if (delivery.last_status_code) parts.push(`HTTP ${delivery.last_status_code}`);
  if (delivery.last_error) parts.push(delivery.last_error);
  return parts.join(" · ") || "—";
}
