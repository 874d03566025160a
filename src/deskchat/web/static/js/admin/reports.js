// Reports on /admin: a date range (From, To: the last 7 days including today by default) and a Group,
// Show; the figures of GET /api/v1/reports/summary as cards; charts drawn by uPlot (vendored, MIT):
// chats per day (answered and missed) and waiting times per day (median and 90th percentile, worked
// out here from the CSV export's rows); tables by group and by technician; Download CSV of the range.
// `to` is exclusive on the server: the day after the chosen end date is sent.
import { API, fetchAll, query } from "../lib/api.js";
import { byId, el, formatDuration, parseTime, replaceChildren } from "../lib/dom.js";

const DAY_MS = 86400000;
const COLORS = { answered: "#2456c9", missed: "#b42318", median: "#18794e", p90: "#9a6700" };

/** "YYYY-MM-DD" of a Date in the browser's zone (what a date input shows). */
function localDate(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** A calendar date plus n days (calendar arithmetic, no time zone involved). */
export function addDays(day, n) {
  const date = new Date(`${day}T00:00:00Z`);
  return new Date(date.getTime() + n * DAY_MS).toISOString().slice(0, 10);
}

function daysBetween(from, to) {
  const days = [];
  for (let day = from; day <= to && days.length < 400; day = addDays(day, 1)) days.push(day);
  return days;
}

/** A figure in seconds as "m:ss" (or "h:mm:ss"); null is "—". */
function secondsText(value) {
  return typeof value === "number" && Number.isFinite(value) ? formatDuration(Math.round(value)) : "—";
}

function numberText(value) {
  return typeof value === "number" && Number.isFinite(value) ? String(value) : "—";
}

function percentText(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${Math.round(value * 1000) / 10}%` : "—";
}

/** Median: the middle value, or the mean of the two middle ones; p90: nearest rank (as the server). */
export function median(sorted) {
  if (!sorted.length) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function p90(sorted) {
  if (!sorted.length) return null;
  return sorted[Math.max(0, Math.ceil(0.9 * sorted.length) - 1)];
}

/** Rows of a CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.length > 1 || r[0]);
}

/** {date: {median, p90}} of wait_seconds per UTC day of created_at, from the CSV export. */
export function waitsByDay(csvText) {
  const [header, ...rows] = parseCsv(csvText.replace(/^\uFEFF/, ""));
  if (!header) return {};
  const at = header.indexOf("created_at");
  const wait = header.indexOf("wait_seconds");
  if (at < 0 || wait < 0) return {};
  const perDay = {};
  for (const row of rows) {
    const value = Number.parseFloat(row[wait]);
    const ms = parseTime(row[at]);
    if (!Number.isFinite(value) || Number.isNaN(ms)) continue;
    const day = new Date(ms).toISOString().slice(0, 10);
    (perDay[day] ||= []).push(value);
  }
  const out = {};
  for (const [day, values] of Object.entries(perDay)) {
    values.sort((a, b) => a - b);
    out[day] = { median: median(values), p90: p90(values), count: values.length };
  }
  return out;
}

export class Reports {
  /** ctx: {api, notify} */
  constructor(ctx) {
    this.ctx = ctx;
    this.groups = [];
    this.techs = null;
    this.shown = false;
    this.loadedOnce = false;
    this.charts = [];
    this.last = null; // {summary, waits, days} of the last Show
    this.form = byId("report-form");
    const today = localDate(new Date());
    byId("report-to").value = today;
    byId("report-from").value = addDays(today, -6);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.show();
    });
    for (const id of ["report-from", "report-to", "report-group"]) {
      byId(id).addEventListener("change", () => this.updateCsvLink());
    }
    this.updateCsvLink();
    if (typeof ResizeObserver === "function") {
      let timer = null;
      this.resizer = new ResizeObserver(() => {
        clearTimeout(timer);
        timer = setTimeout(() => this.resize(), 100);
      });
      this.resizer.observe(byId("chart-chats"));
    }
  }

  setShown(shown) {
    this.shown = shown;
    if (!shown) return;
    if (!this.loadedOnce) {
      this.loadedOnce = true;
      this.show();
    } else if (this.last) {
      this.drawCharts(); // drawn while hidden (no width): draw again now
    }
  }

  setGroups(groups) {
    this.groups = groups;
    const select = byId("report-group");
    const chosen = select.value;
    replaceChildren(select, el("option", { value: "" }, "All groups"), groups.map((g) => el("option", { value: String(g.id) }, g.name)));
    if (chosen && groups.some((g) => String(g.id) === chosen)) select.value = chosen;
  }

  /** The filters as the API takes them ({from, to (exclusive), group_id}), or null with a message. */
  params() {
    const from = byId("report-from").value;
    const to = byId("report-to").value;
    if (!from || !to) return { error: "Choose a From and a To date." };
    if (from > to) return { error: "From must not be after To." };
    return { from, to: addDays(to, 1), group_id: byId("report-group").value, last: to };
  }

  updateCsvLink() {
    const link = byId("report-csv");
    const p = this.params();
    if (p.error) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
      return;
    }
    link.removeAttribute("aria-disabled");
    link.href = `${API}/reports/chats.csv${query({ from: p.from, to: p.to, group_id: p.group_id })}`;
    link.setAttribute("download", `deskchat-chats-${p.from}-to-${p.last}.csv`);
  }

  async show() {
    const p = this.params();
    this.updateCsvLink();
    if (p.error) {
      this.ctx.notify(p.error);
      return;
    }
    const filters = { from: p.from, to: p.to, group_id: p.group_id };
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    byId("report-cards").setAttribute("aria-busy", "true");
    let summary;
    try {
      summary = await this.ctx.api.get(`/reports/summary${query(filters)}`);
    } catch (err) {
      this.ctx.notify(err.message);
      button.disabled = false;
      byId("report-cards").removeAttribute("aria-busy");
      return;
    }
    const [waits, techs] = await Promise.all([this.loadWaits(filters), this.loadTechs()]);
    button.disabled = false;
    byId("report-cards").removeAttribute("aria-busy");
    const group = this.groups.find((g) => String(g.id) === p.group_id);
    byId("report-range").textContent =
      `${p.from} to ${p.last} (UTC days)${group ? `, group ${group.name}` : ", all groups"}.`;
    this.last = { summary: summary || {}, waits, days: daysBetween(p.from, p.last), techs };
    this.renderCards(this.last.summary);
    this.renderTables(this.last.summary, techs);
    this.drawCharts();
  }

  /** Per-day waits from the CSV rows; null when the export cannot be read. */
  async loadWaits(filters) {
    try {
      const response = await fetch(`${API}/reports/chats.csv${query(filters)}`, { credentials: "same-origin" });
      if (!response.ok) return null;
      return waitsByDay(await response.text());
    } catch {
      return null;
    }
  }

  async loadTechs() {
    if (this.techs) return this.techs;
    try {
      this.techs = await fetchAll(this.ctx.api, "/technicians");
    } catch {
      this.techs = [];
    }
    return this.techs;
  }

  renderCards(s) {
    const pair = (figure) => `median ${secondsText(figure?.median)} · p90 ${secondsText(figure?.p90)}`;
    const rating = s.rating || {};
    const cards = [
      ["chats", "Chats", numberText(s.chats), null],
      ["picked_up", "Answered", numberText(s.picked_up), "picked up or assigned"],
      ["missed", "Missed", numberText(s.missed), null],
      ["missed_rate", "Missed rate", percentText(s.missed_rate), null],
      ["wait", "Wait", secondsText(s.wait_seconds?.median), pair(s.wait_seconds)],
      ["first_response", "First response", secondsText(s.first_response_seconds?.median), pair(s.first_response_seconds)],
      ["duration", "Duration", secondsText(s.duration_seconds?.median), pair(s.duration_seconds)],
      [
        "rating",
        "Rating",
        typeof rating.average === "number" ? `${Math.round(rating.average * 10) / 10} / 5` : "—",
        `${rating.count ?? 0} rating${rating.count === 1 ? "" : "s"}`,
      ],
    ];
    replaceChildren(
      byId("report-cards"),
      cards.map(([key, label, value, sub]) => {
        const labelId = `stat-${key}-label`;
        return el(
          "div",
          { className: "stat card", role: "group", "aria-labelledby": labelId, dataset: { stat: key } },
          el("span", { id: labelId, className: "stat__label" }, label),
          el("span", { className: "stat__value" }, value),
          sub ? el("span", { className: "stat__sub muted small" }, sub) : null,
        );
      }),
    );
  }

  renderTables(s, techs) {
    const groupName = (id) => this.groups.find((g) => g.id === id)?.name || `Group ${id}`;
    const techName = (row) => row.name || techs.find((t) => t.id === row.technician_id)?.name || `Technician ${row.technician_id}`;
    const byGroup = s.by_group || [];
    replaceChildren(
      byId("report-by-group"),
      byGroup.length
        ? byGroup.map((g) =>
            el(
              "tr",
              { dataset: { groupId: String(g.group_id) } },
              el("th", { scope: "row", className: "strong" }, g.name || groupName(g.group_id)),
              el("td", {}, numberText(g.chats)),
              el("td", {}, numberText(g.picked_up)),
              el("td", {}, numberText(g.missed)),
              el("td", {}, percentText(g.missed_rate ?? (g.chats ? (g.missed || 0) / g.chats : null))),
              el("td", {}, secondsText(g.wait_seconds?.median)),
            ),
          )
        : el("tr", {}, el("td", { colSpan: 6, className: "empty" }, "No chats in this range.")),
    );
    const byTech = s.by_technician || [];
    replaceChildren(
      byId("report-by-tech"),
      byTech.length
        ? byTech.map((t) =>
            el(
              "tr",
              { dataset: { technicianId: String(t.technician_id) } },
              el("th", { scope: "row", className: "strong" }, techName(t)),
              el("td", {}, numberText(t.chats)),
              el("td", {}, secondsText(t.first_response_seconds?.median)),
              el("td", {}, secondsText(t.duration_seconds?.median)),
              el("td", {}, typeof t.rating?.average === "number" ? `${Math.round(t.rating.average * 10) / 10} (${t.rating.count})` : "—"),
            ),
          )
        : el("tr", {}, el("td", { colSpan: 5, className: "empty" }, "No technician took a chat in this range.")),
    );
  }

  // ---- charts ----

  destroyCharts() {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }

  size(box) {
    return { width: Math.max(280, Math.floor(box.clientWidth || 0)), height: 240 };
  }

  resize() {
    for (const chart of this.charts) {
      const box = chart.root.parentElement;
      if (box && box.clientWidth) chart.setSize(this.size(box));
    }
  }

  drawCharts() {
    const chatsBox = byId("chart-chats");
    const waitBox = byId("chart-wait");
    if (!this.last || !this.shown || !chatsBox.clientWidth) return; // drawn once the section shows
    this.destroyCharts();
    const uPlot = window.uPlot;
    if (typeof uPlot !== "function") {
      replaceChildren(chatsBox, el("p", { className: "notice" }, "The charts could not be loaded."));
      replaceChildren(waitBox);
      return;
    }
    replaceChildren(chatsBox);
    replaceChildren(waitBox);
    const { summary, waits, days } = this.last;
    const perDay = new Map((summary.by_day || []).map((d) => [String(d.date).slice(0, 10), d]));
    const xs = days.map((_, i) => i);
    const labels = days.map((day) => day.slice(5));
    const answered = days.map((day) => {
      const d = perDay.get(day);
      if (!d) return 0;
      return typeof d.picked_up === "number" ? d.picked_up : Math.max(0, (d.chats || 0) - (d.missed || 0));
    });
    const missed = days.map((day) => perDay.get(day)?.missed || 0);
    const bars = uPlot.paths?.bars;
    const count = (u, v) => (v === null || v === undefined ? "—" : String(v));
    this.charts.push(
      new uPlot(
        {
          ...this.size(chatsBox),
          scales: { x: { time: false, range: () => [-0.6, days.length - 0.4] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
          axes: [this.dayAxis(labels), { values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : "")) }],
          series: [
            { label: "Day", value: (u, i) => (i === null ? "—" : days[i] || "") },
            {
              label: "Answered",
              stroke: COLORS.answered,
              fill: `${COLORS.answered}cc`,
              width: 1,
              value: count,
              paths: bars ? bars({ size: [0.38, 48], align: -1 }) : undefined,
              points: { show: false },
            },
            {
              label: "Missed",
              stroke: COLORS.missed,
              fill: `${COLORS.missed}cc`,
              width: 1,
              value: count,
              paths: bars ? bars({ size: [0.38, 48], align: 1 }) : undefined,
              points: { show: false },
            },
          ],
        },
        [xs, answered, missed],
        chatsBox,
      ),
    );
    const note = byId("chart-wait-note");
    const wait = summary.wait_seconds || {};
    if (waits) {
      const med = days.map((day) => waits[day]?.median ?? null);
      const high = days.map((day) => waits[day]?.p90 ?? null);
      note.textContent = `Over the whole range: median ${secondsText(wait.median)}, 90th percentile ${secondsText(wait.p90)}. Days without an answered chat have no point.`;
      this.charts.push(
        new uPlot(
          {
            ...this.size(waitBox),
            scales: { x: { time: false, range: () => [-0.6, days.length - 0.4] }, y: { range: (u, min, max) => [0, Math.max(60, max || 0)] } },
            axes: [this.dayAxis(labels), { values: (u, splits) => splits.map((v) => secondsText(v)), size: 60 }],
            series: [
              { label: "Day", value: (u, i) => (i === null ? "—" : days[i] || "") },
              { label: "Median", stroke: COLORS.median, width: 2, value: (u, v) => secondsText(v), points: { show: true, size: 6 } },
              { label: "90th percentile", stroke: COLORS.p90, width: 2, dash: [6, 4], value: (u, v) => secondsText(v), points: { show: true, size: 6 } },
            ],
          },
          [xs, med, high],
          waitBox,
        ),
      );
    } else {
      // Without the rows: the range's median and 90th percentile as two bars.
      note.textContent = "Per-day waits are not available; the bars show the whole range.";
      this.charts.push(
        new uPlot(
          {
            ...this.size(waitBox),
            scales: { x: { time: false, range: () => [-0.6, 1.6] }, y: { range: (u, min, max) => [0, Math.max(60, max || 0)] } },
            axes: [
              { values: (u, splits) => splits.map((v) => (v === 0 ? "Median" : v === 1 ? "90th percentile" : "")), incrs: [1] },
              { values: (u, splits) => splits.map((v) => secondsText(v)), size: 60 },
            ],
            series: [
              {},
              {
                label: "Wait",
                stroke: COLORS.median,
                fill: `${COLORS.median}cc`,
                value: (u, v) => secondsText(v),
                paths: bars ? bars({ size: [0.5, 80] }) : undefined,
                points: { show: false },
              },
            ],
          },
          [
            [0, 1],
            [wait.median ?? null, wait.p90 ?? null],
          ],
          waitBox,
        ),
      );
    }
  }

  /** The x axis of a per-day chart: whole days only, labelled MM-DD. */
  dayAxis(labels) {
    return {
      incrs: [1, 2, 3, 7, 14, 28, 56],
      values: (u, splits) => splits.map((v) => (Number.isInteger(v) && labels[v] !== undefined ? labels[v] : "")),
    };
  }
}
