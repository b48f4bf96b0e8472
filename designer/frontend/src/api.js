// The JSON API: every request the designer and the console make goes through here.
import { serverText } from "./console/i18n.js";

/** A refused request; its message in the UI's language where the server's text is known. */
export class ApiError extends Error {
  constructor(status, body) {
    super(serverText((body && body.detail) || `HTTP ${status}`));
    this.status = status;
    this.body = body || {};
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem("sf-token");
  },
  get user() {
    const raw = sessionStorage.getItem("sf-user");
    return raw ? JSON.parse(raw) : null;
  },
  set(token, user) {
    sessionStorage.setItem("sf-token", token);
    sessionStorage.setItem("sf-user", JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem("sf-token");
    sessionStorage.removeItem("sf-user");
  },
  canEdit() {
    const roles = (this.user && this.user.roles) || [];
    return roles.includes("designer") || roles.includes("hq_admin");
  },
};

/** Calls the API; `token` overrides the session's (a "submit as" call). */
export async function api(method, path, body, { token } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token || session.token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (response.status === 401 && !token && path !== "/auth/login") {
    session.clear();
    window.location.hash = "#/login";
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export async function login(username, password) {
  return api("POST", "/auth/login", { username, password }, { token: "-" });
}
