// End-user chat page (/chat, also inside the widget iframe with ?embed=1).
import { createApi, fetchMessagesAfter } from "./lib/api.js";
import { byId, createNotifier, el, formatDuration, randomId, replaceChildren, secondsSince } from "./lib/dom.js";
import { downloadText, renderMessage, transcriptText } from "./lib/messages.js";
import { openStorage } from "./lib/storage.js";
import { SeqTimeline } from "./lib/timeline.js";
import { LiveSocket } from "./lib/ws.js";

const STORE_KEY = "deskchat.visitor";
const PROFILE_KEY = "deskchat.profile";
const TYPING_EVERY_MS = 2500;
const TYPING_SHOWN_MS = 4000;
const FINAL_STATES = new Set(["ended", "missed"]);

const state = {
  token: null,
  chat: null,
  timeline: null,
  socket: null,
  messages: [],
  names: new Map(),
  lastTypingSent: 0,
  typingTimer: null,
  waitTimer: null,
  groupsTimer: null,
  storage: null,
  keep: true, // false once the requester pressed End Chat: the record stays forgotten
  groups: [],
};

const api = createApi({ bearer: () => state.token });
const ui = {
  start: byId("start-view"),
  startForm: byId("start-form"),
  startButton: byId("start-button"),
  group: byId("group"),
  groupHint: byId("group-hint"),
  name: byId("name"),
  email: byId("email"),
  question: byId("question"),
  chat: byId("chat-view"),
  waiting: byId("waiting"),
  waited: byId("waited"),
  timeline: byId("timeline"),
  typing: byId("typing"),
  ended: byId("ended"),
  endedTitle: byId("ended-title"),
  endedText: byId("ended-text"),
  composer: byId("composer"),
  message: byId("message"),
  endChat: byId("end-chat"),
  save: byId("save-transcript"),
  newChat: byId("new-chat"),
  banner: byId("banner"),
  headerStatus: byId("header-status"),
};
const notify = createNotifier(byId("notice"));

// ---- storage -------------------------------------------------------------

function readJson(key) {
  try {
    return JSON.parse(state.storage.get(key) || "null");
  } catch {
    return null;
  }
}

function writeJson(key, value) {
  try {
    state.storage.set(key, JSON.stringify(value));
  } catch {
    /* storage full or gone: the chat still works until reload */
  }
}

function loadStored() {
  try {
    const data = readJson(STORE_KEY);
    return data && data.chat_id && data.visitor_token ? data : null;
  } catch {
    return null;
  }
}

function store() {
  if (!state.chat || !state.keep) return;
  writeJson(STORE_KEY, { chat_id: state.chat.id, visitor_token: state.token, last_seq: state.timeline?.lastSeq || 0 });
}

function forget(...keys) {
  for (const key of [STORE_KEY, ...keys]) {
    try {
      state.storage.remove(key);
    } catch {
      /* ignore */
    }
  }
}

// Inside the widget: the host page's origin, named by widget.js in `host`. The server framed this
// page only for that origin (frame-ancestors), and messages are posted to exactly that origin.
function hostOrigin() {
  if (window.parent === window) return null;
  const host = new URLSearchParams(location.search).get("host");
  try {
    if (!host || new URL(host).origin !== host) return null;
  } catch {
    return null;
  }
  const ancestors = location.ancestorOrigins;
  return ancestors && ancestors.length && ancestors[0] !== host ? null : host;
}

// ---- start form ------------------------------------------------------------

async function showStart() {
  ui.chat.hidden = true;
  ui.start.hidden = false;
  ui.headerStatus.textContent = "Live chat with our technicians";
  const profile = readJson(PROFILE_KEY) || {};
  if (profile.name && !ui.name.value) ui.name.value = profile.name;
  if (profile.email && !ui.email.value) ui.email.value = profile.email;
  await loadGroups();
  clearInterval(state.groupsTimer);
  state.groupsTimer = setInterval(loadGroups, 30000);
}

