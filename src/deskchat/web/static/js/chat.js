// End-user chat page (/chat, also inside the widget iframe with ?embed=1).
import { createApi, fetchMessagesAfter, query } from "./lib/api.js";
import { AttachmentStore, Uploader } from "./lib/attachments.js";
import { byId, createNotifier, el, formatDateTime, formatDuration, randomId, replaceChildren, secondsSince } from "./lib/dom.js";
import { downloadText, renderMessage, transcriptText } from "./lib/messages.js";
import { openStorage } from "./lib/storage.js";
import { SeqTimeline } from "./lib/timeline.js";
import { LiveSocket } from "./lib/ws.js";

const STORE_KEY = "deskchat.visitor";
const PROFILE_KEY = "deskchat.profile";
const REQUESTER_KEY = "deskchat.requester"; // a verified requester's token: {visitor_token}
const IDENTITY_WAIT_MS = 10000;
const STATE_LABELS = { waiting: "Waiting", active: "Active", ended: "Ended", missed: "Missed" };
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
  requester: null, // a verified requester: {token, id, name, email}; their token stays after End Chat
  // (token is null for single sign-on: the HttpOnly session cookie says who they are)
  hostIdentity: false, // signed in by the host page's identity token (the host signs out, not us)
  files: null, // AttachmentStore of the open conversation (object URLs, revoked when it closes)
  uploader: null,
  score: 0, // the rating chosen, before Send Rating
  composerSpot: null, // stands in for the composer while the offline form is on the page
  // GET /portal/config: {email, max_attachment_bytes}; email null until known (or when the server has no
  // such endpoint: the button shows and a 409 email_disabled says email is not set up).
  config: { email: null },
  transcriptSent: false,
};

const api = createApi({ bearer: () => state.token });
const ui = {
  start: byId("start-view"),
  startForm: byId("start-form"),
  startButton: byId("start-button"),
  group: byId("group"),
  groupHint: byId("group-hint"),
  closedHint: byId("closed-hint"),
  unavailable: byId("unavailable"),
  chatFields: byId("chat-fields"),
  offlineSlot: byId("offline-slot"),
  offlineSent: byId("offline-sent"),
  offlineSentText: byId("offline-sent-text"),
  name: byId("name"),
  email: byId("email"),
  identityFields: byId("identity-fields"),
  signedIn: byId("signed-in"),
  signedInName: byId("signed-in-name"),
  signOut: byId("sign-out"),
  sso: document.getElementById("sso-sign-in"),
  myChats: byId("my-chats"),
  myChatsList: byId("my-chats-list"),
  myChatsButton: byId("my-chats-button"),
  question: byId("question"),
  chat: byId("chat-view"),
  waiting: byId("waiting"),
  waited: byId("waited"),
  queuePosition: byId("queue-position"),
  queueEstimate: byId("queue-estimate"),
  timeline: byId("timeline"),
  typing: byId("typing"),
  ended: byId("ended"),
  endedTitle: byId("ended-title"),
  endedText: byId("ended-text"),
  ratingForm: byId("rating-form"),
  ratingComment: byId("rating-comment"),
  ratingSubmit: byId("rating-submit"),
  ratingDone: byId("rating-done"),
  transcriptEmail: byId("transcript-email"),
  transcriptEmailButton: byId("transcript-email-button"),
  transcriptEmailDone: byId("transcript-email-done"),
  composer: byId("composer"),
  message: byId("message"),
  uploads: byId("uploads"),
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

// ---- verified requester ------------------------------------------------------

// Inside the widget with `data-identity-token`: widget.js marks the frame's URL with `identity=1` (never
// the token itself) and posts the token to this origin once the frame has loaded. Only a message from
// the parent window and the validated host origin counts. Registered before the first await of boot,
// so it is listening before the frame's load event; gives up after IDENTITY_WAIT_MS.
function waitForIdentity() {
  const host = hostOrigin();
  if (!host || new URLSearchParams(location.search).get("identity") !== "1") return null;
  return new Promise((resolve) => {
    const done = (token) => {
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
      resolve(token);
    };
    const onMessage = (event) => {
      if (event.source !== window.parent || event.origin !== host) return;
      const data = event.data;
      if (!data || data.type !== "deskchat:identity" || typeof data.identity_token !== "string") return;
      done(data.identity_token);
    };
    const timer = setTimeout(() => done(null), IDENTITY_WAIT_MS);
    window.addEventListener("message", onMessage);
  });
}

function adoptRequester(token, requester) {
  state.requester = { token, id: requester.id, name: requester.name || "", email: requester.email || "" };
  state.token = token;
  writeJson(REQUESTER_KEY, { visitor_token: token });
}

function forgetRequester() {
  const saved = readJson(REQUESTER_KEY);
  const stored = loadStored();
  // A chat record made with that token is the same verified requester's: it goes too.
  if (saved && stored && stored.visitor_token === saved.visitor_token) forget();
  forget(REQUESTER_KEY);
  if (saved?.visitor_token) forget(PROFILE_KEY);
  state.requester = null;
  state.hostIdentity = false;
}

/** Who is here: the host's identity token exchanged now, else a verified token this origin kept. */
async function establishRequester(identity) {
  if (identity) {
    const identityToken = await identity;
    if (identityToken) {
      try {
        const session = await api.post("/requester-sessions", { identity_token: identityToken });
        adoptRequester(session.visitor_token, session.requester || {});
        state.hostIdentity = true;
        return;
      } catch (err) {
        // Whoever was signed in on this device before is not necessarily who is here now.
        forgetRequester();
        state.token = null;
        notify("We could not confirm who you are. Please enter your name and email.");
        return;
      }
    }
  }
  const saved = readJson(REQUESTER_KEY)?.visitor_token;
  if (!saved) return establishSso();
  state.token = saved;
  try {
    const me = await api.get("/me");
    if (me?.kind === "requester" && me.verified === true) {
      adoptRequester(saved, me);
      return;
    }
    forgetRequester();
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) forgetRequester();
  }
  state.token = null;
}

