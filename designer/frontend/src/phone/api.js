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

/** The step's SLA as the phone shows it: null without one, else {deadline (Date|null),
 * pausable, paused, reason}, as the API stores it (GET /phone/tasks/{id}/{node}: the clock's
 * deadline, whether it is paused and the reason given, by whoever paused it). */
export function slaOf(task) {
  const sla = task && task.sla;
  if (!sla) return null;
  return {
    deadline: sla.deadline ? new Date(sla.deadline) : null,
    pausable: Boolean(sla.can_pause),
    paused: Boolean(sla.paused),
    reason: sla.pause_reason || "",
  };
}

export async function stepSla(orderId, nodeId) {
  return slaOf(await call("GET", `/phone/tasks/${encodeURIComponent(orderId)}/${encodeURIComponent(nodeId)}`));
}

/** Pauses (reason given) or resumes (reason null) the step's clock. */
export async function holdSla(orderId, nodeId, reason) {
  const path = `/orders/${encodeURIComponent(orderId)}/steps/${encodeURIComponent(nodeId)}/sla/${reason === null ? "resume" : "pause"}`;
  return call("POST", path, reason === null ? {} : { json: { reason } });
}
