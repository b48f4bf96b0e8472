// Finance: settlements (and statements where the money routes offer them), CSV exports.
import { session } from "../api.js";
import { el, toast } from "../dom.js";
import { call, notAvailable, optional } from "./main.js";
import { fmtTime, t } from "./i18n.js";

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

const SETTLEMENT_COLUMNS = ["id", "order_id", "milestone", "share", "job_amount", "amount", "currency", "status", "created_at"];

export async function financePage(main) {
  const region = el("input", { name: "region", placeholder: "华北", size: 10 });
  const from = el("input", { name: "from", type: "date" });
  const to = el("input", { name: "to", type: "date" });
  const table = el("div");
  const statements = el("div.sf-panel", el("h3", t("statements")), el("div.sf-muted", t("loading")));
  let rows = [];
  const load = async () => {
    const q = new URLSearchParams({ limit: "500" });
    if (region.value.trim()) q.set("region", region.value.trim());
    if (from.value) q.set("from", `${from.value}T00:00:00+08:00`);
    if (to.value) q.set("to", `${to.value}T23:59:59+08:00`);
    const page = await call("GET", `/settlements?${q}`);
    rows = page.data;
    table.replaceChildren(el("table.sf-table.sf-compact", { "data-count": page.count },
      el("thead", el("tr", ["order", "milestone", "amount", "status", "created_at"].map((k) => el("th", t(k))))),
      el("tbody", rows.map((s) => el("tr",
        el("td", el("a", { href: `#/orders/${encodeURIComponent(s.order_id)}` }, s.order_id.slice(0, 14))),
        el("td", s.milestone), el("td", `${s.currency} ${s.amount}`), el("td", s.status), el("td.sf-muted", fmtTime(s.created_at)))))));
  };
  const exportCsv = () => {
    saveCsv(`settlements-${new Date().toISOString().slice(0, 10)}.csv`, toCsv(rows, SETTLEMENT_COLUMNS));
    toast(t("exported", { n: rows.length }), "ok");
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
  const found = await optional("/statements?limit=200").catch(() => null);
  if (found === null) {
    statements.replaceChildren(el("h3", t("statements")), notAvailable("GET /api/statements"));
    return;
  }
  const list = found.data || [];
  statements.replaceChildren(el("h3", t("statements")),
    list.length ? el("table.sf-table.sf-compact", { "data-list": "statements" },
      el("thead", el("tr", ["period", "party", "amount", "lines", "status", ""].map((k) => el("th", t(k))))),
      el("tbody", list.map((st) => el("tr", { "data-statement": st.id },
        el("td", st.period), el("td", `${st.party_kind} ${st.party_id}`), el("td", `${st.currency} ${st.total}`),
        el("td", String(st.lines)), el("td", st.status),
        el("td", ["csv", "xlsx"].map((f) => el("button.sf-link", { type: "button", "data-export": f, on: { click: () => exportStatement(st, f) } }, f.toUpperCase()))))))) : el("div.sf-muted", t("no_data")));
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
