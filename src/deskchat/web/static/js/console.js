// Technician console (/console): alerts, several chats, composer, actions, the side panel (with suggestions)
// and search.
import { Alerts } from "./console/alerts.js";
import { ChatActions } from "./console/actions.js";
import { Canned } from "./console/canned.js";
import { Composer } from "./console/composer.js";
import { Details } from "./console/details.js";
import { OfflineNotices } from "./console/offline.js";
import { Search } from "./console/search.js";
import { Suggestions } from "./console/suggestions.js";
import { placeInTimeline, Whispers } from "./console/whispers.js";
import { createApi, fetchAll, fetchMessagesAfter, query } from "./lib/api.js";
import { AttachmentStore, Uploader } from "./lib/attachments.js";
import { signIn } from "./lib/auth.js";
import { byId, createNotifier, el, formatTime, replaceChildren } from "./lib/dom.js";
import { isOwn, renderMessage } from "./lib/messages.js";
import { SeqTimeline } from "./lib/timeline.js";
import { LiveSocket } from "./lib/ws.js";

const TYPING_SHOWN_MS = 4000;
const READER_REFRESH_MS = 5000; // a chat open here that we are not in gets no message frames: look again
const STATUS_LABELS = { online: "Online", away: "Away", offline: "Offline" };

const api = createApi();
const notify = createNotifier(byId("notice"));
const state = {
  me: null,
  socket: null,
  chats: new Map(),
  loading: new Map(),
  pickingUp: new Set(),
  statusWrite: Promise.resolve(),
  statusVersion: 0,
  selectedId: null,
  techs: new Map(),
  groups: new Map(),
};
const ui = {
  status: byId("status"),
  statusDot: byId("status-dot"),
  statusHint: byId("status-hint"),
  banner: byId("banner"),
  myChats: byId("my-chats"),
  endedChats: byId("ended-chats"),
  endedTitle: byId("ended-title"),
  mineEmpty: byId("mine-empty"),
  noChat: byId("no-chat"),
  pane: byId("chat-pane"),
  title: byId("chat-title"),
  subtitle: byId("chat-subtitle"),
  stateNote: byId("state-note"),
  host: byId("timeline-host"),
  typing: byId("typing"),
  composer: byId("composer"),
  message: byId("message"),
  send: byId("send"),
  cannedOpen: byId("canned-open"),
  attach: byId("attach"),
  convert: byId("convert"),
  addRequest: byId("add-request"),
  more: byId("more"),
  endSession: byId("end-session"),
};

let alerts;
let canned;
let details;
let composer;
let offline;
let whispers;
let suggestions;

const groupName = (id) => state.groups.get(id)?.name || (id ? `Group ${id}` : "No group");
const techName = (id) => state.techs.get(id)?.name || (id === state.me?.id ? state.me.name : `Technician ${id}`);
const current = () => state.chats.get(state.selectedId) || null;
const isParticipant = (chat) => (chat.participant_ids || []).includes(state.me.id);
const isOpen = (chat) => chat.state === "active" && isParticipant(chat);
const isAdmin = () => state.me?.role === "admin";
// Whispers: participant technicians and admins, while the chat is active.
const canWhisper = (chat) => chat.state === "active" && (isParticipant(chat) || isAdmin());
// Email Transcript: during or after the chat, for its technicians and admins.
const canEmailTranscript = (chat) =>
  chat.state !== "waiting" && (isParticipant(chat) || isAdmin() || chat.owner_id === state.me?.id);

// ---- reference data ----

async function loadReference() {
  try {
    const [groups, techs] = await Promise.all([fetchAll(api, "/groups"), fetchAll(api, "/technicians")]);
    state.groups = new Map(groups.map((g) => [g.id, g]));
    state.techs = new Map(techs.map((t) => [t.id, t]));
  } catch (err) {
    notify(err.message);
  }
}

// ---- chat views ----

function addView(chat, { fill = true } = {}) {
  const existing = state.chats.get(chat.id);
  if (existing) {
    applyChat(chat);
    return existing;
  }
  const view = {
    chat,
    list: el("ol", { className: "timeline", role: "log", "aria-live": "polite", "aria-label": "Conversation" }),
    messages: [],
    unread: 0,
    notes: [],
    request: null,
    draft: "",
    typing: "",
    typingTimer: null,
    files: new AttachmentStore(), // cookie authentication: no bearer
  };
  view.timeline = new SeqTimeline({
    fetchAfter: (seq) => fetchMessagesAfter(api, chat.id, seq),
    onMessage: (message, { live }) => showMessage(view, message, live),
  });
  state.chats.set(chat.id, view);
  if (isParticipant(chat)) view.wasIn = true;
  if (fill) {
    view.timeline.fill();
    whispers.load(view);
  }
  if (chat.request_id) details.loadRequest(view);
  renderList();
  return view;
}

