// REST client for /api/v1: JSON in and out, problem+json errors turned into ApiError.

export const API = "/api/v1";

/** An error answer of the API; `problem` is the RFC 9457 body ({type,title,status,detail}). */
export class ApiError extends Error {
  constructor(problem, status) {
    super(problem?.detail || problem?.title || `Request failed (${status})`);
    this.problem = problem || {};
    this.status = status;
    this.type = this.problem.type || "error";
  }
}

/** The value of a readable cookie, or "". */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Make a client. `bearer` is a function returning a token (end-user page) or null;
 * without a bearer the session cookie is used and unsafe calls carry X-CSRF-Token.
 */
export function createApi({ bearer = null } = {}) {
  async function request(method, path, body) {
    const headers = { Accept: "application/json" };
    const token = bearer ? bearer() : null;
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (UNSAFE.has(method)) headers["X-CSRF-Token"] = cookie("csrf_token");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: token ? "omit" : "same-origin",
      });
    } catch (err) {
      throw new ApiError({ type: "network", detail: "The server cannot be reached. Check your connection." }, 0);
    }
    if (response.status === 204) return null;
    const data = await readJson(response);
    if (!response.ok) throw new ApiError(data || { detail: response.statusText }, response.status);
    return data;
  }
  return {
    get: (path) => request("GET", path),
    post: (path, body = {}) => request("POST", path, body),
    put: (path, body) => request("PUT", path, body),
    patch: (path, body) => request("PATCH", path, body),
    del: (path) => request("DELETE", path),
  };
}

async function readJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
}

/** Build "?a=1&b=2" from an object, skipping empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** All messages of a chat after `afterSeq`, following pages until last_seq is reached. */
export async function fetchMessagesAfter(api, chatId, afterSeq) {
  const all = [];
  let after = afterSeq;
  for (let page = 0; page < 100; page += 1) {
    const data = await api.get(`/chats/${chatId}/messages${query({ after_seq: after, limit: 100 })}`);
    const batch = data?.messages || [];
    all.push(...batch);
    if (!batch.length) break;
    after = batch[batch.length - 1].seq;
    if (data.last_seq !== undefined && after >= data.last_seq) break;
  }
  return all;
}

/** Every item of a paged list endpoint ({items, next_cursor}), up to `max` items. */
export async function fetchAll(api, path, params = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const data = await api.get(path + query({ ...params, cursor, limit: 200 }));
    items.push(...(data?.items || []));
    cursor = data?.next_cursor || null;
  } while (cursor && items.length < max);
  return items;
}