/** Signed in by single sign-on: the session cookie (sent by the browser, unreadable here) is the requester. */
async function establishSso() {
  if (window.parent !== window) return; // in a portal's frame the portal's identity token is the way
  try {
    const me = await api.get("/me");
    if (me?.kind === "requester" && me.verified === true) {
      state.requester = { token: null, sso: true, id: me.id, name: me.name || "", email: me.email || "" };
    }
  } catch (err) {
    // no session cookie (or an expired one): an unverified visitor, as before
  }
}

async function offerSso() {
  if (window.parent !== window || !ui.sso) return;
  try {
    const providers = await api.get("/auth/providers");
    ui.sso.hidden = !(providers?.oidc && !state.requester);
  } catch (err) {
    ui.sso.hidden = true;
  }
}

async function signOut() {
  if (state.requester?.sso) {
    try {
      state.token = null;
      await api.post("/auth/logout"); // revokes the session and clears its cookie
    } catch (err) {
      // already signed out on the server: forgetting it here is all that is left
    }
  }
  closeChat();
  forgetRequester();
  forget(PROFILE_KEY);
  state.token = null;
  ui.name.value = "";
  ui.email.value = "";
  showStart().then(() => ui.group.focus());
}

// ---- My Chats (verified requesters) ----------------------------------------------

async function loadMyChats() {
  if (!state.requester) return;
  let chats;
  try {
    const data = await api.get(`/chats${query({ limit: 50 })}`);
    chats = data?.items || [];
  } catch (err) {
    notify(err.message);
    return;
  }
  if (!state.requester || ui.start.hidden) return;
  replaceChildren(
    ui.myChatsList,
    chats.length ? chats.map(myChatItem) : el("li", { className: "empty" }, "No chats yet."),
  );
}

function myChatItem(chat) {
  const button = el(
    "button",
    { type: "button", className: "my-chat" },
    el("span", { className: "my-chat__subject" }, chat.subject || `Chat ${chat.id}`),
    el(
      "span",
      { className: "my-chat__meta" },
      el("span", { className: `pill pill--${chat.state}` }, STATE_LABELS[chat.state] || chat.state),
      el("time", { dateTime: chat.created_at, className: "muted small" }, formatDateTime(chat.created_at)),
    ),
  );
  button.addEventListener("click", () => openMyChat(chat.id));
  return el("li", {}, button);
}

async function openMyChat(chatId) {
  try {
    const chat = await api.get(`/chats/${chatId}`);
    notify("");
    enterChat(chat, { remember: !FINAL_STATES.has(chat.state) });
  } catch (err) {
    notify(err.message);
  }
}

