// Test run: start a sandboxed order on the draft, follow it node by node, submit its human
// steps yourself. Its effects are simulated, and the timeline says what each would have done.
import { api, ApiError } from "./api.js";
import { clear, el, toast } from "./dom.js";
import { enumLabel, getLang, t } from "./i18n.js";

const DEFAULT_CUSTOMER = { name: "李娜", phone: "13800010001", address: "北京市朝阳区建国路88号SOHO现代城", city: "北京", lat: 39.9087, lng: 116.4605 };
const CLOSED = new Set(["completed", "cancelled", "failed"]);

export function renderTestRun(body, ed) {
  const { markRun, currentDefinition } = ed.hooks || {};
  const run = (ed.run = ed.run || { variables: {}, customer: { ...DEFAULT_CUSTOMER }, region: "huabei", orderId: null, state: null });
  body.append(el("div.sf-panel-title", t("test_run")));
  if (!run.orderId) {
    body.append(startForm(body, ed, run, currentDefinition));
    return;
  }
  body.append(runView(ed, run, markRun));
}

function startForm(body, ed, run, currentDefinition) {
  const { definition } = currentDefinition(ed);
  const box = el("form.sf-form.sf-run-start", { on: { submit: (e) => { e.preventDefault(); start(); } } });
  const onVersion = ed.mode.kind === "version";
  box.append(el("div.sf-help", onVersion ? t("tr_on_version", { v: ed.mode.version }) : t("tr_on_draft")));
  for (const v of definition.variables || []) {
    const id = `var-${v.name}`;
    const current = run.variables[v.name] ?? v.default ?? (v.type === "boolean" ? false : "");
    run.variables[v.name] = current;
    const input = v.type === "boolean"
      ? el("input", { type: "checkbox", name: id, checked: !!current, on: { change: (e) => (run.variables[v.name] = e.target.checked) } })
      : el("input", { name: id, value: current, required: v.required, on: { input: (e) => (run.variables[v.name] = e.target.value) } });
    box.append(el("div.sf-field", el("div.sf-label", v.label || v.name, v.required ? el("b.sf-req", "*") : null), input));
  }
  box.append(el("fieldset.sf-group", el("legend", t("tr_customer")),
    ["name", "phone", "address", "city"].map((k) => el("div.sf-field", el("div.sf-label", k),
      el("input", { name: `customer-${k}`, value: run.customer[k] || "", on: { input: (e) => (run.customer[k] = e.target.value) } })))));
  box.append(el("div.sf-field", el("div.sf-label", t("tr_region")), el("input", { name: "region", value: run.region, on: { input: (e) => (run.region = e.target.value) } })));
  const errors = el("div.sf-run-errors");
  box.append(errors, el("button.sf-btn.sf-primary", { type: "submit", "data-action": "start-run" }, t("tr_start")));

  async function start() {
    clear(errors);
    const variables = {};
    for (const v of definition.variables || []) {
      const value = run.variables[v.name];
      if (value === "" || value === undefined) continue;
      variables[v.name] = v.type === "number" && value !== "" && !Number.isNaN(Number(value)) ? Number(value) : value;
    }
    try {
      const target = onVersion ? { definition_key: ed.key, version: ed.mode.version } : { definition };
      const started = await api("POST", "/orders/test-run", { ...target, variables, customer: run.customer, region: run.region || undefined });
      run.orderId = started.order_id;
      run.state = null;
      poll(ed, run);
      refresh(ed);
    } catch (err) {
      errors.append(el("div.sf-error", `${t("error")}${err.message}`));
      if (err instanceof ApiError) {
        for (const [field, msg] of Object.entries(err.body.errors || {})) errors.append(el("div.sf-error", `${field}: ${msg}`));
        for (const p of err.body.problems || []) errors.append(el("div.sf-error", getLang() === "zh" ? p.message_zh || p.message : p.message));
      }
    }
  }
  return box;
}

function refresh(ed) {
  if (ed.rightTab === "run" && ed.renderPanel) ed.renderPanel(ed);
}

