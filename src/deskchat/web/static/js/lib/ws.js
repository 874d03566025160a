// A WebSocket to /api/v1/ws that reconnects with exponential backoff and reports its state.

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;
const PING_EVERY_MS = 25000;

/** The URL of the live endpoint on this page's host. */
export function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/api/v1/ws`;
}

/**
 * LiveSocket keeps one connection up.
 * - token(): optional visitor/technician token sent as the first frame (else cookie auth)
 * - onHello(me): after authentication; send `resume` from here
 * - onFrame(frame): every other frame
 * - onStatus(connected: boolean): for the "Connection lost" banner
 * - onFatal(problem): the server refused our credentials (close code 1008)
 */
export class LiveSocket {
  constructor({ token = null, onHello, onFrame, onStatus, onFatal }) {
    this.token = token;
    this.onHello = onHello || (() => {});
    this.onFrame = onFrame || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onFatal = onFatal || (() => {});
    this.ws = null;
    this.ready = false;
    this.stopped = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.connectedOnce = false;
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    // Test hook: the current raw socket (closing it simulates a dropped connection).
    window.__deskchat_ws = ws;
    ws.addEventListener("open", () => {
      const token = this.token ? this.token() : null;
      if (token) ws.send(JSON.stringify({ type: "auth", token }));
    });
    ws.addEventListener("message", (event) => this.handle(ws, event));
    ws.addEventListener("close", (event) => this.closed(ws, event));
    ws.addEventListener("error", () => {});
  }

  handle(ws, event) {
    if (ws !== this.ws) return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (frame.type === "hello") {
      this.ready = true;
      this.attempt = 0;
      this.connectedOnce = true;
      this.startPing();
      this.onStatus(true);
      this.onHello(frame.data);
      return;
    }
    if (frame.type === "pong") return;
    this.onFrame(frame);
  }

  closed(ws, event) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.ready = false;
    clearInterval(this.pingTimer);
    if (this.stopped) return;
    if (event.code === 1008) {
      this.stopped = true;
      this.onStatus(false);
      this.onFatal({ detail: event.reason || "Your session is no longer valid." });
      return;
    }
    this.onStatus(false);
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.stopped) return;
    const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Try at once (the browser says the network is back). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.attempt = 0;
    this.connect();
  }

  startPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_EVERY_MS);
  }

  /** Send a frame; false when the socket is not up (the caller may fall back to REST). */
  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
