// Where the end-user page keeps its chat (visitor token, last seq) between reloads.
//
// 1. Its own localStorage (on the deskchat origin, also inside the widget iframe).
// 2. When the browser denies storage to a third-party iframe (e.g. third-party cookies blocked in
//    Chrome), the widget on the host page keeps a copy for us, reached through a MessagePort.
// 3. Otherwise memory only: the chat works until the page is reloaded.

const PARENT_WAIT_MS = 1500;

/** Open the best storage available: {kind, get(key), set(key, value), remove(key)}. */
export async function openStorage() {
  const local = localStore();
  if (local) return local;
  if (window.parent !== window) {
    const parent = await parentStore();
    if (parent) return parent;
  }
  return memoryStore();
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

function memoryStore(initial = {}) {
  const data = { ...initial };
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

function parentStore() {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      window.removeEventListener("message", onMessage);
      resolve(null);
    }, PARENT_WAIT_MS);
    function onMessage(event) {
      const port = event.ports && event.ports[0];
      if (event.source !== window.parent || event.data?.type !== "deskchat:storage" || !port) return;
      clearTimeout(timer);
      window.removeEventListener("message", onMessage);
      const copy = memoryStore(event.data.data || {});
      resolve({
        kind: "parent",
        get: copy.get,
        set: (key, value) => {
          copy.set(key, value);
          port.postMessage({ op: "set", key, value: String(value) });
        },
        remove: (key) => {
          copy.remove(key);
          port.postMessage({ op: "remove", key });
        },
      });
    }
    window.addEventListener("message", onMessage);
    // No secret in this message: it only asks the widget to open the storage channel.
    window.parent.postMessage({ type: "deskchat:storage-request" }, "*");
  });
}