/** Back to the start form and My Chats; the chat goes on (or stays ended) on the server. */
function showMyChats() {
  closeChat();
  forget();
  showStart().then(() => byId("my-chats-title").focus());
}

// ---- start form ------------------------------------------------------------

async function showStart() {
  ui.chat.hidden = true;
  ui.start.hidden = false;
  ui.startForm.hidden = false;
  ui.offlineSent.hidden = true;
  ui.headerStatus.textContent = "Live chat with our technicians";
  const verified = Boolean(state.requester);
  ui.identityFields.hidden = verified;
  ui.signedIn.hidden = !verified;
  ui.signOut.hidden = !verified || state.hostIdentity;
  ui.myChats.hidden = !verified;
  offerSso();
  if (verified) {
    state.token = state.requester.token;
    ui.signedInName.textContent = `Signed in as ${state.requester.name || state.requester.email}`;
    loadMyChats();
  } else {
    replaceChildren(ui.myChatsList);
    const profile = readJson(PROFILE_KEY) || {};
    if (profile.name && !ui.name.value) ui.name.value = profile.name;
    if (profile.email && !ui.email.value) ui.email.value = profile.email;
  }
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
    const availability = !availabilityOf(group).open ? "closed now" : online > 0 ? `${online} online` : "nobody online";
    options.push(el("option", { value: String(group.id) }, `${group.name} — ${availability}`));
  }
  replaceChildren(ui.group, options);
  if (chosen && groups.some((g) => String(g.id) === chosen)) ui.group.value = chosen;
  else if (groups.length === 1) ui.group.value = String(groups[0].id);
  state.groups = groups;
  groupHint();
}

/** {open, available} of a portal group (a server without opening hours sends neither: online decides). */
function availabilityOf(group) {
  const open = group.open_now !== false;
  const available = typeof group.available === "boolean" ? group.available : open && (group.online_technicians || 0) > 0;
  return { open, available };
}

/**
 * What the chosen group offers: a chat (available), a chat that waits and the offline form (open,
 * nobody online), or only the offline form (closed now).
 */
function groupHint() {
  const group = state.groups.find((g) => String(g.id) === ui.group.value);
  const { open, available } = group ? availabilityOf(group) : { open: true, available: true };
  ui.unavailable.hidden = available;
  ui.groupHint.hidden = available || !open;
  ui.closedHint.hidden = open;
  ui.chatFields.hidden = !open;
  if (available) ui.group.removeAttribute("aria-describedby");
  else ui.group.setAttribute("aria-describedby", "unavailable");
  // A message being written stays, even if a technician came online meanwhile.
  const writing = Boolean(document.getElementById("offline-message")?.value.trim());
  showOffline(!available || writing, { only: !open });
}

// ---- offline messages -------------------------------------------------------------

/**
 * Show or take away the offline form. Its Message field and the composer's are never on the page
 * together (one field per label): the composer waits outside the page meanwhile.
 */
function showOffline(show, { only = false } = {}) {
  const shown = Boolean(document.getElementById("offline"));
  if (show && !shown) {
    ui.offlineSlot.append(byId("offline-template").content.cloneNode(true));
    state.composerSpot = document.createComment("composer");
    ui.composer.replaceWith(state.composerSpot);
  } else if (!show && shown) {
    replaceChildren(ui.offlineSlot);
    state.composerSpot?.replaceWith(ui.composer);
    state.composerSpot = null;
  }
  if (!show) return;
  byId("offline-title").textContent = only ? "Leave a message" : "Or leave a message";
  byId("offline-button").classList.toggle("primary", only);
}

function offlineInvalidField(field) {
  if (!ui.group.value) return [ui.group, "Please choose a group."];
  if (!state.requester) {
    if (!ui.name.value.trim()) return [ui.name, "Please enter your name."];
    if (!ui.email.value.trim() || !ui.email.checkValidity()) return [ui.email, "Please enter a valid email address."];
  }
  if (!field.value.trim()) return [field, "Please write your message."];
  return null;
}

