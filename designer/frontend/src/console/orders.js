// Order desk: search (number, customer name or phone, status, region, outlet, dates,
// pipeline), pages of results, and one order's detail with its live state.
import { el } from "../dom.js";
import { call, every } from "./main.js";
import { fmtTime, statusText, t } from "./i18n.js";
import { loadNames, outletOf, unitLabel } from "./names.js";

const STATUSES = ["", "running", "reported", "dispatched", "serviced", "signed_off", "settled", "completed", "cancelled", "failed"];
const PAGE = 20;

export async function ordersPage(main) {
  const f = {
    q: el("input", { name: "q", placeholder: t("q_hint") }),
    status: el("select", { name: "status" }, STATUSES.map((s) => el("option", { value: s }, s ? statusText(s) : "—"))),
    region: el("input", { name: "region", placeholder: "华北 / huabei", size: 10 }),
    outlet: el("input", { name: "outlet", placeholder: "bj-001", size: 10 }),
    from: el("input", { name: "from", type: "date" }),
    to: el("input", { name: "to", type: "date" }),
    definition_key: el("input", { name: "definition_key", placeholder: "ac-repair", size: 12 }),
  };
  const results = el("div");
  let offset = 0;
  const run = async () => {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    for (const [name, input] of Object.entries(f)) if (input.value.trim()) q.set(name, input.value.trim());
    const [page] = await Promise.all([call("GET", `/orders?${q}`), loadNames()]);
    const pageNo = Math.floor(offset / PAGE) + 1;
    results.replaceChildren(
      el("table.sf-table.sf-orders", { "data-count": page.count },
        el("thead", el("tr", ["order_no", "fault", "status", "region", "outlet", "current_node", "created_at"].map((k) => el("th", t(k))))),
        el("tbody", page.data.map((o) => el("tr", { "data-order": o.order_id },
          el("td", el("a", { href: `#/orders/${encodeURIComponent(o.order_id)}` }, o.order_no || o.order_id.slice(0, 14))),
          el("td", o.fault), el("td", el("span", { class: `sf-badge sf-status-${o.status}` }, statusText(o.status))),
          el("td", { "data-col": "region" }, unitLabel(o.region)), el("td", { "data-col": "outlet" }, unitLabel(outletOf(o.org_path))), el("td", o.current_node), el("td.sf-muted", fmtTime(o.created_at)))))),
      el("div.sf-row.sf-pager",
        el("button.sf-btn", { type: "button", disabled: offset === 0, on: { click: () => { offset -= PAGE; run(); } } }, t("prev")),
        el("span.sf-muted", t("page_of", { p: pageNo, n: page.count })),
        el("button.sf-btn", { type: "button", disabled: offset + PAGE >= page.count, on: { click: () => { offset += PAGE; run(); } } }, t("next"))));
  };
  main.append(el("div.sf-page",
    el("div.sf-page-head", el("h2", t("nav_orders"))),
    el("form.sf-search", { on: { submit: (e) => { e.preventDefault(); offset = 0; run(); } } },
      f.q, el("label", t("status"), f.status), el("label", t("region"), f.region), el("label", t("outlet"), f.outlet),
      el("label", t("from"), f.from), el("label", t("to"), f.to), el("label", t("pipeline"), f.definition_key),
      el("button.sf-btn.sf-primary", { type: "submit", "data-action": "search" }, t("search"))),
    results));
  await run();
}

function fields(data) {
  return Object.entries(data || {}).map(([k, v]) => {
    const photo = typeof v === "string" && /^(data:image|https?:|\/)/.test(v);
    const full = Array.isArray(v) ? v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
    const shown = full.length > 160 ? `${full.slice(0, 160)}…` : full;
    return el("div.sf-kv", el("span.sf-muted", k), photo ? el("a", { href: v, target: "_blank" }, "📷") : el("span", shown));
  });
}

export async function orderPage(main, orderId) {
  const box = el("div.sf-page");
  main.append(box);
  async function load() {
    const [d] = await Promise.all([call("GET", `/orders/${encodeURIComponent(orderId)}`), loadNames()]);
    const o = d.order || d;
    const state = d.state || null;
    const steps = d.steps || [];
    const money = d.settlements || [];
    const partsRows = steps.flatMap((s) => (s.data && Array.isArray(s.data.parts_used) ? s.data.parts_used : []));
    box.replaceChildren(...[
      el("div.sf-page-head",
        el("h2", { "data-order": orderId }, `${t("order")} ${o.order_no || orderId}`),
        el("a.sf-btn", { href: "#/orders" }, t("back"))),
      el("div.sf-row.sf-wrap",
        el("span", { class: `sf-badge sf-status-${o.status}`, "data-status": o.status }, statusText(o.status)),
        el("span.sf-muted", `${o.definition_key} v${o.definition_version}`), el("span.sf-muted", { "data-col": "region" }, unitLabel(o.region)), el("span.sf-muted", { "data-col": "outlet" }, unitLabel(outletOf(o.org_path))), el("span.sf-muted", o.fault),
        el("span.sf-muted", fmtTime(o.created_at))),
      el("div.sf-grid2",
        el("div.sf-panel", el("h3", t("timeline")),
          el("ol.sf-timeline", ((state && state.timeline) || steps).map((e) => el("li",
            el("b", e.node_id), [e.actor, e.summary || e.outcome].filter(Boolean).map((x) => ` · ${x}`).join(""), el("div.sf-muted", `${fmtTime(e.started_at)} → ${fmtTime(e.completed_at)}`))))),
        el("div.sf-panel", el("h3", t("live_state")),
          state ? el("div", el("div", statusText(state.status)), (state.active || []).map((a) => el("div.sf-muted", `${a.node_id} → ${a.assignee || ""} ${a.sla_deadline ? `(${t("deadline")} ${fmtTime(a.sla_deadline)})` : ""}`))) : el("div.sf-muted", "—"))),
      el("div.sf-panel", el("h3", t("steps")),
        el("table.sf-table.sf-compact",
          el("thead", el("tr", ["node", "actor", "outcome", "assignee", "started", "completed", "deadline"].map((k) => el("th", t(k))))),
          el("tbody", steps.map((s) => el("tr", el("td", s.node_id), el("td", s.actor), el("td", s.outcome), el("td", s.assignee || ""),
            el("td", fmtTime(s.started_at)), el("td", fmtTime(s.completed_at)), el("td", fmtTime(s.sla_deadline))))))),
      el("div.sf-grid2",
        el("div.sf-panel", el("h3", t("forms")), steps.filter((s) => s.data && Object.keys(s.data).length).map((s) => el("div.sf-form-block", el("b", s.node_id), fields(s.data)))),
        el("div.sf-panel", el("h3", t("parts")), partsRows.length ? fields(Object.fromEntries(partsRows.map((p, i) => [String(i + 1), p]))) : el("div.sf-muted", "—"))),
      money.length || d.money_visible ? el("div.sf-panel", { "data-section": "money" }, el("h3", t("money")),
        el("table.sf-table.sf-compact", el("tbody", money.map((m) => el("tr", el("td", m.milestone), el("td", `${m.currency} ${m.amount}`), el("td", m.status || "")))))) : null,
    ].filter(Boolean)); // (a null child would read "null" under the page)
  }
  await load();
  every(10000, () => load().catch(() => null));
}