async function poll(ed, run) {
  clearTimeout(run.timer);
  if (!run.orderId) return;
  try {
    const order = await api("GET", `/orders/${encodeURIComponent(run.orderId)}`);
    const before = JSON.stringify(run.state);
    run.state = order.state || null;
    run.order = order;
    if (JSON.stringify(run.state) !== before) {
      ed.hooks.markRun(ed, run.state);
      refreshRunView(ed, run);
    }
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) run.error = err.message;
  }
  if (!run.state || !CLOSED.has(run.state.status)) run.timer = setTimeout(() => poll(ed, run), 800);
}

function refreshRunView(ed, run) {
  const view = document.querySelector(".sf-run-view");
  if (!view || ed.rightTab !== "run") return;
  // Keep a form the user is filling in; refresh the rest.
  const focused = view.contains(document.activeElement) && document.activeElement.closest(".sf-step-form");
  if (focused) {
    const status = view.querySelector(".sf-run-status-slot");
    if (status) status.replaceWith(statusLine(run));
    return;
  }
  view.replaceWith(runView(ed, run, ed.hooks.markRun));
}

function statusLine(run) {
  const status = run.state ? run.state.status : "running";
  return el("div.sf-run-status-slot",
    el("span.sf-label-inline", `${t("tr_status")}: `),
    el("span.sf-badge", { class: `sf-badge sf-status-${status}`, "data-status": status }, t(`status_${status}`)),
    " ", el("code", run.orderId));
}

function runView(ed, run, markRun) {
  const view = el("div.sf-run-view");
  const state = run.state;
  view.append(statusLine(run), el("div.sf-help.sf-sandbox-note", t("tr_sandbox")));
  if (state && CLOSED.has(state.status)) {
    view.append(el("div.sf-ok", "✓ ", t("tr_done")),
      el("button.sf-btn", { type: "button", "data-action": "new-run", on: { click: () => { run.orderId = null; run.state = null; markRun(ed, null); refresh(ed); } } }, t("tr_start")));
  }
  const active = (state && state.active) || [];
  view.append(el("div.sf-section-title", t("tr_active")));
  if (!active.length && !(state && CLOSED.has(state.status))) view.append(el("div.sf-help", t("tr_waiting")));
  for (const a of active) view.append(activeCard(ed, run, a));
  view.append(el("div.sf-section-title", t("tr_timeline")));
  const timeline = el("ol.sf-timeline");
  for (const entry of (state && state.timeline) || []) {
    const when = entry.completed_at ? new Date(entry.completed_at).toLocaleTimeString() : "…";
    const summary = Object.entries(entry.data || {}).slice(0, 4).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
    timeline.append(el("li.sf-timeline-entry", { "data-node": entry.node_id, class: `sf-timeline-entry${entry.completed_at ? " sf-done" : ""}` },
      el("div.sf-timeline-head", el("b", entry.node_id), el("span.sf-muted", ` ${entry.node_type} · ${when}`)),
      entry.actor ? el("div.sf-muted", `${t("tr_assignee")}: ${entry.actor}`) : null,
      entry.outcome && entry.outcome !== "done" ? el("div.sf-timeline-data", entry.outcome) : null,
      simulated(entry),
      summary ? el("div.sf-timeline-data", summary) : null));
  }
  view.append(timeline);
  return view;
}

// What a sandboxed effect would have done, from the step's own result.
function simulated(entry) {
  const data = entry.data || {};
  if (!data.sandbox) return null;
  let text;
  if (entry.node_type === "dispatch") text = t("tr_sim_dispatch", { who: `${data.engineer_name} (${data.engineer_user_id || data.engineer_id})` });
  else if (entry.node_type === "notify") text = t("tr_sim_notify", { who: (data.recipients || []).join(", ") || t("tr_no_recipients") });
  else if (entry.node_type === "settlement") text = t("tr_sim_settlement", { amount: data.amount, currency: data.currency });
  else text = t("tr_sim_other");
  return el("div.sf-timeline-data.sf-simulated", { "data-simulated": entry.node_type }, text);
}