async function leaveMessage() {
  const field = byId("offline-message");
  const invalid = offlineInvalidField(field);
  if (invalid) {
    invalid[0].focus();
    notify(invalid[1]);
    return;
  }
  const button = byId("offline-button");
  button.disabled = true;
  // The API takes a name and an email from everyone; a verified requester's are the ones we know.
  const requester = state.requester;
  const payload = {
    group_id: Number(ui.group.value),
    name: requester ? requester.name || requester.email : ui.name.value.trim(),
    email: requester ? requester.email : ui.email.value.trim(),
    message: field.value.trim(),
  };
  try {
    const result = await api.post("/portal/offline-messages", payload);
    notify("");
    field.value = "";
    showOfflineSent(result.request_id);
  } catch (err) {
    notify(fieldErrors(err) || err.message);
  } finally {
    button.disabled = false;
  }
}

function showOfflineSent(requestId) {
  ui.startForm.hidden = true;
  ui.offlineSent.hidden = false;
  ui.offlineSentText.textContent = requestId
    ? `Thanks — we received your message as request #${requestId}; a technician will reply by email.`
    : "Thanks — we received your message; a technician will reply by email.";
  ui.offlineSent.focus();
}

function offlineAgain() {
  ui.offlineSent.hidden = true;
  ui.startForm.hidden = false;
  loadGroups();
  ui.group.focus();
}

function firstInvalidField() {
  if (!ui.group.value) return [ui.group, "Please choose a group."];
  if (!state.requester) {
    if (!ui.name.value.trim()) return [ui.name, "Please enter your name."];
    if (!ui.email.value.trim() || !ui.email.checkValidity()) return [ui.email, "Please enter a valid email address."];
  }
  if (!ui.question.value.trim()) return [ui.question, "Please describe your question."];
  return null;
}

/** The start form's submit: Start Chat, or Leave a Message (always, when the group is closed now). */
function submitStart(event) {
  event.preventDefault();
  if (event.submitter?.dataset.action === "offline" || ui.chatFields.hidden) leaveMessage();
  else startChat();
}

async function startChat() {
  const invalid = firstInvalidField();
  if (invalid) {
    invalid[0].focus();
    notify(invalid[1]);
    return;
  }
  ui.startButton.disabled = true;
  try {
    // A verified requester's bearer says who they are: no name or email.
    const verified = Boolean(state.requester);
    const payload = verified
      ? { group_id: Number(ui.group.value), message: ui.question.value.trim(), client_msg_id: randomId() }
      : {
          group_id: Number(ui.group.value),
          name: ui.name.value.trim(),
          email: ui.email.value.trim(),
          message: ui.question.value.trim(),
          client_msg_id: randomId(),
        };
    if (verified) state.token = state.requester.token;
    const result = await api.post("/chats", payload);
    if (!verified) writeJson(PROFILE_KEY, { name: payload.name, email: payload.email });
    state.token = result.visitor_token;
    ui.question.value = "";
    notify("");
    enterChat(result.chat);
  } catch (err) {
    notify(fieldErrors(err) || err.message);
    if (err.type === "group_closed") loadGroups(); // closed meanwhile: the offline form shows
  } finally {
    ui.startButton.disabled = false;
  }
}

function fieldErrors(err) {
  const errors = err.problem?.errors;
  if (!errors || typeof errors !== "object") return null;
  const message = document.getElementById("offline") ? "Message" : "Question";
  const labels = { group_id: "Group", name: "Name", email: "Email", message };
  return Object.entries(errors)
    .map(([field, text]) => `${labels[field] || field}: ${text}`)
    .join(" ");
}

// ---- conversation ------------------------------------------------------------