async function loadGroups() {
  let groups;
  try {
    const data = await api.get("/portal/groups");
    groups = data?.items || data || [];
  } catch (err) {
    notify(err.message);
    return;
  }
  const chosen = ui.group.value;
  const options = [el("option", { value: "" }, groups.length ? "Choose a group" : "No groups available")];
  for (const group of groups) {
    const online = group.online_technicians || 0;
    const availability = online > 0 ? `${online} online` : "nobody online";
    options.push(el("option", { value: String(group.id) }, `${group.name} — ${availability}`));
  }
  replaceChildren(ui.group, options);
  if (chosen && groups.some((g) => String(g.id) === chosen)) ui.group.value = chosen;
  else if (groups.length === 1) ui.group.value = String(groups[0].id);
  state.groups = groups;
  groupHint();
}

function groupHint() {
  const group = state.groups.find((g) => String(g.id) === ui.group.value);
  ui.groupHint.hidden = !group || (group.online_technicians || 0) > 0;
}

function firstInvalidField() {
  if (!ui.group.value) return [ui.group, "Please choose a group."];
  if (!ui.name.value.trim()) return [ui.name, "Please enter your name."];
  if (!ui.email.value.trim() || !ui.email.checkValidity()) return [ui.email, "Please enter a valid email address."];
  if (!ui.question.value.trim()) return [ui.question, "Please describe your question."];
  return null;
}

async function startChat(event) {
  event.preventDefault();
  const invalid = firstInvalidField();
  if (invalid) {
    invalid[0].focus();
    notify(invalid[1]);
    return;
  }
  ui.startButton.disabled = true;
  try {
    const payload = {
      group_id: Number(ui.group.value),
      name: ui.name.value.trim(),
      email: ui.email.value.trim(),
      message: ui.question.value.trim(),
      client_msg_id: randomId(),
    };
    const result = await api.post("/chats", payload);
    writeJson(PROFILE_KEY, { name: payload.name, email: payload.email });
    state.token = result.visitor_token;
    ui.question.value = "";
    notify("");
    enterChat(result.chat);
  } catch (err) {
    notify(fieldErrors(err) || err.message);
  } finally {
    ui.startButton.disabled = false;
  }
}

function fieldErrors(err) {
  const errors = err.problem?.errors;
  if (!errors || typeof errors !== "object") return null;
  const labels = { group_id: "Group", name: "Name", email: "Email", message: "Question" };
  return Object.entries(errors)
    .map(([field, text]) => `${labels[field] || field}: ${text}`)
    .join(" ");
}

// ---- conversation ------------------------------------------------------------

function enterChat(chat) {
  clearInterval(state.groupsTimer);
  state.chat = chat;
  state.messages = [];
  state.keep = true;
  replaceChildren(ui.timeline);
  ui.start.hidden = true;
  ui.chat.hidden = false;
  state.timeline = new SeqTimeline({
    fetchAfter: (seq) => fetchMessagesAfter(api, chat.id, seq),
    onMessage: showMessage,
  });
  store();
  applyChat(chat);
  state.timeline.fill();
  if (!FINAL_STATES.has(chat.state)) connect();
  ui.message.focus();
}

function connect() {
  state.socket?.stop();
  state.socket = new LiveSocket({
    token: () => state.token,
    onHello: () => {
      state.socket.send({ type: "resume", chats: { [state.chat.id]: state.timeline.lastSeq } });
    },
    onFrame: handleFrame,
    onStatus: (up) => {
      ui.banner.hidden = up;
    },
    onFatal: () => {
      notify("This chat is no longer available.");
    },
  }).start();
}

function handleFrame(frame) {
  const chatId = state.chat?.id;
  if (frame.type === "message" && frame.chat_id === chatId) {
    state.timeline.accept(frame.data);
  } else if (frame.type === "chat" && frame.data?.id === chatId) {
    applyChat(frame.data);
  } else if (frame.type === "typing" && frame.chat_id === chatId) {
    showTyping(frame.author);
  } else if (frame.type === "error") {
    notify(frame.error?.detail || "Something went wrong.");
  }
}

