// NPS and call-backs: the caller's call-back tasks (customer care's), worked here (the
// task's form from its pipeline version, POST /api/orders/{id}/steps/{node}); the low
// scores of the scope with their call-back order; NPS by region, outlet or engineer.
// Customer care (客服) and the managers read it (GET /api/nps, /api/nps/follow-ups).
import { el, toast } from "../dom.js";
import { call, every } from "./main.js";
import { fmtTime, serverText, statusText, t } from "./i18n.js";
import { loadNames, unitLabel } from "./names.js";

// The pipeline the worker opens for a low score (servflow/customers/data/nps_followup.json).
const FOLLOW_UP = "nps_followup";
const GROUPS = ["region", "outlet", "engineer"];

const orderLink = (id) => (id ? el("a", { href: `#/orders/${encodeURIComponent(id)}` }, id) : el("span.sf-muted", t("not_opened")));

export async function npsPage(main) {
  let group = "region";
  const tasks = el("div.sf-panel", { "data-section": "my-call-backs" });
  const working = el("div");
  const followUps = el("div.sf-panel", { "data-section": "follow-ups" });
  const scores = el("div.sf-panel", { "data-section": "nps" });
  const picker = el("select", { name: "group_by", on: { change: () => { group = picker.value; loadScores(); } } },
    GROUPS.map((g) => el("option", { value: g }, t(`by_${g}`))));
  main.append(el("div.sf-page",
    el("div.sf-page-head", el("h2", t("nav_nps")), el("span.sf-live", "● ", t("live"))),
    tasks, working, followUps, scores));

  async function loadTasks() {
    const mine = (await call("GET", "/my/tasks?limit=200")).data.filter((task) => task.definition_key === FOLLOW_UP);
    tasks.replaceChildren(el("h3", t("my_call_backs")),
      mine.length
        ? el("table.sf-table.sf-compact", { "data-list": "my-call-backs", "data-count": mine.length },
          el("thead", el("tr", ["order_no", "node", "region", "since", "deadline", ""].map((k) => el("th", k ? t(k) : "")))),
          el("tbody", mine.map((task) => el("tr", { "data-order": task.order_id },
            el("td", el("a", { href: `#/orders/${encodeURIComponent(task.order_id)}` }, task.order_no || task.order_id)),
            el("td", task.name), el("td", unitLabel(task.region)), el("td.sf-muted", fmtTime(task.since)), el("td", fmtTime(task.sla_deadline)),
            el("td", el("button.sf-btn.sf-primary", { type: "button", "data-action": "call-back", on: { click: () => workTask(task) } }, t("do_call_back")))))))
        : el("div.sf-muted", { "data-list": "my-call-backs", "data-count": 0 }, t("no_call_backs")),
      el("p.sf-muted", t("call_back_hint")));
  }

  /** The call-back's form (the pipeline version's node form), with whom to call. */
  async function workTask(task) {
    const detail = await call("GET", `/orders/${encodeURIComponent(task.order_id)}`);
    const order = detail.order || {};
    const state = detail.state || {};
    const vars = state.variables || {};
    const customer = (state.context && state.context.customer) || {};
    const version = await call("GET", `/definitions/${encodeURIComponent(order.definition_key || task.definition_key)}/versions/${order.definition_version}`);
    const node = (version.definition.nodes || []).find((n) => n.id === task.node_id) || {};
    const inputs = (node.form || []).map((field) => [field, input(field)]);
    const error = el("div.sf-error");
    const submit = async (e) => {
      e.preventDefault();
      error.textContent = "";
      const data = {};
      for (const [field, node_] of inputs) {
        if (field.type === "boolean") data[field.name] = node_.checked;
        else if (field.type === "number") { if (node_.value !== "") data[field.name] = Number(node_.value); }
        else if (node_.value.trim()) data[field.name] = node_.value.trim();
      }
      try {
        await call("POST", `/orders/${encodeURIComponent(task.order_id)}/steps/${encodeURIComponent(task.node_id)}`, { data, outcome: "done" });
        toast(t("call_back_done", { no: task.order_no || task.order_id }), "ok");
        working.replaceChildren();
        await Promise.all([loadTasks(), loadFollowUps()]);
      } catch (err) {
        const fields = (err.body && err.body.errors) || {};
        error.textContent = [err.message, ...Object.entries(fields).map(([k, v]) => `${k}: ${serverText(v)}`)].join(" · ");
      }
    };
    working.replaceChildren(el("form.sf-panel", { "data-form": "call-back", "data-order": task.order_id, on: { submit } },
      el("div.sf-row", el("h3", `${t("do_call_back")} · ${task.order_no || task.order_id}`), el("span.sf-grow"),
        el("button.sf-btn", { type: "button", on: { click: () => working.replaceChildren() } }, t("close"))),
      el("div.sf-kv", el("span.sf-muted", t("customer")), el("b", customer.name || "—"),
        customer.phone ? el("a", { href: `tel:${customer.phone}`, "data-phone": customer.phone }, customer.phone) : null),
      el("div.sf-kv", el("span.sf-muted", t("rated_order")), vars.survey_order_id ? el("a", { href: `#/orders/${encodeURIComponent(vars.survey_order_id)}` }, vars.survey_order_id) : "—"),
      el("div.sf-kv", el("span.sf-muted", t("rating")), vars.rating !== undefined ? `${vars.rating}/10` : "—", el("span.sf-muted", t("comment")), vars.comment || "—"),
      el("div.sf-call-back-fields", inputs.map(([field, node_]) => el(`label.${field.type === "boolean" ? "sf-check" : "sf-field"}`, { "data-field": field.name },
        field.type === "boolean" ? [node_, " ", field.label || field.name] : [el("div.sf-label", field.label || field.name), node_]))),
      error,
      el("button.sf-btn.sf-primary", { type: "submit", "data-action": "submit-call-back" }, t("submit"))));
    working.scrollIntoView({ block: "nearest" });
  }

  async function loadFollowUps() {
    const rows = await call("GET", "/nps/follow-ups");
    followUps.replaceChildren(el("h3", t("low_scores")),
      rows.length
        ? el("table.sf-table.sf-compact", { "data-list": "follow-ups", "data-count": rows.length },
          el("thead", el("tr", ["rated_order", "region", "outlet", "engineer", "rating", "comment", "created_at", "call_back_order", "status"].map((k) => el("th", t(k))))),
          el("tbody", rows.map((f) => el("tr", { "data-rated": f.order_id },
            el("td", orderLink(f.order_id)), el("td", unitLabel(f.region)), el("td", unitLabel(f.outlet)), el("td", f.engineer),
            el("td", el("span.sf-badge.sf-status-failed", `${f.rating}/10`)), el("td", f.comment || "—"), el("td.sf-muted", fmtTime(f.created_at)),
            el("td", orderLink(f.follow_up_order_id)),
            el("td", f.follow_up_status ? el("span", { class: `sf-badge sf-status-${f.follow_up_status}` }, statusText(f.follow_up_status)) : "—")))))
        : el("div.sf-muted", { "data-list": "follow-ups", "data-count": 0 }, t("no_low_scores")));
  }

  async function loadScores() {
    const rows = await call("GET", `/nps?group_by=${group}`);
    scores.replaceChildren(
      el("div.sf-row", el("h3", t("nps_by")), el("span.sf-grow"), el("label.sf-muted", t("group_by")), picker),
      rows.length
        ? el("table.sf-table.sf-compact", { "data-list": "nps", "data-count": rows.length },
          el("thead", el("tr", [group === "region" ? "region" : group === "outlet" ? "outlet" : "engineer", "responses", "promoters", "passives", "detractors", "nps"].map((k) => el("th", t(k))))),
          el("tbody", rows.map((r) => el("tr", { "data-key": r.key },
            el("td", group === "engineer" ? r.key || "—" : unitLabel(r.key)), el("td", String(r.responses)), el("td", String(r.promoters)), el("td", String(r.passives)),
            el("td", String(r.detractors)), el("td", el("b", { class: r.nps < 0 ? "sf-bad" : "" }, String(r.nps)))))))
        : el("div.sf-muted", t("no_data")),
      el("p.sf-muted", t("nps_hint")));
  }

  await loadNames();
  await Promise.all([loadTasks(), loadFollowUps(), loadScores()]);
  every(15000, () => { loadTasks().catch(() => null); loadFollowUps().catch(() => null); });
}

function input(field) {
  const name = `f-${field.name}`;
  if (field.type === "boolean") return el("input", { type: "checkbox", name });
  if (field.type === "choice") return el("select", { name }, el("option", { value: "" }, "—"), (field.choices || []).map((c) => el("option", { value: c }, c)));
  if (field.type === "number") return el("input", { type: "number", name });
  return el("textarea", { name, rows: 3, maxlength: field.max_length || 500 });
}