function activeCard(ed, run, active) {
  const card = el("div.sf-active-card", { "data-node": active.node_id },
    el("div.sf-item-head", el("b", active.name || active.node_id), el("span.sf-muted", ` ${active.node_type}`)));
  if (!active.human) return card;
  const node = ed.hooks.currentDefinition(ed).definition.nodes.find((n) => n.id === active.node_id) || {};
  // The assignee is a username; a dispatch node's output names the engineer it chose.
  const engineer = Object.values(run.state.variables || {}).find((v) => v && typeof v === "object" && v.engineer_user_id === active.assignee);
  card.append(el("div.sf-muted", `${t("tr_assignee")}: ${engineer ? `${engineer.engineer_name} · ` : ""}${active.assignee || "—"}`),
    el("div.sf-help", t("tr_submit_yourself")));
  const form = el("form.sf-form.sf-step-form", { "data-node": active.node_id, on: { submit: (e) => { e.preventDefault(); submit(); } } });
  const values = {};
  for (const f of node.form || resolvedForm(ed, node)) form.append(stepField(f, values));
  const errors = el("div.sf-run-errors");
  form.append(errors, el("button.sf-btn.sf-primary", { type: "submit", "data-action": "submit-step" }, t("tr_submit")));
  card.append(form);

  async function submit() {
    clear(errors);
    try {
      const data = {};
      for (const [k, get] of Object.entries(values)) {
        const v = get();
        if (v !== undefined) data[k] = v;
      }
      await api("POST", `/orders/${encodeURIComponent(run.orderId)}/steps/${encodeURIComponent(active.node_id)}`, { data });
      toast(t("tr_submitted"), "success");
      form.querySelectorAll("input,select,textarea,button").forEach((x) => (x.disabled = true));
      form.closest(".sf-active-card").classList.add("sf-submitted");
      document.activeElement && document.activeElement.blur();
      poll(ed, run);
    } catch (err) {
      errors.append(el("div.sf-error", `${t("tr_refused")}${err.message}`));
      for (const [field, msg] of Object.entries((err.body && err.body.errors) || {})) {
        errors.append(el("div.sf-error", `${field}: ${msg}`));
        const input = form.querySelector(`[name="f-${field.replace(/^data\./, "")}"]`);
        if (input) input.closest(".sf-field").classList.add("sf-invalid");
      }
    }
  }
  return card;
}

function resolvedForm(ed, node) {
  const tpl = node.template && ed.catalog.templates[node.template];
  return (tpl && tpl.node.form) || [];
}

function stepField(f, values) {
  const name = `f-${f.name}`;
  const label = el("div.sf-label", f.label || f.name, f.required !== false ? el("b.sf-req", "*") : null, el("span.sf-muted", ` ${enumLabel(f.type)}`));
  let control;
  switch (f.type) {
    case "boolean":
      control = el("input", { type: "checkbox", name });
      values[f.name] = () => control.checked;
      return el("div.sf-field.sf-check", el("label", control, " ", f.label || f.name));
    case "number":
      control = el("input", { name, inputmode: "decimal", min: f.min, max: f.max });
      values[f.name] = () => (control.value === "" ? undefined : Number(control.value));
      break;
    case "money":
      control = el("input", { name, inputmode: "decimal", placeholder: f.currency || "CNY" });
      values[f.name] = () => (control.value === "" ? undefined : { amount: control.value, currency: f.currency || "CNY" });
      break;
    case "choice":
      control = el("select", { name, multiple: f.multiple }, f.multiple ? null : el("option", { value: "" }, "—"), (f.choices || []).map((c) => el("option", { value: c }, c)));
      values[f.name] = () => (f.multiple ? [...control.selectedOptions].map((o) => o.value) : control.value || undefined);
      break;
    case "date":
      control = el("input", { name, type: "date" });
      values[f.name] = () => control.value || undefined;
      break;
    case "location":
      control = el("input", { name, placeholder: "39.9, 116.4" });
      values[f.name] = () => {
        const [lat, lng] = control.value.split(/[,，\s]+/).map(Number);
        return control.value ? { lat, lng } : undefined;
      };
      break;
    case "photo":
    case "signature":
      // No upload endpoint yet: the field app uploads files; here the tester types file ids.
      control = el("input", { name, placeholder: t("tr_refs_hint") });
      values[f.name] = () => {
        const refs = control.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
        if (!refs.length) return undefined;
        return f.multiple ? refs : refs[0];
      };
      break;
    default:
      control = el("input", { name, maxlength: f.max_length, pattern: f.pattern });
      values[f.name] = () => control.value || undefined;
  }
  return el("div.sf-field", label, control);
}