/** A chat we do not hold yet (invited, transferred to us): fetch it once. */
function ensureChat(chatId) {
  if (state.chats.has(chatId)) return Promise.resolve(state.chats.get(chatId));
  if (!state.loading.has(chatId)) {
    const promise = api
      .get(`/chats/${chatId}`)
      .then((chat) => {
        const known = state.chats.has(chatId);
        const view = addView(chat);
        if (!known && isOpen(chat)) joinedNotice(view);
        return view;
      })
      .catch(() => null)
      .finally(() => state.loading.delete(chatId));
    state.loading.set(chatId, promise);
  }
  return state.loading.get(chatId);
}

function joinedNotice(view) {
  notify(`You are now in the chat with ${view.chat.requester?.name || "a requester"}.`, { kind: "info" });
  alerts.chime();
  if (!state.selectedId) select(view.chat.id);
}

function showMessage(view, message, live) {
  view.messages.push(message);
  const selected = state.selectedId === view.chat.id;
  const box = ui.host;
  const nearBottom = selected && box.scrollHeight - box.scrollTop - box.clientHeight < 140;
  const item = renderMessage(message, { kind: "technician", id: state.me.id }, { files: view.files, onError: notify });
  placeInTimeline(view.list, item, message.created_at);
  const own = isOwn(message, { kind: "technician", id: state.me.id });
  const stick = selected && (nearBottom || own || !live);
  if (stick) box.scrollTop = box.scrollHeight;
  // A thumbnail grows once its bytes are there: stay at the bottom if we were.
  item.querySelector("img")?.addEventListener("load", () => {
    if (stick && state.selectedId === view.chat.id) box.scrollTop = box.scrollHeight;
  });
  if (message.author?.kind !== "system" && !own) setTyping(view, "");
  if (live && message.author?.kind === "requester") suggestions?.requesterWrote(view.chat.id);
  if (live && !own && (!selected || document.hidden)) {
    view.unread += 1;
    renderList();
    if (document.hidden && message.author?.kind === "requester") alerts.messageArrived(view.chat, message);
  }
}

/** A whisper was put in a chat's timeline: keep the open chat scrolled, count it as unread elsewhere. */
function whisperShown(view, item, { live, own }) {
  const selected = state.selectedId === view.chat.id;
  const box = ui.host;
  if (selected && (own || !live || box.scrollHeight - box.scrollTop - box.clientHeight < 140 + item.offsetHeight)) {
    box.scrollTop = box.scrollHeight;
  }
  if (live && !own && (!selected || document.hidden)) {
    view.unread += 1;
    renderList();
  }
}

/** A chat snapshot from a frame or an action's answer. */
function applyChat(chat) {
  if (chat.state === "waiting") alerts.add(chat);
  else alerts.remove(chat.id);
  const view = state.chats.get(chat.id);
  if (!view) {
    if (isOpen(chat) && !state.pickingUp.has(chat.id)) ensureChat(chat.id);
    return;
  }
  const previousRequest = view.chat.request_id;
  const couldAct = isOpen(view.chat);
  view.chat = chat;
  if (isParticipant(chat)) view.wasIn = true;
  if (chat.request_id && chat.request_id !== previousRequest) details.loadRequest(view);
  if (chat.state !== "active") setTyping(view, "");
  renderList();
  if (state.selectedId === chat.id) {
    renderPane(view);
    details.render(view);
    suggestions.render(view);
    if (!couldAct && isOpen(chat)) suggestions.opened(view);
  }
}

// ---- list of my chats ----

function renderList() {
  const views = [...state.chats.values()];
  const open = views.filter((v) => isOpen(v.chat)).sort((a, b) => b.chat.id - a.chat.id);
  const closed = views.filter((v) => !isOpen(v.chat)).sort((a, b) => b.chat.id - a.chat.id);
  replaceChildren(ui.myChats, open.map(listItem));
  replaceChildren(ui.endedChats, closed.map(listItem));
  ui.mineEmpty.hidden = open.length > 0;
  ui.endedTitle.hidden = closed.length === 0;
}