function enterChat(chat, { remember = true } = {}) {
  clearInterval(state.groupsTimer);
  showOffline(false);
  state.files?.clear();
  state.files = new AttachmentStore({ token: () => state.token });
  state.score = 0;
  state.transcriptSent = false;
  ui.transcriptEmailDone.hidden = true;
  ui.transcriptEmailButton.hidden = false;
  state.chat = chat;
  state.messages = [];
  state.keep = remember; // a finished chat opened from My Chats is only looked at
  replaceChildren(ui.timeline);
  ui.start.hidden = true;
  ui.chat.hidden = false;
  ui.myChatsButton.hidden = !state.requester;
  const timeline = new SeqTimeline({
    fetchAfter: (seq) => fetchMessagesAfter(api, chat.id, seq),
    // A fill still running for a chat that was closed (My Chats) must not reach this view.
    onMessage: (message, options) => {
      if (state.timeline === timeline) showMessage(message, options);
    },
  });
  state.timeline = timeline;
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
  const item = renderMessage(message, { kind: "requester" }, { files: state.files, onError: notify });
  ui.timeline.append(item);
  const stick = nearBottom || message.author?.kind === "requester";
  if (stick) ui.timeline.scrollTop = ui.timeline.scrollHeight;
  // A thumbnail grows once its bytes are there: stay at the bottom if we were.
  item.querySelector("img")?.addEventListener("load", () => {
    if (stick) ui.timeline.scrollTop = ui.timeline.scrollHeight;
  });
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
  showQueue(chat);
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

/** "You are number 2 in the queue", "Estimated wait: about 3 min" (from the chat's queue fields). */
function showQueue(chat) {
  const waiting = chat.state === "waiting";
  const position = chat.queue_position;
  const estimate = chat.estimated_wait_seconds;
  ui.queuePosition.textContent = waiting && Number.isInteger(position) ? `You are number ${position} in the queue` : "";
  ui.queueEstimate.textContent =
    waiting && typeof estimate === "number" ? `Estimated wait: ${waitEstimate(estimate)}` : "";
}

function waitEstimate(seconds) {
  if (seconds < 60) return "less than a minute";
  return `about ${Math.round(seconds / 60)} min`;
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
  // Catch the closing system messages, then let the socket go (this chat's, even if another opened since).
  const { socket, timeline } = state;
  try {
    await timeline?.fill();
  } finally {
    socket?.stop();
    if (state.socket === socket) ui.banner.hidden = true;
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
  showRating();
  showTranscriptEmail();
  ui.waiting.hidden = true;
  ui.timeline.scrollTop = ui.timeline.scrollHeight;
}

// ---- transcript by email ----------------------------------------------------------

async function loadConfig() {
  try {
    const config = await api.get("/portal/config");
    state.config = { ...state.config, ...(config || {}) };
  } catch (err) {
    // An older server without /portal/config: offer the button, the server says if email is off.
  }
  showTranscriptEmail();
}

/** After the end (not a missed chat, which is emailed anyway): Email me the transcript, when email is on. */
function showTranscriptEmail() {
  const ended = state.chat?.state === "ended" && !ui.ended.hidden;
  ui.transcriptEmail.hidden = !ended || state.config.email === false;
  ui.transcriptEmailButton.hidden = state.transcriptSent;
}

async function emailTranscript() {
  const chat = state.chat;
  if (!chat) return;
  ui.transcriptEmailButton.disabled = true;
  try {
    await api.post(`/chats/${chat.id}/transcript-email`);
    if (state.chat !== chat) return;
    const email = chat.requester?.email || state.requester?.email || "";
    state.transcriptSent = true;
    ui.transcriptEmailButton.hidden = true;
    ui.transcriptEmailDone.textContent = email
      ? `We sent the transcript to ${email}.`
      : "We sent the transcript to your email address.";
    ui.transcriptEmailDone.hidden = false;
    ui.transcriptEmailDone.focus();
  } catch (err) {
    if (err.type === "email_disabled") {
      state.config.email = false;
      ui.transcriptEmailButton.hidden = true;
      ui.transcriptEmailDone.textContent =
        "Email is not set up on this service desk, so we cannot send the transcript. Use Save transcript instead.";
      ui.transcriptEmailDone.hidden = false;
    } else {
      notify(err.message);
    }
  } finally {
    ui.transcriptEmailButton.disabled = false;
  }
}

// ---- rating ----------------------------------------------------------------------

/** After the end (not a missed chat): How did we do?, once; a rated chat shows its rating. */
function showRating() {
  const chat = state.chat;
  const ended = chat?.state === "ended";
  const rating = chat?.rating;
  ui.ratingForm.hidden = !ended || Boolean(rating);
  ui.ratingDone.hidden = !ended || !rating;
  if (rating) ui.ratingDone.textContent = `You rated this chat ${rating.score}/5. Thank you for your feedback!`;
  if (!ui.ratingForm.hidden) chooseScore(state.score);
}

function chooseScore(score) {
  state.score = score;
  for (const button of ui.ratingForm.querySelectorAll(".rating__score")) {
    const value = Number(button.dataset.score);
    button.setAttribute("aria-pressed", String(value === score));
    button.classList.toggle("is-filled", value <= score);
  }
}

async function sendRating(event) {
  event.preventDefault();
  const chat = state.chat;
  if (!chat) return;
  if (!state.score) {
    notify("Please choose a rating from 1 to 5.");
    ui.ratingForm.querySelector(".rating__score")?.focus();
    return;
  }
  const body = { score: state.score };
  const comment = ui.ratingComment.value.trim();
  if (comment) body.comment = comment;
  ui.ratingSubmit.disabled = true;
  try {
    const rating = await api.post(`/chats/${chat.id}/rating`, body);
    if (state.chat !== chat) return;
    ui.ratingComment.value = "";
    state.chat = { ...chat, rating: { score: rating?.score ?? body.score, comment: rating?.comment ?? comment } };
    notify("");
    showRating();
    ui.ratingDone.focus();
  } catch (err) {
    notify(err.message);
    if (err.type === "invalid_state") refreshChat();
  } finally {
    ui.ratingSubmit.disabled = false;
  }
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
    state.timeline?.accept(message);
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
// A verified requester stays signed in: only this chat's record goes (their token is kept).
function leave() {
  state.keep = false;
  if (state.requester) forget();
  else forget(PROFILE_KEY);
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

/** Leave the conversation view: no socket, no timers; the token is the verified requester's or none. */
function closeChat() {
  state.socket?.stop();
  state.socket = null;
  state.chat = null;
  state.timeline = null;
  state.messages = [];
  state.token = state.requester?.token || null;
  state.names.clear();
  state.files?.clear();
  state.files = null;
  state.score = 0;
  state.uploader?.reset();
  clearTyping();
  clearInterval(state.waitTimer);
  replaceChildren(ui.timeline);
  ui.ended.hidden = true;
  ui.ratingForm.hidden = true;
  ui.ratingDone.hidden = true;
  ui.ratingComment.value = "";
  state.transcriptSent = false;
  ui.transcriptEmail.hidden = true;
  ui.transcriptEmailButton.hidden = false;
  ui.transcriptEmailDone.hidden = true;
  ui.transcriptEmailDone.textContent = "";
  ui.waiting.hidden = true;
  ui.composer.hidden = false;
  ui.endChat.hidden = false;
  ui.banner.hidden = true;
}

function newChat() {
  closeChat();
  forget();
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
  // A verified requester's current token reaches all their chats (a record kept from an earlier
  // sign-in, or one made by someone else on this device, is checked by the server the same way).
  state.token = state.requester?.token || stored.visitor_token;
  try {
    const chat = await api.get(`/chats/${stored.chat_id}`);
    enterChat(chat);
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) {
      forget();
      state.token = state.requester?.token || null;
      await showStart();
    } else {
      notify(err.message);
      await showStart();
    }
  }
}

async function boot() {
  if (new URLSearchParams(location.search).get("embed") === "1") document.body.classList.add("embed");
  ui.startForm.addEventListener("submit", submitStart);
  byId("offline-again").addEventListener("click", offlineAgain);
  ui.ratingForm.addEventListener("submit", sendRating);
  ui.transcriptEmailButton.addEventListener("click", emailTranscript);
  for (const button of ui.ratingForm.querySelectorAll(".rating__score")) {
    button.addEventListener("click", () => chooseScore(Number(button.dataset.score)));
  }
  state.uploader = new Uploader(
    {
      token: () => state.token,
      chatId: () => state.chat?.id ?? null,
      canUpload: () => Boolean(state.chat) && !FINAL_STATES.has(state.chat.state),
      onMessage: (message) => {
        if (message?.chat_id === state.chat?.id) state.timeline?.accept(message);
      },
      notify,
    },
    { button: byId("attach"), input: byId("attach-input"), pasteTarget: ui.message, dropTarget: ui.chat, list: ui.uploads },
  );
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
  ui.myChatsButton.addEventListener("click", showMyChats);
  ui.signOut.addEventListener("click", signOut);
  state.storage = openStorage();
  const identity = waitForIdentity(); // listening before the first await
  loadConfig();
  if (identity) ui.headerStatus.textContent = "Signing you in…";
  await establishRequester(identity);
  const stored = loadStored();
  if (stored) resume(stored);
  else showStart();
}

boot();
