// Finance: settlements (and statements where the money routes offer them), CSV exports.
import { session } from "../api.js";
import { el, toast } from "../dom.js";
import { call, notAvailable, optional } from "./main.js";
import { fmtTime, t } from "./i18n.js";
import { loadNames, unitLabel } from "./names.js";

// Statement parties that are org units (named where the role may read the name).
const UNIT_PARTIES = ["outlet", "branch", "region", "hq"];

/** CSV text of `rows` (objects) with `columns`; cells quoted, formulas defused. */
export function toCsv(rows, columns) {
  const cell = (v) => {
    let s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    if (/^[=+\-@]/.test(s)) s = `'${s}`;
    return `"${s.replace(/"/g, '""')}"`;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\r\n") + "\r\n";
}

export function saveCsv(filename, text) {
  const link = el("a", { href: URL.createObjectURL(new Blob(["\ufeff" + text], { type: "text/csv;charset=utf-8" })), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

/** An order id short enough for a column, still telling orders apart (both ends kept). */
const shortId = (id) => (id.length > 24 ? `${id.slice(0, 10)}…${id.slice(-10)}` : id);

const SETTLEMENT_COLUMNS = ["id", "order_id", "milestone", "share", "job_amount", "amount", "currency", "status", "created_at"];

export async function financePage(main) {
  const region = el("input", { name: "region", placeholder: "华北", size: 10 });
  const from = el("input", { name: "from", type: "date" });
  const to = el("input", { name: "to", type: "date" });
  // Up to 500 settlements: scrolled in their own box, so statements stay near (export: all).
  const table = el("div.sf-scroll");
  const statements = el("div.sf-panel", el("h3", t("statements")), el("div.sf-muted", t("loading")));
  const query = () => {
    const q = new URLSearchParams();
    if (region.value.trim()) q.set("region", region.value.trim());
    if (from.value) q.set("from", `${from.value}T00:00:00+08:00`);
    if (to.value) q.set("to", `${to.value}T23:59:59+08:00`);
    return q;
  };
  const load = async () => {
    const q = query();
    q.set("limit", "500");
    const page = await call("GET", `/settlements?${q}`);
    table.replaceChildren(el("table.sf-table.sf-compact", { "data-list": "settlements", "data-count": page.count },
      el("thead", el("tr", ["order", "milestone", "amount", "status", "created_at"].map((k) => el("th", t(k))))),
      el("tbody", page.data.map((s) => el("tr",
        el("td", el("a", { href: `#/orders/${encodeURIComponent(s.order_id)}`, title: s.order_id }, shortId(s.order_id))),
        el("td", s.milestone), el("td", `${s.currency} ${s.amount}`), el("td", t(`settlement_${s.status}`)), el("td.sf-muted", fmtTime(s.created_at)))))));
  };
  /** Every settlement the filters match (page by page), not only the 500 shown. */
  const exportCsv = async () => {
    const all = [];
    for (let offset = 0; ; offset += 500) {
      const q = query();
      q.set("limit", "500");
      q.set("offset", String(offset));
      const page = await call("GET", `/settlements?${q}`);
      all.push(...page.data);
      if (!page.data.length || all.length >= page.count) break;
    }
    saveCsv(`settlements-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(all, SETTLEMENT_COLUMNS));
    toast(t("exported", { n: all.length }), "ok");
  };
  main.append(el("div.sf-page",
    el("div.sf-page-head", el("h2", t("nav_finance"))),
    el("div.sf-panel",
      el("div.sf-row.sf-wrap", el("h3", t("settlements")), el("span.sf-grow"),
        el("label", t("region"), region), el("label", t("from"), from), el("label", t("to"), to),
        el("button.sf-btn", { type: "button", on: { click: () => load() } }, t("search")),
        el("button.sf-btn.sf-primary", { type: "button", "data-action": "export-settlements", on: { click: exportCsv } }, t("export_csv"))),
      table),
    statements));
  await load();
  await statementsPanel(statements);
}

const PARTY_KINDS = ["", "outlet", "engineer", "branch", "region", "hq", "agent"];
const STATEMENT_STATUSES = ["", "open", "confirmed", "disputed"];

/** The month before this one (China time): what the monthly settlement run last settled. */
function lastMonth() {
  const now = new Date(Date.now() + 8 * 3600 * 1000);
  const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 86400 * 1000);
  return first.toISOString().slice(0, 7);
}

/** Statements of a month, by kind of party and status, each exported as CSV or Excel. */
async function statementsPanel(panel) {
  const probe = await optional("/statements?limit=1").catch(() => null);
  if (probe === null) {
    panel.replaceChildren(el("h3", t("statements")), notAvailable("GET /api/statements"));
    return;
  }
  const period = el("input", { name: "statement-period", type: "month", value: lastMonth() });
  const kind = el("select", { name: "statement-party-kind" },
    PARTY_KINDS.map((k) => el("option", { value: k }, k ? t(`party_${k}`) : t("all"))));
  const status = el("select", { name: "statement-status" },
    STATEMENT_STATUSES.map((k) => el("option", { value: k }, k ? t(`statement_${k}`) : t("all"))));
  const list = el("div");
  const load = async () => {
    const q = new URLSearchParams({ limit: "500" });
    if (period.value) q.set("period", period.value);
    if (kind.value) q.set("party_kind", kind.value);
    if (status.value) q.set("status", status.value);
    const [found] = await Promise.all([call("GET", `/statements?${q}`), loadNames()]);
    const rows = found.data || [];
    list.replaceChildren(
      el("div.sf-muted", t("statements_found", { n: found.count })),
      rows.length ? el("div.sf-scroll", el("table.sf-table.sf-compact", { "data-list": "statements", "data-count": found.count },
        el("thead", el("tr", ["period", "party", "amount", "lines", "status", "export"].map((k) => el("th", t(k))))),
        el("tbody", rows.map((st) => el("tr", { "data-statement": st.id },
          el("td", st.period), el("td", t(`party_${st.party_kind}`), " ", UNIT_PARTIES.includes(st.party_kind) ? unitLabel(st.party_id) : st.party_id),
          el("td", `${st.currency} ${st.total}`), el("td", String(st.lines)),
          el("td", t(`statement_${st.status}`)),
          el("td", ["csv", "xlsx"].map((f) => el("button.sf-link", { type: "button", "data-export": f, on: { click: () => exportStatement(st, f) } }, f.toUpperCase())))))))) :
        el("div.sf-muted", t("no_statements")));
  };
  panel.replaceChildren(
    el("div.sf-row.sf-wrap", el("h3", t("statements")), el("span.sf-grow"),
      el("label", t("period"), period), el("label", t("party"), kind), el("label", t("status"), status),
      el("button.sf-btn", { type: "button", "data-action": "search-statements", on: { click: () => load() } }, t("search"))),
    list);
  await load();
}

/** Downloads a statement as the money routes export it (CSV or Excel, Chinese headers). */
async function exportStatement(statement, format) {
  const response = await fetch(`/api/statements/${statement.id}/export?format=${format}`, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) {
    toast(`${t("error")}${response.status}`, "error");
    return;
  }
  const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `statement-${statement.period}-${statement.party_id}.${format}` });
  document.body.append(link);
  link.click();
  link.remove();
  toast(t("exported", { n: statement.lines }), "ok");
}