function showMessage(message, { live = false } = {}) {
  state.messages.push(message);
  // Inside the widget: tell the launcher (no content, just that a technician wrote).
  const host = live && message.author?.kind === "technician" ? hostOrigin() : null;
  if (host) window.parent.postMessage({ type: "deskchat:message" }, host);
  if (message.author?.kind === "technician" && message.author.name) {
    const known = state.names.has(message.author.id);
    state.names.set(message.author.id, message.author.name);
    clearTyping();
    if (!known) refreshHeader();
  }
  const nearBottom = ui.timeline.scrollHeight - ui.timeline.scrollTop - ui.timeline.clientHeight < 120;
  ui.timeline.append(renderMessage(message, { kind: "requester" }));
  if (nearBottom || message.author?.kind === "requester") ui.timeline.scrollTop = ui.timeline.scrollHeight;
  store();
  if (message.event === "missed" && state.chat?.state === "missed") showEnded();
  else if (message.event) refreshHeader();
}

function applyChat(chat) {
  const wasFinal = FINAL_STATES.has(state.chat?.state) && state.chat !== chat;
  state.chat = chat;
  refreshHeader();
  const waiting = chat.state === "waiting";
  ui.waiting.hidden = !waiting;
  clearInterval(state.waitTimer);
  if (waiting) {
    const tick = () => {
      ui.waited.textContent = formatDuration(secondsSince(chat.created_at));
    };
    tick();
    state.waitTimer = setInterval(tick, 1000);
  }
  if (FINAL_STATES.has(chat.state)) {
    if (!wasFinal) finish();
    showEnded();
  }
}

function refreshHeader() {
  const chat = state.chat;
  if (!chat) return;
  let text = "Live chat with our technicians";
  if (chat.state === "waiting") text = "Waiting for a technician";
  else if (chat.state === "active") {
    const name = state.names.get(chat.owner_id);
    text = name ? `You are chatting with ${name}` : "A technician has joined";
  } else if (chat.state === "ended") text = "Chat ended";
  else if (chat.state === "missed") text = "No technician was available";
  ui.headerStatus.textContent = text;
}

async function finish() {
  clearTyping();
  ui.composer.hidden = true;
  ui.endChat.hidden = true;
  // Catch the closing system messages, then let the socket go.
  try {
    await state.timeline.fill();
  } finally {
    state.socket?.stop();
    ui.banner.hidden = true;
  }
}

