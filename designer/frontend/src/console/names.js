// Org units by name: the API's lists carry region and outlet CODES ("huabei", "bj-001"); the
// pages show the unit's name (华北, 北京朝阳服务网点) wherever the caller may read it, and the
// code where it may not. Names come only from routes the role can already read:
//   - a dashboard answer (DASHBOARD_ROLES): its scope and the units one level below it
//     (HQ: the regions; a region: its branches; an outlet: itself);
//   - the dispatch board (MANAGE_ROLES): the scope's outlets.
// Customer care and engineers read neither, so they see codes. The org has one name per
// unit (no English names), shown in both languages; the code stays in the title.
import { api, session } from "../api.js";
import { el } from "../dom.js";

const DASHBOARD_ROLES = ["hq_admin", "region_manager", "outlet_manager", "dispatcher", "finance"];
const MANAGE_ROLES = ["dispatcher", "region_manager", "outlet_manager", "hq_admin"];

const known = new Map();
let loaded = null;
let loadedFor = null;

/** The names known to this sign-in: another user signing in on the same page starts over
 * (a name read by one role is never shown to another). */
function current() {
  if (loadedFor !== session.token) {
    loadedFor = session.token;
    loaded = null;
    known.clear();
  }
  return known;
}

/** Learns the names of a dashboard answer: its scope and the units below it. */
export function learnDashboard(d) {
  current();
  if (!d) return known;
  if (d.scope) known.set(d.scope.code, d.scope.name);
  for (const u of d.by_unit || []) known.set(u.code, u.name);
  return known;
}

/** The name of a unit code, or the code when the caller cannot read its name. */
export function unitName(code) {
  return code ? current().get(code) || code : "";
}

/** A table cell's content: the unit's name, its code in the title and data-code. */
export function unitLabel(code) {
  if (!code) return el("span.sf-muted", "—");
  return el("span", { "data-code": code, title: code }, unitName(code));
}

/** The outlet code of an org path ("/hq/huabei/bj-branch/bj-001" → "bj-001"); "" for an
 * order not (yet) placed at an outlet. */
export function outletOf(path) {
  const codes = (path || "").split("/").filter(Boolean);
  return codes.length >= 4 ? codes[codes.length - 1] : "";
}

/** Loads the names the signed-in role may read, once per sign-in; never fails. */
export function loadNames() {
  const roles = (session.user && session.user.roles) || [];
  const has = (list) => list.some((r) => roles.includes(r));
  current();
  if (loaded) return loaded;
  const token = session.token;
  const mine = () => loadedFor === token; // still the sign-in that asked
  const jobs = [];
  if (has(DASHBOARD_ROLES)) {
    jobs.push(api("GET", "/reporting/dashboard?days=1").then((d) => mine() && learnDashboard(d)));
  }
  if (has(MANAGE_ROLES)) {
    jobs.push(api("GET", "/reporting/board").then((b) => {
      if (mine()) for (const o of b.outlets || []) known.set(o.code, o.name);
    }));
  }
  loaded = Promise.all(jobs.map((j) => j.catch(() => null))).then(() => known);
  return loaded;
}
