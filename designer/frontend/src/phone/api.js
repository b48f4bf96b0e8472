// The phone's calls to the API, and the offline queue of step submissions.
const TOKEN = "sf-phone-token";
const QUEUE = "sf-phone-queue";

export const auth = {
  get token() {
    return localStorage.getItem(TOKEN);
  },
  set token(value) {
    if (value) localStorage.setItem(TOKEN, value);
    else localStorage.removeItem(TOKEN);
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function call(method, path, { json, form, headers = {}, anonymous = false } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (!anonymous && auth.token) sent.Authorization = `Bearer ${auth.token}`;
  let body;
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(`/api${path}`, { method, headers: sent, body });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A photo or signature of a step: attached to its order, so that whoever may see the
// order may see the file (and nobody else but the uploader).
export async function upload(file, { orderId, nodeId } = {}) {
  const form = new FormData();
  form.append("file", file, file.name || "signature.png");
  if (orderId) form.append("order_id", orderId);
  if (nodeId) form.append("node_id", nodeId);
  return call("POST", "/uploads", { form });
}

// ---- offline-tolerant submit ---------------------------------------------------------
// A submission gets its Idempotency-Key when made; it stays queued (localStorage) until
// the API answers, and is sent again with the same key on reconnect: the order applies it
// once whatever the number of tries.

function queued() {
  try {
    return JSON.parse(localStorage.getItem(QUEUE) || "[]");
  } catch {
    return [];
  }
}

function save(items) {
  localStorage.setItem(QUEUE, JSON.stringify(items));
}

export function pending() {
  return queued();
}

export function enqueue(orderId, nodeId, data, outcome) {
  const key = `phone-${crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random()}`;
  const item = { key, orderId, nodeId, data, outcome, tries: 0 };
  save([...queued(), item]);
  return item;
}

function drop(key) {
  save(queued().filter((i) => i.key !== key));
}

/** Sends every queued submission; returns [{item, result|error}]. Network failures and
 * 5xx/504 stay queued; a 4xx answer (refused) leaves the queue with its reason. */
export async function flush() {
  const results = [];
  for (const item of queued()) {
    try {
      const result = await call("POST", `/orders/${encodeURIComponent(item.orderId)}/steps/${encodeURIComponent(item.nodeId)}`, {
        json: { data: item.data, outcome: item.outcome },
        headers: { "Idempotency-Key": item.key },
      });
      drop(item.key);
      results.push({ item, result });
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      if (status >= 400 && status < 500) {
        drop(item.key);
        results.push({ item, error });
      } else {
        save(queued().map((i) => (i.key === item.key ? { ...i, tries: i.tries + 1 } : i)));
        results.push({ item, error, queued: true });
      }
    }
  }
  return results;
}

// ---- SLA clock of a step --------------------------------------------------------------
// The API tells whether a step's clock runs (its deadline, in the order's live state) and
// whether it may pause (the definition's business-time `sla`); the reason of a pause is
// not read back by any route the engineer may call, so the phone remembers the one it sent.
const HOLDS = "sf-phone-holds";

function holds() {
  try {
    return JSON.parse(localStorage.getItem(HOLDS) || "{}");
  } catch {
    return {};
  }
}

export function heldReason(orderId, nodeId) {
  return holds()[`${orderId}/${nodeId}`] || "";
}

function remember(orderId, nodeId, reason) {
  const all = holds();
  if (reason === null) delete all[`${orderId}/${nodeId}`];
  else all[`${orderId}/${nodeId}`] = reason;
  localStorage.setItem(HOLDS, JSON.stringify(all));
}

/** The step's SLA as the phone shows it: null without one, else {deadline (Date|null),
 * pausable, paused, reason}. From GET /orders/{id} (live state, the engineer's own order)
 * and GET /definitions/{key}/versions/{v} (any signed-in user). */
export async function stepSla(orderId, nodeId) {
  const order = await call("GET", `/orders/${encodeURIComponent(orderId)}`);
  const state = order && order.state;
  const active = state && state.active.find((a) => a.node_id === nodeId);
  if (!active) return null;
  const version = await call("GET", `/definitions/${encodeURIComponent(state.definition_key)}/versions/${state.definition_version}`);
  const node = (version.definition.nodes || []).find((n) => n.id === nodeId);
  const sla = node && node.sla;
  if (!sla) return null;
  const pausable = sla.clock === "business" || Boolean(sla.policy);
  const deadline = active.sla_deadline ? new Date(active.sla_deadline) : null;
  // A business clock without a deadline is paused (a plain timer always has one).
  const paused = pausable && deadline === null;
  if (!paused) remember(orderId, nodeId, null);
  return { deadline, pausable, paused, reason: paused ? heldReason(orderId, nodeId) : "" };
}

/** Pauses (reason given) or resumes (reason null) the step's clock. */
export async function holdSla(orderId, nodeId, reason) {
  const path = `/orders/${encodeURIComponent(orderId)}/steps/${encodeURIComponent(nodeId)}/sla/${reason === null ? "resume" : "pause"}`;
  const answer = await call("POST", path, reason === null ? {} : { json: { reason } });
  remember(orderId, nodeId, reason);
  return answer;
}
