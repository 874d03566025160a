// A group's business hours in the admin group form: "Always open" (business_hours: null), or a time
// zone and per weekday ranges typed as "09:00-12:00, 13:00-17:00" (empty = closed that day).
import { byId, el, replaceChildren } from "../lib/dom.js";

export const DAYS = [
  ["mon", "Mon"],
  ["tue", "Tue"],
  ["wed", "Wed"],
  ["thu", "Thu"],
  ["fri", "Fri"],
  ["sat", "Sat"],
  ["sun", "Sun"],
];
const RANGE_RE = /^(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})$/;

const always = () => byId("group-always-open");
const zone = () => byId("group-timezone");
const dayField = (day) => byId(`group-hours-${day}`);

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Wire the form once: the time-zone suggestions, and Always open hiding the rest. */
export function setupHoursForm() {
  let zones = [];
  try {
    zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  } catch {
    zones = [];
  }
  if (!zones.includes("UTC")) zones = ["UTC", ...zones];
  replaceChildren(byId("timezones"), zones.map((name) => el("option", { value: name })));
  always().addEventListener("change", () => {
    toggleFields();
    if (!always().checked && !zone().value) zone().value = browserZone();
  });
  toggleFields();
}

function toggleFields() {
  byId("group-hours-fields").hidden = always().checked;
}

/** Fill the form from a group's business_hours (null = always open). */
export function showHours(hours) {
  clearHoursErrors();
  always().checked = !hours;
  zone().value = hours?.timezone || "";
  for (const [day] of DAYS) {
    dayField(day).value = (hours?.days?.[day] || []).map(([start, end]) => `${start}-${end}`).join(", ");
  }
  toggleFields();
}

function hhmm(hours, minutes) {
  return `${String(Number(hours)).padStart(2, "0")}:${minutes}`;
}

/** [["09:00","12:00"], ...] from "09:00-12:00, 13:00-17:00"; throws an Error with a readable message. */
export function parseRanges(text) {
  const ranges = [];
  for (const part of text.split(/[,;]/).map((p) => p.trim()).filter(Boolean)) {
    const match = part.match(RANGE_RE);
    if (!match) throw new Error(`“${part}” is not a range like 09:00-17:00.`);
    const start = hhmm(match[1], match[2]);
    const end = hhmm(match[3], match[4]);
    const valid = (t, endOk) => t <= "23:59" || (endOk && t === "24:00");
    if (!valid(start, false) || !valid(end, true) || Number(match[2]) > 59 || Number(match[4]) > 59) {
      throw new Error(`“${part}” is not a time of day (00:00 to 24:00).`);
    }
    if (end <= start) throw new Error(`In “${part}” the end must come after the start.`);
    ranges.push([start, end]);
  }
  return ranges;
}

/** The business_hours to send ({timezone, days} or null), or null with errors shown next to the fields. */
export function readHours() {
  clearHoursErrors();
  if (always().checked) return { ok: true, hours: null };
  let ok = true;
  const timezone = zone().value.trim();
  if (!timezone) {
    fieldError(zone(), "Enter a time zone, for example Europe/Berlin.");
    ok = false;
  }
  const days = {};
  for (const [day] of DAYS) {
    try {
      const ranges = parseRanges(dayField(day).value);
      if (ranges.length) days[day] = ranges;
    } catch (err) {
      fieldError(dayField(day), err.message);
      ok = false;
    }
  }
  return { ok, hours: { timezone, days } };
}

function fieldError(input, text) {
  input.setAttribute("aria-invalid", "true");
  const box = byId(`${input.id}-error`);
  box.textContent = text;
  box.hidden = false;
  return input;
}

export function clearHoursErrors() {
  for (const input of [zone(), ...DAYS.map(([day]) => dayField(day))]) {
    input.removeAttribute("aria-invalid");
    const box = byId(`${input.id}-error`);
    box.textContent = "";
    box.hidden = true;
  }
}

/**
 * Put a 422's `errors` (field -> message) next to the hours fields they name; returns the rest
 * as text (for the page's notice) and the first field that got an error (for focus).
 */
export function showHoursErrors(errors) {
  const rest = [];
  let first = null;
  for (const [field, text] of Object.entries(errors || {})) {
    const day = DAYS.find(([d]) => new RegExp(`\\b${d}\\b`).test(field));
    let input = null;
    if (/timezone/.test(field)) input = zone();
    else if (day) input = dayField(day[0]);
    if (input && !always().checked) first = first || fieldError(input, String(text));
    else rest.push(`${field}: ${text}`);
  }
  return { rest: rest.join("; "), first };
}

/** "Always open", or e.g. "Mon–Fri 09:00–17:00 (Europe/Berlin)". */
export function hoursSummary(hours) {
  if (!hours) return "Always open";
  const runs = [];
  for (const [day, short] of DAYS) {
    const text = (hours.days?.[day] || []).map(([start, end]) => `${start}–${end}`).join(", ");
    const last = runs[runs.length - 1];
    if (text && last && last.text === text && last.end === DAYS.findIndex(([d]) => d === day) - 1) {
      last.to = short;
      last.end += 1;
    } else if (text) {
      runs.push({ text, from: short, to: short, end: DAYS.findIndex(([d]) => d === day) });
    }
  }
  const zoneName = hours.timezone ? ` (${hours.timezone})` : "";
  if (!runs.length) return `Closed${zoneName}`;
  const parts = runs.map((r) => `${r.from === r.to ? r.from : `${r.from}–${r.to}`} ${r.text}`);
  return `${parts.join("; ")}${zoneName}`;
}
