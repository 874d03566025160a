// Where the end-user page keeps its chat record (visitor token, chat id, last seq) between reloads,
// and a verified requester's token (signed in by the portal's identity token; End Chat keeps it).
//
// Always in storage of the deskchat origin, never in the widget's host page (docs/architecture.md,
// "Where the visitor token lives"):
// 1. This origin's localStorage: the /chat page itself, and the widget's iframe where the browser
//    grants a third-party frame storage (partitioned per top-level site by current browsers).
// 2. A partitioned cookie (CHIPS) written by this page, when the browser blocks third-party storage
//    (Chrome's third-party cookie blocking): partitioned cookies are exempt from that blocking, and
//    the host site can read neither this origin's cookies nor another site's partition.
// 3. Otherwise memory only: the chat works until the page is reloaded.

const COOKIE_PATH = "/chat";
// The visitor token's own life after its chat ended; a verified requester's token the server no longer
// accepts is dropped by the page (GET /me answers 401).
const COOKIE_MAX_AGE = 7 * 24 * 3600;

/** Open the best storage available: {kind, get(key), set(key, value), remove(key)}. */
export function openStorage() {
  return localStore() || cookieStore() || memoryStore();
}

function localStore() {
  try {
    const storage = window.localStorage;
    const probe = "deskchat.probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return {
      kind: "local",
      get: (key) => storage.getItem(key),
      set: (key, value) => storage.setItem(key, value),
      remove: (key) => storage.removeItem(key),
    };
  } catch {
    return null;
  }
}

function cookieStore() {
  // Partitioned cookies must be Secure, and only a secure context may set those.
  if (!window.isSecureContext) return null;
  const store = {
    kind: "cookie",
    get: (key) => readCookie(cookieName(key)),
    set: (key, value) => writeCookie(cookieName(key), encodeURIComponent(String(value)), COOKIE_MAX_AGE),
    remove: (key) => writeCookie(cookieName(key), "", 0),
  };
  try {
    store.set("deskchat.probe", "1");
    const works = store.get("deskchat.probe") === "1";
    store.remove("deskchat.probe");
    return works ? store : null;
  } catch {
    return null;
  }
}

function cookieName(key) {
  return key.replace(/[^A-Za-z0-9_-]/g, "_");
}

function writeCookie(name, value, maxAge) {
  // Path=/chat: the cookie goes only to the deskchat server's own page, which ignores it.
  document.cookie = `${name}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; SameSite=None; Secure; Partitioned`;
}

function readCookie(name) {
  for (const pair of document.cookie.split("; ")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq) === name) return decodeURIComponent(pair.slice(eq + 1));
  }
  return null;
}

function memoryStore() {
  const data = {};
  return {
    kind: "memory",
    get: (key) => (key in data ? data[key] : null),
    set: (key, value) => {
      data[key] = String(value);
    },
    remove: (key) => {
      delete data[key];
    },
  };
}