function missedRequestId() {
  if (state.chat?.request_id) return state.chat.request_id;
  const missed = state.messages.find((m) => m.event === "missed");
  const match = missed?.body?.match(/#(\d+)/);
  return match ? Number(match[1]) : null;
}

function showEnded() {
  const chat = state.chat;
  ui.ended.hidden = false;
  if (chat.state === "missed") {
    const requestId = missedRequestId();
    const email = chat.requester?.email;
    ui.endedTitle.textContent = requestId ? `Request #${requestId} created` : "No technician was available";
    ui.endedText.textContent = requestId
      ? `No technician could take your chat in time, so we logged your question as request #${requestId}. ` +
        `A technician will follow up by email${email ? ` at ${email}` : ""}. You do not need to wait here.`
      : "No technician could take your chat in time. Your question is being logged as a request and a " +
        "technician will follow up by email.";
  } else {
    ui.endedTitle.textContent = "Chat ended";
    ui.endedText.textContent = chat.request_id
      ? `Your conversation is recorded as request #${chat.request_id}. Thank you for contacting the service desk.`
      : "Thank you for contacting the service desk. You can save a copy of this conversation.";
  }
  ui.waiting.hidden = true;
  ui.timeline.scrollTop = ui.timeline.scrollHeight;
}

// ---- typing --------------------------------------------------------------------

function showTyping(author) {
  if (!author || author.kind === "requester") return;
  ui.typing.textContent = `${author.name || "The technician"} is typing…`;
  clearTimeout(state.typingTimer);
  state.typingTimer = setTimeout(clearTyping, TYPING_SHOWN_MS);
}

function clearTyping() {
  clearTimeout(state.typingTimer);
  ui.typing.textContent = "";
}

function sendTyping() {
  const now = Date.now();
  if (!state.chat || now - state.lastTypingSent < TYPING_EVERY_MS || !ui.message.value.trim()) return;
  state.lastTypingSent = now;
  state.socket?.send({ type: "typing", chat_id: state.chat.id });
}

// ---- actions ---------------------------------------------------------------------

async function sendMessage(event) {
  event.preventDefault();
  const body = ui.message.value.trim();
  if (!body || !state.chat) return;
  ui.message.value = "";
  autoGrow();
  try {
    const message = await api.post(`/chats/${state.chat.id}/messages`, { body, client_msg_id: randomId() });
    state.timeline.accept(message);
  } catch (err) {
    if (!ui.message.value) ui.message.value = body;
    notify(err.message);
    if (err.type === "invalid_state") refreshChat();
  }
}

async function refreshChat() {
  try {
    applyChat(await api.get(`/chats/${state.chat.id}`));
  } catch (err) {
    notify(err.message);
  }
}

// A shared PC shows nothing of this chat after a reload: no token, no chat id, no name. Forgotten
// at the click, so closing the page right away is enough; the page keeps what it shows (and the
// token in memory, to fetch the closing messages) until it is left.
function leave() {
  state.keep = false;
  forget(PROFILE_KEY);
}

async function endChat() {
  if (!state.chat) return;
  ui.endChat.disabled = true;
  leave();
  try {
    applyChat(await api.post(`/chats/${state.chat.id}/end`));
  } catch (err) {
    notify(err.message);
    if (err.type === "invalid_state") refreshChat();
    else {
      state.keep = true; // the chat goes on: a reload should still find it
      store();
    }
  } finally {
    ui.endChat.disabled = false;
  }
}

function saveTranscript() {
  if (!state.chat) return;
  downloadText(`deskchat-chat-${state.chat.id}.txt`, transcriptText(state.chat, state.messages));
}

function newChat() {
  state.socket?.stop();
  state.socket = null;
  state.chat = null;
  state.token = null;
  state.names.clear();
  forget();
  ui.ended.hidden = true;
  ui.composer.hidden = false;
  ui.endChat.hidden = false;
  ui.banner.hidden = true;
  showStart().then(() => ui.group.focus());
}

function autoGrow() {
  ui.message.style.height = "auto";
  ui.message.style.height = `${Math.min(ui.message.scrollHeight + 2, 160)}px`;
}

function composerKeys(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
}

// ---- boot -------------------------------------------------------------------------

async function resume(stored) {
  state.token = stored.visitor_token;
  try {
    const chat = await api.get(`/chats/${stored.chat_id}`);
    enterChat(chat);
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) {
      forget();
      state.token = null;
      await showStart();
    } else {
      notify(err.message);
      await showStart();
    }
  }
}

async function boot() {
  if (new URLSearchParams(location.search).get("embed") === "1") document.body.classList.add("embed");
  ui.startForm.addEventListener("submit", startChat);
  ui.group.addEventListener("change", groupHint);
  ui.composer.addEventListener("submit", sendMessage);
  ui.message.addEventListener("keydown", composerKeys);
  ui.message.addEventListener("input", () => {
    autoGrow();
    sendTyping();
  });
  ui.endChat.addEventListener("click", endChat);
  ui.save.addEventListener("click", saveTranscript);
  ui.newChat.addEventListener("click", newChat);
  state.storage = openStorage();
  const stored = loadStored();
  if (stored) resume(stored);
  else showStart();
}

boot();
