// Monitor on /admin: every group (waiting, longest wait, online technicians, active chats) and every
// technician (status, online, active / max chats), live without reloading and without polling:
// a WebSocket (cookie auth, like the console) brings `monitor` and `presence` frames, and each one
// (debounced) refetches GET /api/v1/monitor. A slow safety refresh covers anything missed.
import { byId, el, formatDuration, formatTime, replaceChildren } from "../lib/dom.js";
import { LiveSocket } from "../lib/ws.js";

const DEBOUNCE_MS = 250;
const SAFETY_REFRESH_MS = 60000;
const STATUS_LABELS = { online: "Online", away: "Away", offline: "Offline" };

export class Monitor {
  /** ctx: {api, notify} */
  constructor(ctx) {
    this.ctx = ctx;
    this.socket = null;
    this.shown = false;
    this.data = null;
    this.fetchedAt = 0; // performance.now() of the answer shown: waits count up from there
    this.debounce = null;
    this.safety = null;
    this.ticker = null;
    this.inFlight = null;
    this.again = false;
    this.live = byId("monitor-live");
  }

  setShown(shown) {
    if (shown === this.shown) return;
    this.shown = shown;
    if (shown) this.start();
    else this.stop();
  }

  start() {
    this.setLive(false);
    this.refresh();
    this.socket = new LiveSocket({
      onHello: () => {
        // Live frames flow after our first frame; then catch up with whatever changed meanwhile.
        this.socket?.send({ type: "ping" });
        this.setLive(true);
        this.refresh();
      },
      onFrame: (frame) => this.onFrame(frame),
      onStatus: (up) => this.setLive(up),
      onFatal: () => {
        this.ctx.notify("Your session has ended. Please log in again.", { timeout: 0 });
        setTimeout(() => location.reload(), 2500);
      },
    }).start();
    this.safety = setInterval(() => this.refresh(), SAFETY_REFRESH_MS);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  stop() {
    this.socket?.stop();
    this.socket = null;
    clearInterval(this.safety);
    clearInterval(this.ticker);
    clearTimeout(this.debounce);
    this.debounce = null;
  }

  setLive(up) {
    this.live.dataset.state = up ? "live" : "connecting";
    this.live.textContent = up ? "Live" : "Connecting…";
  }

  onFrame(frame) {
    if (frame.type === "monitor" || frame.type === "presence") this.soon();
  }

  /** Refetch shortly: a burst of frames (a pickup changes several numbers) makes one request. */
  soon() {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.refresh();
    }, DEBOUNCE_MS);
  }

  async refresh() {
    if (!this.shown) return;
    if (this.inFlight) {
      this.again = true; // an answer already on its way may predate the change: ask once more after it
      return;
    }
    this.inFlight = (async () => {
      try {
        const data = await this.ctx.api.get("/monitor");
        if (!this.shown) return;
        this.data = data || { groups: [], technicians: [] };
        this.fetchedAt = performance.now();
        this.render();
      } catch (err) {
        if (this.shown) this.ctx.notify(err.message);
      }
    })();
    try {
      await this.inFlight;
    } finally {
      this.inFlight = null;
    }
    if (this.again) {
      this.again = false;
      this.refresh();
    }
  }

  /** Seconds the longest-waiting chat has waited now (it counts up between answers). */
  waitedNow(group) {
    if (group.longest_wait_seconds === null || group.longest_wait_seconds === undefined) return null;
    return group.longest_wait_seconds + (performance.now() - this.fetchedAt) / 1000;
  }

  render() {
    const groups = this.data?.groups || [];
    const techs = this.data?.technicians || [];
    replaceChildren(
      byId("monitor-groups"),
      groups.length
        ? groups.map((g) => {
            const waiting = Number(g.waiting) || 0;
            return el(
              "tr",
              { className: waiting ? "is-waiting" : null, dataset: { groupId: String(g.id) } },
              el("th", { scope: "row", className: "strong" }, g.name),
              el("td", { dataset: { col: "waiting" } }, el("span", { className: waiting ? "count count--hot" : "count" }, String(waiting))),
              el("td", { dataset: { col: "longest-wait" }, className: "monitor__wait" }, this.waitText(g)),
              el("td", { dataset: { col: "online" } }, String(g.online_technicians ?? 0)),
              el("td", { dataset: { col: "active" } }, String(g.active_chats ?? 0)),
            );
          })
        : el("tr", {}, el("td", { colSpan: 5, className: "empty" }, "No groups yet.")),
    );
    replaceChildren(
      byId("monitor-techs"),
      techs.length
        ? techs.map((t) =>
            el(
              "tr",
              { dataset: { technicianId: String(t.id) } },
              el("th", { scope: "row", className: "strong" }, t.name),
              el("td", { dataset: { col: "status" } }, el("span", { className: `status-dot status-dot--${t.status}`, "aria-hidden": "true" }), STATUS_LABELS[t.status] || t.status),
              el("td", { dataset: { col: "online" } }, t.online ? el("span", { className: "pill pill--active" }, "Online") : el("span", { className: "muted" }, "No")),
              el("td", { dataset: { col: "chats" } }, chatsText(t)),
            ),
          )
        : el("tr", {}, el("td", { colSpan: 4, className: "empty" }, "No technicians.")),
    );
    byId("monitor-updated").textContent = `Updated at ${formatTime(new Date().toISOString())}.`;
  }

  waitText(group) {
    const seconds = this.waitedNow(group);
    return seconds === null ? "—" : formatDuration(seconds);
  }

  /** Longest waits count up every second, between answers. */
  tick() {
    if (!this.data) return;
    const rows = byId("monitor-groups").querySelectorAll("tr[data-group-id]");
    for (const row of rows) {
      const group = this.data.groups.find((g) => String(g.id) === row.dataset.groupId);
      const cell = row.querySelector("[data-col=longest-wait]");
      if (group && cell) cell.textContent = this.waitText(group);
    }
  }
}

function chatsText(tech) {
  const active = Number(tech.active_chats) || 0;
  return Number.isInteger(tech.max_chats) ? `${active} / ${tech.max_chats}` : `${active} / no limit`;
}