function listItem(view) {
  const chat = view.chat;
  const selected = state.selectedId === chat.id;
  const name = chat.requester?.name || `Chat ${chat.id}`;
  const button = el(
    "button",
    { type: "button", className: "chat-item", "aria-current": selected ? "true" : null },
    el(
      "span",
      { className: "chat-item__top" },
      el("span", { className: "chat-item__name" }, name),
      view.unread ? el("span", { className: "badge", "aria-label": `${view.unread} unread` }, String(view.unread)) : null,
    ),
    el("span", { className: "chat-item__subject" }, chat.subject || ""),
    view.typing ? el("span", { className: "chat-item__typing" }, "typing…") : null,
  );
  button.addEventListener("click", () => select(chat.id));
  const item = el("li", { className: selected ? "chat-list__item is-selected" : "chat-list__item" }, button);
  if (!isOpen(chat)) {
    const close = el("button", { type: "button", className: "ghost small chat-item__close", "aria-label": `Close chat with ${name}` }, "×");
    close.addEventListener("click", () => closeView(chat.id));
    item.append(close);
  }
  return item;
}

/** Open any chat the technician may read (a requester's previous chat in the side panel). */
async function openChat(chatId) {
  const view = await ensureChat(chatId);
  if (view) select(chatId);
  else notify("This chat cannot be opened.");
}

/** A chat found by Search: the one in the list if we hold it, else fetched and opened like /console?chat=<id>. */
function openFromSearch(chatId) {
  if (state.chats.has(chatId)) {
    select(chatId);
    return Promise.resolve();
  }
  return openChat(chatId);
}

function closeView(chatId) {
  state.chats.get(chatId)?.files.clear();
  state.chats.delete(chatId);
  suggestions.forget(chatId);
  if (state.selectedId === chatId) {
    state.selectedId = null;
    showPane(null);
  }
  renderList();
}

// ---- the open chat ----

function select(chatId) {
  const previous = current();
  if (previous) previous.draft = ui.message.value;
  const view = state.chats.get(chatId);
  if (!view) return;
  state.selectedId = chatId;
  view.unread = 0;
  if (!view.timeline.loaded && !view.timeline.filling) view.timeline.fill();
  if (!view.whispers?.loaded) whispers.load(view);
  showPane(view);
  ui.host.replaceChildren(view.list);
  ui.host.scrollTop = ui.host.scrollHeight;
  composer.load(view.draft);
  renderList();
  suggestions.opened(view);
  if (!ui.message.disabled) ui.message.focus();
}

function showPane(view) {
  ui.noChat.hidden = Boolean(view);
  ui.pane.hidden = !view;
  if (view) renderPane(view);
  details.render(view);
  suggestions.render(view);
}

function renderPane(view) {
  const chat = view.chat;
  const open = isOpen(chat);
  ui.title.textContent = chat.requester?.name || `Chat ${chat.id}`;
  ui.subtitle.textContent = `${chat.subject || ""} · ${groupName(chat.group_id)}`;
  ui.convert.hidden = !(open && !chat.request_id);
  ui.addRequest.hidden = !(chat.state === "ended" && !chat.request_id);
  // More Actions: the chat's actions while we are in it; Whisper for admins reading it; Email Transcript after the end.
  ui.more.parentElement.hidden = !(open || canWhisper(chat) || canEmailTranscript(chat));
  ui.endSession.hidden = !open;
  for (const node of [ui.message, ui.send, ui.cannedOpen, ui.attach]) node.disabled = !open;
  ui.message.placeholder = open ? "Write a reply…" : "This chat is closed";
  ui.composer.classList.toggle("is-disabled", !open);
  const note = stateNote(chat, view);
  ui.stateNote.hidden = !note;
  ui.stateNote.textContent = note;
  ui.typing.textContent = view.typing;
}

function stateNote(chat, view = null) {
  if (chat.state === "ended") {
    const when = chat.ended_at ? ` at ${formatTime(chat.ended_at)}` : "";
    return chat.request_id
      ? `This chat ended${when}. It is recorded as request #${chat.request_id}.`
      : `This chat ended${when}. Use Add as Request to keep it as an incident request.`;
  }
  if (chat.state === "missed") return `This chat was missed${chat.request_id ? ` and became request #${chat.request_id}` : ""}.`;
  if (chat.state === "active" && !isParticipant(chat)) {
    return view?.wasIn || !isAdmin()
      ? "You are no longer in this chat."
      : "You are not in this chat: you can read it and whisper to its technicians.";
  }
  if (chat.state === "waiting") return "This chat is waiting to be picked up.";
  return "";
}

function setTyping(view, text) {
  clearTimeout(view.typingTimer);
  const changed = view.typing !== text;
  view.typing = text;
  if (text) view.typingTimer = setTimeout(() => setTyping(view, ""), TYPING_SHOWN_MS);
  if (state.selectedId === view.chat.id) ui.typing.textContent = text;
  if (changed) renderList();
}

function moveSelection(step) {
  const order = [...state.chats.values()]
    .sort((a, b) => Number(isOpen(b.chat)) - Number(isOpen(a.chat)) || b.chat.id - a.chat.id)
    .map((v) => v.chat.id);
  if (!order.length) return;
  const index = order.indexOf(state.selectedId);
  const next = order[(index + step + order.length) % order.length];
  if (next !== undefined) select(next);
}

// ---- actions ----

async function pickUp(chat) {
  state.pickingUp.add(chat.id);
  try {
    const picked = await api.post(`/chats/${chat.id}/pickup`);
    alerts.remove(chat.id);
    addView(picked);
    select(picked.id);
  } catch (err) {
    notify(err.message);
    if (err.type === "already_picked_up" || err.type === "invalid_state") alerts.remove(chat.id);
  } finally {
    state.pickingUp.delete(chat.id);
  }
}

async function makeRequest() {
  const view = current();
  if (!view) return;
  const buttons = [ui.convert, ui.addRequest];
  buttons.forEach((b) => (b.disabled = true));
  try {
    const request = await api.post(`/chats/${view.chat.id}/request`, {});
    view.request = request;
    applyChat({ ...view.chat, request_id: request.id });
    notify(`Request #${request.id} created.`, { kind: "ok" });
  } catch (err) {
    notify(err.message);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// ---- status ----

function showStatus(status) {
  ui.status.value = status;
  ui.statusDot.dataset.status = status;
  const away = status !== "online";
  ui.statusHint.hidden = !away;
  ui.statusHint.textContent = away
    ? `You are ${STATUS_LABELS[status] || status}: you will not be alerted about new chats.`
    : "";
}

/** Show the status the server has now, after any change of ours still on its way. */
async function syncStatus() {
  await state.statusWrite.catch(() => {});
  const version = state.statusVersion;
  try {
    const me = await api.get("/me");
    if (version !== state.statusVersion) return; // a change of ours overtook this answer
    state.me = { ...state.me, ...me };
    showStatus(state.me.status);
  } catch {
    /* keep what we show; the next hello or presence frame tries again */
  }
}

async function changeStatus() {
  const status = ui.status.value;
  if (status === "online") alerts.askPermission();
  state.statusVersion += 1;
  try {
    state.statusWrite = api.put("/me/status", { status });
    const me = await state.statusWrite;
    state.me = { ...state.me, ...me };
    showStatus(state.me.status);
    if (status === "online") refreshWaiting();
  } catch (err) {
    showStatus(state.me.status);
    notify(err.message);
  }
}

// ---- loading and live updates ----

async function refreshWaiting() {
  try {
    const waiting = await fetchAll(api, "/chats", { state: "waiting" });
    alerts.reconcile(waiting.filter((c) => c.state === "waiting"));
  } catch (err) {
    notify(err.message);
  }
}

async function loadChats() {
  try {
    const [active, ended] = await Promise.all([
      fetchAll(api, "/chats", { state: "active" }),
      api.get(`/chats${query({ state: "ended", limit: 10 })}`).then((d) => d?.items || []),
    ]);
    for (const chat of ended) addView(chat, { fill: false });
    for (const chat of active) addView(chat);
  } catch (err) {
    notify(err.message);
  }
  await refreshWaiting();
}

function onHello() {
  // The hello's snapshot may predate a status change we just made: ask again.
  syncStatus();
  const chats = {};
  for (const view of state.chats.values()) {
    if (view.timeline.loaded && view.chat.state === "active") chats[view.chat.id] = view.timeline.lastSeq;
  }
  // Live messages flow after our first frame: a resume, or a ping when there is nothing to resume.
  state.socket.send(Object.keys(chats).length ? { type: "resume", chats } : { type: "ping" });
  composer.resendPending();
  refreshWaiting();
  // Whispers sent while the connection was down (those already shown are skipped).
  for (const view of state.chats.values()) if (view.whispers?.loaded && view.chat.state === "active") whispers.load(view);
}

function onFrame(frame) {
  switch (frame.type) {
    case "alert":
      alerts.add(frame.data, { fresh: true });
      break;
    case "alert_cleared":
      alerts.remove(frame.chat_id);
      break;
    case "message": {
      const view = state.chats.get(frame.chat_id);
      if (view) view.timeline.accept(frame.data);
      // During our own pickup the chat's messages are loaded when the pickup answers.
      else if (!state.pickingUp.has(frame.chat_id)) ensureChat(frame.chat_id);
      break;
    }
    case "chat":
      applyChat(frame.data);
      break;
    case "note": {
      const view = state.chats.get(frame.chat_id);
      if (view) details.addLiveNote(view, frame.data);
      break;
    }
    case "whisper":
      whispers.accept(frame.chat_id, frame.data);
      break;
    case "typing":
      onTyping(frame);
      break;
    case "offline_message":
      offline.add(frame.data);
      break;
    case "presence":
      onPresence(frame.data || {});
      break;
    case "ack":
      composer.onAck(frame);
      break;
    case "error":
      composer.onError(frame);
      break;
    default:
      break;
  }
}

function onTyping(frame) {
  const view = state.chats.get(frame.chat_id);
  const author = frame.author || {};
  if (!view || (author.kind === "technician" && author.id === state.me.id)) return;
  setTyping(view, `${author.name || "Someone"} is typing…`);
}

function onPresence(data) {
  const tech = state.techs.get(data.technician_id);
  if (tech) Object.assign(tech, { status: data.status, online: data.online });
  if (data.technician_id === state.me.id) syncStatus();
}

function connect() {
  state.socket = new LiveSocket({
    onHello,
    onFrame,
    onStatus: (up) => {
      ui.banner.hidden = up;
    },
    onFatal: () => {
      notify("Your session has ended. Please log in again.", { timeout: 0 });
      setTimeout(() => location.reload(), 2500);
    },
  }).start();
}

function bindUi() {
  ui.status.addEventListener("change", changeStatus);
  ui.convert.addEventListener("click", makeRequest);
  ui.addRequest.addEventListener("click", makeRequest);
  document.addEventListener("keydown", (event) => {
    if (event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      moveSelection(event.key === "ArrowDown" ? 1 : -1);
    }
  });
  document.addEventListener("visibilitychange", () => {
    const view = current();
    if (!document.hidden && view && view.unread) {
      view.unread = 0;
      renderList();
    }
  });
}

async function boot() {
  const me = await signIn(api);
  state.me = me;
  // Everything is wired before the first await, so nothing the technician does early is lost.
  alerts = new Alerts({ groupName, onPickUp: pickUp });
  alerts.setupPermissionButton();
  details = new Details({ api, current, groupName, techName, notify, openChat });
  composer = new Composer({
    api,
    socket: () => state.socket,
    view: (id) => state.chats.get(id),
    current,
    isOpen,
    notify,
    handleKey: (event) => canned.handleKey(event),
  });
  canned = new Canned({
    api,
    chatId: () => current()?.chat.id,
    composer: ui.message,
    insert: (text, from) => composer.insert(text, from),
    notify,
  });
  whispers = new Whispers({
    api,
    me: () => state.me,
    current,
    view: (id) => state.chats.get(id),
    notify,
    canWhisper,
    shown: whisperShown,
  });
  new ChatActions({
    api,
    me: () => state.me,
    current,
    applyChat,
    notify,
    groupName,
    canWhisper,
    canEmailTranscript,
    whisper: () => whispers.open(),
  });
  offline = new OfflineNotices({ onArrive: () => alerts.chime() });
  suggestions = new Suggestions({
    api,
    current,
    canUse: isOpen,
    insertCanned: (item) => canned.insertSuggested(item),
  });
  new Search({ api, openChat: openFromSearch });
  new Uploader(
    {
      token: () => null,
      chatId: () => current()?.chat.id ?? null,
      canUpload: () => Boolean(current()) && isOpen(current().chat),
      onMessage: (message) => state.chats.get(message?.chat_id)?.timeline.accept(message),
      notify,
    },
    { button: ui.attach, input: byId("attach-input"), pasteTarget: ui.message, dropTarget: ui.pane, list: byId("uploads") },
  );
  bindUi();
  showStatus(me.status || "offline");
  showPane(null);
  await loadReference();
  await loadChats();
  connect();
  canned.loadAll();
  // /console?chat=<id> (a request's chat on /requests) opens that chat.
  const wanted = Number(new URLSearchParams(location.search).get("chat"));
  if (Number.isInteger(wanted) && wanted > 0) openChat(wanted);
  setInterval(refreshReading, READER_REFRESH_MS);
}

/** The open chat is active but we are not in it (an admin reading it): no frames bring its messages. */
async function refreshReading() {
  const view = current();
  if (!view || view.chat.state !== "active" || isParticipant(view.chat) || document.hidden) return;
  view.timeline.fill();
  try {
    const chat = await api.get(`/chats/${view.chat.id}`);
    if (state.chats.get(chat.id) === view) applyChat(chat);
  } catch {
    /* shown as it was; the next round tries again */
  }
}

boot();
