// The pipeline editor: palette, canvas, property panel, problems, versions, test run.
import { api, ApiError, session } from "./api.js";
import {
  autoLayout, createCanvas, definitionToGraph, edgeText, graphToDefinition, nodeTypeOf, EDGE_TYPE, NODE_TYPE, resolvedType,
} from "./canvas.js";
import { clear, clone, download, el, modal, pickFile, toast } from "./dom.js";
import { getLang, problemText, t, typeLabel } from "./i18n.js";
import { renderForm, splitPath } from "./schemaform.js";
import { renderTestRun } from "./testrun.js";

const NODE_ID = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const HEADER_KEYS = ["key", "name", "description", "variables", "start"];

/** Shared look-ups every page needs: node types, templates, the definition schema. */
export async function loadCatalog() {
  const [types, templates, schema] = await Promise.all([
    api("GET", "/node-types"),
    api("GET", "/node-templates").catch(() => ({ data: [] })),
    api("GET", "/schema/definition"),
  ]);
  return {
    nodeTypes: types.data,
    templates: Object.fromEntries((templates.data || []).map((tpl) => [tpl.key, tpl])),
    definitionSchema: schema,
  };
}

/**
 * Open the editor for `key`. mode: {kind: "draft"} | {kind: "version", version} |
 * {kind: "compare", base, target}.
 */
export async function openEditor(root, key, mode, catalog) {
  const canEdit = session.canEdit() && mode.kind === "draft";
  const ed = {
    key, mode, catalog, canEdit, header: {}, problems: [], order: [], marks: {}, selected: null,
    dirty: false, validateTimer: null, saveTimer: null, lf: null, versions: [], rightTab: "props",
  };
  ed.hooks = { markRun, currentDefinition };
  ed.renderPanel = renderPanel;
  let detail;
  let definition;
  let layout;
  try {
    detail = await api("GET", `/definitions/${encodeURIComponent(key)}`);
    if (mode.kind === "draft") {
      definition = detail.draft;
      layout = detail.layout;
    } else if (mode.kind === "version") {
      const v = await api("GET", `/definitions/${encodeURIComponent(key)}/versions/${mode.version}`);
      definition = v.definition;
      layout = v.layout;
    } else {
      const target = await loadSide(key, mode.target, detail);
      definition = target.definition;
      layout = target.layout;
      ed.diff = await api("GET", `/definitions/${encodeURIComponent(key)}/diff?base=${mode.base}&target=${mode.target}`);
      ed.base = await loadSide(key, mode.base, detail);
    }
  } catch (err) {
    clear(root).append(el("div.sf-page", el("div.sf-error-box", t("error"), err.message)));
    return;
  }
  ed.detail = detail;
  ed.versions = detail.versions || [];
  definition = definition || { key, name: detail.name, start: "", nodes: [] };
  for (const k of HEADER_KEYS) if (definition[k] !== undefined) ed.header[k] = clone(definition[k]);
  ed.header.key = ed.header.key || key;

  buildLayout(root, ed);
  ed.lf = createCanvas(ed.canvasEl, { readOnly: !canEdit });
  wireCanvas(ed);
  ed.lf.render(definitionToGraph(definition, layout, catalog.templates));
  if (mode.kind === "compare") markDiff(ed);
  showEmptyHint(ed);
  setTimeout(() => ed.lf.fitView(80, 80), 0);
  renderPanel(ed);
  if (mode.kind === "compare") renderDiffList(ed);
  else if (detail.problems && mode.kind === "draft") {
    ed.order = (definition.nodes || []).map((n) => n && n.id);
    applyProblems(ed, detail.problems);
    validateNow(ed);
  } else validateNow(ed);
  return ed;
}

async function loadSide(key, side, detail) {
  if (side === "draft") return { definition: detail.draft, layout: detail.layout };
  return api("GET", `/definitions/${encodeURIComponent(key)}/versions/${side}`);
}

// ---- layout ---------------------------------------------------------------------------

function buildLayout(root, ed) {
  const { mode } = ed;
  const title = el("div.sf-title", el("span.sf-title-name", ed.header.name || ed.key), el("code.sf-title-key", ed.key));
  const status = el("span.sf-badge#sf-save-state", ed.canEdit ? t("saved") : t("read_only"));
  const tb = (label, onClick, attrs = {}) => el("button.sf-btn", { type: "button", ...attrs, on: { click: onClick } }, label);
  const tools = [];
  if (ed.canEdit) {
    tools.push(
      tb(t("save_draft"), () => saveDraft(ed), { "data-action": "save" }),
      tb(t("publish"), () => publish(ed), { class: "sf-btn sf-primary", "data-action": "publish" }),
      el("span.sf-sep"),
      tb(t("undo"), () => { ed.lf.undo(); changed(ed); }),
      tb(t("redo"), () => { ed.lf.redo(); changed(ed); }),
      tb(t("delete_selected"), () => deleteSelected(ed)),
      tb(t("tidy"), () => tidy(ed), { "data-action": "tidy" }),
      el("span.sf-sep"),
      tb(t("import_json"), () => importJson(ed), { "data-action": "import" }),
    );
  }
  tools.push(
    tb(t("export_json"), () => exportJson(ed), { "data-action": "export" }),
    tb(t("versions"), () => showVersions(ed), { "data-action": "versions" }),
    tb(t("fit_view"), () => ed.lf.fitView(80, 80)),
  );
  let banner = null;
  if (mode.kind === "version") {
    banner = el("div.sf-banner", `${t("viewing_version")} v${mode.version} · ${t("read_only")}`,
      session.canEdit() ? tb(t("new_draft_from"), () => draftFrom(ed, mode.version), { "data-action": "draft-from" }) : null,
      el("a.sf-btn", { href: `#/p/${ed.key}` }, t("back_to_draft")));
  } else if (mode.kind === "compare") {
    const label = (v) => (v === "draft" ? t("draft") : `v${v}`);
    banner = el("div.sf-banner", `${t("compare_title")}: ${label(mode.base)} → ${label(mode.target)}`,
      el("span.sf-legend.sf-added", t("added")), el("span.sf-legend.sf-changed", t("changed")), el("span.sf-legend.sf-removed", t("removed")),
      el("a.sf-btn", { href: `#/p/${ed.key}` }, t("back_to_draft")));
  } else if (!session.canEdit()) {
    banner = el("div.sf-banner.sf-readonly-banner", t("read_only_hint"));
  }
  ed.canvasEl = el("div.sf-canvas");
  ed.emptyHintEl = el("div.sf-empty-hint", t("empty_canvas"));
  ed.paletteEl = el("aside.sf-palette");
  ed.panelEl = el("aside.sf-panel");
  ed.problemsEl = el("section.sf-problems");
  ed.saveStateEl = status;
  clear(root).append(
    el("div.sf-editor", { class: `sf-editor${ed.canEdit ? "" : " sf-readonly"}` },
      el("div.sf-toolbar", el("a.sf-btn.sf-back", { href: "#/" }, `← ${t("back")}`), title, status, el("div.sf-tools", tools)),
      banner,
      el("div.sf-work", ed.paletteEl, el("div.sf-center", el("div.sf-canvas-wrap", ed.canvasEl, ed.canEdit ? ed.emptyHintEl : null), ed.problemsEl), ed.panelEl),
    ),
  );
  renderPalette(ed);
}

function renderPalette(ed) {
  const { nodeTypes, templates } = ed.catalog;
  const box = clear(ed.paletteEl);
  box.append(el("div.sf-panel-title", t("palette")));
  for (const kind of ["pipeline", "human", "flow"]) {
    const items = nodeTypes.filter((nt) => nt.kind === kind);
    if (!items.length) continue;
    box.append(el("div.sf-palette-group", t(`kind_${kind}`)));
    for (const nt of items) box.append(paletteItem(ed, { ntype: nt.type, label: typeLabel(nt), kind }));
  }
  const tpls = Object.values(templates);
  if (tpls.length) {
    box.append(el("div.sf-palette-group", t("palette_templates")));
    for (const tpl of tpls) {
      const nt = nodeTypeOf(tpl.node.type) || {};
      box.append(paletteItem(ed, { ntype: tpl.node.type, label: tpl.name, kind: nt.kind || "flow", template: tpl.key, hint: tpl.description }));
    }
  }
}

function paletteItem(ed, item) {
  const node = el("div.sf-palette-item", {
    class: `sf-palette-item sf-kind-${item.kind}${ed.canEdit ? "" : " sf-disabled"}`,
    "data-type": item.ntype,
    "data-template": item.template,
    title: item.hint || item.label,
  }, el("span.sf-dot"), el("span", item.label), item.template ? el("span.sf-tpl-flag", "T") : null);
  if (ed.canEdit) {
    node.addEventListener("mousedown", (e) => {
      e.preventDefault();
      const id = uniqueId(ed, item.template || item.ntype);
      const props = { ntype: item.ntype, node: newNodeBody(ed, item) };
      if (item.template) props.template = item.template;
      ed.lf.dnd.startDrag({ id, type: NODE_TYPE, properties: props });
    });
  }
  return node;
}

function newNodeBody(ed, item) {
  const nt = nodeTypeOf(item.ntype);
  if (item.template) return { name: ed.catalog.templates[item.template].name };
  const body = { name: typeLabel(nt) };
  const params = nt && nt.schema.properties && nt.schema.properties.params;
  const required = (nt && nt.schema.required) || [];
  if (params && required.includes("params")) {
    const name = params.$ref && params.$ref.split("/").pop();
    const ps = name && nt.schema.$defs[name];
    body.params = {};
    for (const k of (ps && ps.required) || []) body.params[k] = "";
  }
  if (nt && nt.human && ed.lf.getGraphRawData().nodes.some((n) => n.properties.ntype === "dispatch")) {
    body.assignee = { kind: "dispatched_engineer" };
  }
  return body;
}

function uniqueId(ed, base) {
  const clean = base.replace(/[^A-Za-z0-9_]/g, "_").replace(/^[^A-Za-z]+/, "") || "node";
  const taken = new Set(ed.lf.getGraphRawData().nodes.map((n) => n.id));
  if (!taken.has(clean)) return clean;
  let i = 2;
  while (taken.has(`${clean}_${i}`)) i++;
  return `${clean}_${i}`;
}

// ---- canvas events --------------------------------------------------------------------

function wireCanvas(ed) {
  const { lf } = ed;
  lf.on("node:click", ({ data }) => select(ed, data.properties.ghost ? null : data.id));
  lf.on("edge:click", ({ data }) => {
    const source = lf.getNodeModelById(data.sourceNodeId);
    select(ed, source ? source.id : null, data.id);
  });
  lf.on("blank:click", () => select(ed, null));
  if (!ed.canEdit) return;
  lf.on("node:dnd-add", ({ data }) => {
    const raw = lf.getGraphRawData();
    if (!ed.header.start || !raw.nodes.some((n) => n.id === ed.header.start)) setStart(ed, data.id);
    select(ed, data.id);
    changed(ed);
  });
  // Keep the source's anchors (and so the drag) alive when the pointer leaves the node.
  lf.on("anchor:mousedown", ({ nodeModel }) => nodeModel && lf.selectElementById(nodeModel.id));
  lf.on("edge:add", ({ data }) => onEdgeAdded(ed, data.id));
  lf.on("edge:exchange-node", ({ data }) => onEdgeAdded(ed, (data.newEdge || data).id));
  lf.on("node:delete", ({ data }) => {
    if (data.id === ed.header.start) ed.header.start = "";
    if (ed.selected === data.id) select(ed, null);
    dropOrphanGhosts(ed);
    changed(ed);
  });
  lf.on("edge:delete", () => {
    dropOrphanGhosts(ed);
    changed(ed);
  });
  lf.on("node:drop", () => changed(ed, { layoutOnly: true }));
}

function onEdgeAdded(ed, edgeId) {
  const { lf } = ed;
  const edge = lf.getEdgeModelById(edgeId);
  if (!edge) return;
  const source = lf.getNodeModelById(edge.sourceNodeId);
  const ntype = source.properties.ntype;
  const siblings = lf.getNodeOutgoingEdge(source.id).filter((e) => e.id !== edge.id);
  let kind = "next";
  if (ntype === "decision") {
    const hasDefault = siblings.some((e) => e.properties.kind === "default");
    kind = edge.properties.kind === "branch" || edge.properties.kind === "default" ? edge.properties.kind
      : !hasDefault && siblings.length >= 1 ? "default" : "branch";
  } else if (ntype === "parallel") {
    kind = "parallel";
  } else if (siblings.length) {
    for (const old of siblings) lf.deleteEdge(old.id);
    toast(t("edge_replaced"));
  }
  const props = { ...edge.properties, kind };
  if (kind === "branch") props.when = props.when || "";
  edge.setProperties(props);
  lf.updateText(edge.id, edgeText(props));
  dropOrphanGhosts(ed);
  changed(ed);
  if (ed.selected === source.id) renderPanel(ed);
}

function dropOrphanGhosts(ed) {
  const raw = ed.lf.getGraphRawData();
  for (const n of raw.nodes) {
    if (n.properties.ghost && !raw.edges.some((e) => e.targetNodeId === n.id)) ed.lf.deleteNode(n.id);
  }
}

function deleteSelected(ed) {
  const { nodes, edges } = ed.lf.getSelectElements(true);
  for (const e of edges) ed.lf.deleteEdge(e.id);
  for (const n of nodes) ed.lf.deleteNode(n.id);
  dropOrphanGhosts(ed);
  select(ed, null);
  changed(ed);
}

function setStart(ed, id) {
  ed.header.start = id;
  for (const n of ed.lf.getGraphRawData().nodes) {
    if (n.properties.ghost) continue;
    const isStart = n.id === id;
    if (!!n.properties.start !== isStart) ed.lf.setProperties(n.id, { start: isStart });
  }
}

/** Something in the definition changed: validate soon and save the draft a little later. */
function changed(ed, { layoutOnly = false } = {}) {
  if (!ed.canEdit) return;
  showEmptyHint(ed);
  ed.dirty = true;
  ed.saveStateEl.textContent = t("unsaved");
  ed.saveStateEl.className = "sf-badge sf-warn";
  if (!layoutOnly) {
    clearTimeout(ed.validateTimer);
    ed.validateTimer = setTimeout(() => validateNow(ed), 350);
  }
  clearTimeout(ed.saveTimer);
  ed.saveTimer = setTimeout(() => saveDraft(ed, { quiet: true }), 1500);
}

function showEmptyHint(ed) {
  ed.emptyHintEl.hidden = ed.lf.getGraphRawData().nodes.length > 0;
}

export function currentDefinition(ed) {
  const header = {};
  for (const k of HEADER_KEYS) if (ed.header[k] !== undefined && ed.header[k] !== "") header[k] = ed.header[k];
  if (!header.start) header.start = "";
  return graphToDefinition(ed.lf, header);
}

// ---- validation -----------------------------------------------------------------------

async function validateNow(ed) {
  if (ed.mode.kind === "compare") return;
  const { definition, order } = currentDefinition(ed);
  const seq = (ed.validateSeq = (ed.validateSeq || 0) + 1);
  ed.problemsEl.classList.add("sf-busy");
  try {
    const result = await api("POST", "/definitions/validate", { definition });
    if (seq !== ed.validateSeq) return;
    ed.order = order;
    applyProblems(ed, result.problems || []);
  } catch (err) {
    if (seq === ed.validateSeq) toast(`${t("error")}${err.message}`, "error");
  } finally {
    if (seq === ed.validateSeq) ed.problemsEl.classList.remove("sf-busy");
  }
}

function problemNode(ed, problem) {
  if (problem.node_id) return problem.node_id;
  const m = /^\$\.nodes\[(\d+)\]/.exec(problem.path || "");
  return m ? ed.order[Number(m[1])] : null;
}

/** The part of a problem's path inside its node: `$.nodes[2].params.x` -> `params.x`. */
function localPath(problem) {
  const m = /^\$\.nodes\[\d+\]\.?(.*)$/.exec(problem.path || "");
  return m ? m[1] : null;
}

function problemEdge(ed, nodeId, path) {
  if (!nodeId || path === null) return null;
  const out = ed.lf.getNodeOutgoingEdge(nodeId) || [];
  const m = /^branches\[(\d+)\]/.exec(path);
  if (path === "next") return out[0];
  if (path === "default") return out.find((e) => e.properties.kind === "default");
  if (m) {
    const branches = out.filter((e) => e.properties.kind !== "default");
    return branches[Number(m[1])];
  }
  return null;
}

function applyProblems(ed, problems) {
  ed.problems = problems;
  const marks = {};
  const edgeMarks = new Set();
  for (const p of problems) {
    const id = problemNode(ed, p);
    if (id) marks[id] = true;
    const edge = problemEdge(ed, id, localPath(p));
    if (edge) edgeMarks.add(edge.id);
  }
  for (const n of ed.lf.getGraphRawData().nodes) {
    if (n.properties.ghost) continue;
    const want = !!marks[n.id];
    if (!!n.properties.error !== want) ed.lf.setProperties(n.id, { error: want });
  }
  for (const e of ed.lf.graphModel.edges) {
    const want = edgeMarks.has(e.id) || !!(ed.lf.getNodeModelById(e.targetNodeId) || { properties: {} }).properties.ghost;
    if (!!e.properties.error !== want) e.setProperties({ ...e.properties, error: want });
  }
  renderProblems(ed);
  if (ed.rightTab === "props") updateInlineErrors(ed);
}

function renderProblems(ed) {
  const box = clear(ed.problemsEl);
  const count = ed.problems.length;
  box.append(el("div.sf-problems-head",
    el("span.sf-panel-title", `${t("problems")} `, el("span.sf-count", { class: `sf-count${count ? " sf-bad" : " sf-good"}`, "data-count": count }, String(count)))));
  if (!count) {
    box.append(el("div.sf-ok", "✓ ", t(ed.canEdit ? "no_problems" : "no_problems_view")));
    return;
  }
  const list = el("ul.sf-problem-list");
  for (const p of ed.problems) {
    const id = problemNode(ed, p);
    list.append(el("li.sf-problem", {
      "data-code": p.code, "data-node": id || "",
      on: { click: () => { if (id && ed.lf.getNodeModelById(id)) { select(ed, id); ed.lf.focusOn(id); } } },
    }, el("span.sf-problem-icon", "!"), el("span.sf-problem-text", problemText(p)), el("code.sf-problem-path", p.path)));
  }
  box.append(list);
}

// ---- selection and the property panel -------------------------------------------------

function select(ed, nodeId, edgeId) {
  ed.selected = nodeId;
  ed.selectedEdge = edgeId || null;
  if (nodeId && ed.lf.getNodeModelById(nodeId)) ed.lf.selectElementById(nodeId);
  else if (!nodeId) ed.lf.clearSelectElements();
  if (ed.rightTab !== "props") ed.rightTab = "props";
  renderPanel(ed);
}

function renderPanel(ed) {
  const box = clear(ed.panelEl);
  const tabs = el("div.sf-tabs",
    el("button.sf-tab", { class: `sf-tab${ed.rightTab === "props" ? " sf-on" : ""}`, "data-tab": "props", on: { click: () => { ed.rightTab = "props"; renderPanel(ed); } } }, t("properties")),
    session.canEdit() && ed.mode.kind !== "compare"
      ? el("button.sf-tab", { class: `sf-tab${ed.rightTab === "run" ? " sf-on" : ""}`, "data-tab": "run", on: { click: () => { ed.rightTab = "run"; renderPanel(ed); } } }, t("test_run"))
      : null);
  box.append(tabs);
  const body = el("div.sf-panel-body");
  box.append(body);
  if (ed.rightTab === "run") {
    renderTestRun(body, ed);
    return;
  }
  if (ed.selected && ed.lf.getNodeModelById(ed.selected)) renderNodePanel(body, ed, ed.selected);
  else renderHeaderPanel(body, ed);
  updateInlineErrors(ed);
}

function renderHeaderPanel(body, ed) {
  const schema = ed.catalog.definitionSchema;
  body.append(el("div.sf-panel-title", t("pipeline_settings")));
  const ids = ed.lf.getGraphRawData().nodes.filter((n) => !n.properties.ghost).map((n) => n.id);
  body.append(el("div.sf-field", { "data-path": "start" }, el("div.sf-label", t("start_node")),
    el("select", { name: "start", disabled: !ed.canEdit, on: { change: (e) => { setStart(ed, e.target.value); changed(ed); } } },
      el("option", { value: "" }, "—"), ids.map((id) => el("option", { value: id, selected: id === ed.header.start }, id)))));
  const value = ed.header;
  body.append(renderForm(schema, value, {
    root: schema, skip: new Set(["key", "version", "start", "nodes"]), readOnly: !ed.canEdit,
    onChange: (path) => {
      if (path === "name") document.querySelector(".sf-title-name").textContent = ed.header.name;
      changed(ed);
    },
    rerender: () => renderPanel(ed),
  }));
}

function renderNodePanel(body, ed, id) {
  const model = ed.lf.getNodeModelById(id);
  const props = model.properties;
  const nt = nodeTypeOf(props.ntype);
  const tpl = props.template ? ed.catalog.templates[props.template] : null;
  const value = clone(props.node || {});
  const commit = () => {
    ed.lf.setProperties(id, { node: clone(value) });
    changed(ed);
  };
  body.append(el("div.sf-node-head", { class: `sf-node-head sf-kind-${nt ? nt.kind : "flow"}` },
    el("div", el("div.sf-node-head-type", typeLabel(nt) || props.ntype), el("div.sf-node-head-name", value.name || id)),
    tpl ? el("div.sf-help", `${t("from_template")}: ${tpl.name}`) : null));
  const nodeProblems = ed.problems.filter((p) => problemNode(ed, p) === id);
  if (nodeProblems.length) {
    body.append(el("ul.sf-node-problems", nodeProblems.map((p) => el("li", problemText(p)))));
  }
  body.append(el("div.sf-field", { "data-path": "id" }, el("div.sf-label", t("node_id")),
    el("input", { name: "id", value: id, disabled: !ed.canEdit, on: { change: (e) => renameNode(ed, id, e.target.value.trim(), e.target) } })));
  const skip = new Set(["id", "type", "next", "default", "branches"]);
  if (props.ntype === "parallel") skip.add("join");
  body.append(renderForm(nt.schema, value, {
    root: nt.schema, skip, readOnly: !ed.canEdit,
    base: tpl ? tpl.node : undefined,
    lockedPaths: tpl ? new Set(tpl.locked || []) : undefined,
    onChange: commit,
    rerender: () => renderPanel(ed),
  }));
  if (props.ntype === "parallel") body.append(joinField(ed, value, commit));
  body.append(outgoingSection(ed, id, props.ntype));
}

function joinField(ed, value, commit) {
  const joins = ed.lf.getGraphRawData().nodes.filter((n) => n.properties.ntype === "join").map((n) => n.id);
  return el("div.sf-field", { "data-path": "join" }, el("div.sf-label", t("join_node"), el("b.sf-req", "*")),
    el("select", { name: "join", disabled: !ed.canEdit, on: { change: (e) => { value.join = e.target.value; commit(); } } },
      el("option", { value: "" }, "—"), joins.map((j) => el("option", { value: j, selected: value.join === j }, j))));
}

function outgoingSection(ed, id, ntype) {
  const { lf } = ed;
  const out = lf.getNodeOutgoingEdge(id) || [];
  const box = el("fieldset.sf-group.sf-outgoing", el("legend", ntype === "decision" ? t("outgoing") : t("next_node")));
  const nameOf = (edge) => {
    const target = lf.getNodeModelById(edge.targetNodeId);
    if (!target) return "?";
    return target.properties.ghost ? `⚠ ${target.properties.target}` : `${(target.properties.node || {}).name || target.id} (${target.id})`;
  };
  if (ntype === "end") return el("div");
  if (ntype !== "decision" && ntype !== "parallel") {
    const current = out[0] ? (lf.getNodeModelById(out[0].targetNodeId).properties.target || out[0].targetNodeId) : "";
    const listId = `sf-ids-${id}`;
    const ids = lf.getGraphRawData().nodes.filter((n) => !n.properties.ghost && n.id !== id).map((n) => n.id);
    box.append(el("div.sf-field", { "data-path": "next" },
      el("input", { name: "next", list: listId, value: current, placeholder: t("no_next"), disabled: !ed.canEdit,
        on: { change: (e) => setNext(ed, id, e.target.value.trim()) } }),
      el("datalist", { id: listId }, ids.map((x) => el("option", { value: x })))));
    return box;
  }
  out.forEach((edge, i) => {
    const p = edge.properties;
    const row = el("div.sf-item", { "data-edge": edge.id, class: `sf-item${ed.selectedEdge === edge.id ? " sf-focus" : ""}` },
      el("div.sf-item-head", el("span", `→ ${nameOf(edge)}`)));
    if (ntype === "decision") {
      const update = (patch) => {
        const next = { ...edge.properties, ...patch };
        edge.setProperties(next);
        lf.updateText(edge.id, edgeText(next));
        changed(ed);
      };
      row.append(
        el("label.sf-check", el("input", { type: "checkbox", name: `default-${i}`, checked: p.kind === "default", disabled: !ed.canEdit,
          on: { change: (e) => {
            if (e.target.checked) for (const other of out) if (other !== edge && other.properties.kind === "default") { other.setProperties({ ...other.properties, kind: "branch" }); lf.updateText(other.id, edgeText(other.properties)); }
            update({ kind: e.target.checked ? "default" : "branch" });
            renderPanel(ed);
          } } }), " ", t("default_branch")));
      if (p.kind !== "default") {
        const bi = out.filter((e) => e.properties.kind !== "default").indexOf(edge);
        row.append(
          el("div.sf-field", { "data-path": `branches[${bi}].when` }, el("div.sf-label", t("condition"), el("b.sf-req", "*")),
            el("input", { name: `when-${i}`, value: p.when || "", placeholder: "service.parts_needed", disabled: !ed.canEdit, on: { change: (e) => update({ when: e.target.value.trim() }) } })),
          el("div.sf-field", { "data-path": `branches[${bi}].label` }, el("div.sf-label", t("label")),
            el("input", { name: `label-${i}`, value: p.label || "", disabled: !ed.canEdit, on: { change: (e) => update({ label: e.target.value.trim() }) } })));
      }
    }
    box.append(row);
  });
  if (!out.length) box.append(el("div.sf-help", t("no_next")));
  return box;
}

function setNext(ed, id, target) {
  const { lf } = ed;
  for (const e of lf.getNodeOutgoingEdge(id) || []) lf.deleteEdge(e.id);
  if (target) {
    let targetId = target;
    if (!lf.getNodeModelById(target) || lf.getNodeModelById(target).properties.ghost) {
      const src = lf.getNodeModelById(id);
      targetId = `__missing__${id}__next`;
      if (lf.getNodeModelById(targetId)) lf.deleteNode(targetId);
      lf.addNode({ id: targetId, type: NODE_TYPE, x: src.x + 40, y: src.y + 110, properties: { ghost: true, target } });
    }
    lf.addEdge({ type: EDGE_TYPE, sourceNodeId: id, targetNodeId: targetId, properties: { kind: "next" } });
  }
  dropOrphanGhosts(ed);
  changed(ed);
  renderPanel(ed);
}

function renameNode(ed, oldId, newId, input) {
  if (newId === oldId) return;
  if (!NODE_ID.test(newId)) {
    toast(t("id_invalid"), "error");
    input.value = oldId;
    return;
  }
  if (ed.lf.getNodeModelById(newId)) {
    toast(t("id_taken"), "error");
    input.value = oldId;
    return;
  }
  const raw = ed.lf.getGraphRawData();
  for (const n of raw.nodes) if (n.id === oldId) n.id = newId;
  for (const e of raw.edges) {
    if (e.sourceNodeId === oldId) e.sourceNodeId = newId;
    if (e.targetNodeId === oldId) e.targetNodeId = newId;
  }
  for (const n of raw.nodes) {
    if (n.properties.node && n.properties.node.join === oldId) n.properties.node.join = newId;
  }
  if (ed.header.start === oldId) ed.header.start = newId;
  ed.lf.render(raw);
  ed.selected = newId;
  ed.lf.selectElementById(newId);
  changed(ed);
  renderPanel(ed);
}

function updateInlineErrors(ed) {
  const panel = ed.panelEl;
  if (!panel) return;
  panel.querySelectorAll(".sf-error.sf-live").forEach((n) => n.remove());
  panel.querySelectorAll(".sf-invalid.sf-live-mark").forEach((n) => n.classList.remove("sf-invalid", "sf-live-mark"));
  const id = ed.selected;
  const fields = [...panel.querySelectorAll("[data-path]")];
  const mine = ed.problems.filter((p) => (id ? problemNode(ed, p) === id : !problemNode(ed, p)));
  for (const p of mine) {
    let path = id ? localPath(p) : (p.path || "").replace(/^\$\.?/, "");
    if (path === null || path === undefined) continue;
    // The closest field: the exact path, else its nearest enclosing setting.
    let target = null;
    const parts = splitPath(path);
    while (parts.length && !target) {
      const candidate = parts.reduce((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), "");
      target = fields.find((f) => f.dataset.path === candidate);
      parts.pop();
    }
    if (!target) continue;
    target.classList.add("sf-invalid", "sf-live-mark");
    const msg = el("div.sf-error.sf-live", problemText(p));
    const after = target.querySelector(":scope > input, :scope > select, :scope > textarea, :scope > label, :scope > legend");
    if (after) after.after(msg);
    else target.append(msg);
  }
}

// ---- save, publish, import/export ------------------------------------------------------

export async function saveDraft(ed, { quiet = false } = {}) {
  if (!ed.canEdit) return;
  clearTimeout(ed.saveTimer);
  const { definition, layout } = currentDefinition(ed);
  ed.saveStateEl.textContent = t("saving");
  try {
    await api("PUT", `/definitions/${encodeURIComponent(ed.key)}/draft`, { definition, layout });
    ed.dirty = false;
    ed.saveStateEl.textContent = t("saved");
    ed.saveStateEl.className = "sf-badge sf-ok-badge";
    if (!quiet) toast(t("saved"));
  } catch (err) {
    ed.saveStateEl.textContent = t("unsaved");
    toast(`${t("error")}${err.message}`, "error");
  }
}

async function publish(ed) {
  await saveDraft(ed, { quiet: true });
  try {
    const result = await api("POST", `/definitions/${encodeURIComponent(ed.key)}/publish`);
    toast(`${t("published_as")}${result.version}`, "success");
    const detail = await api("GET", `/definitions/${encodeURIComponent(ed.key)}`);
    ed.versions = detail.versions || [];
  } catch (err) {
    if (err instanceof ApiError && err.body.problems) {
      applyProblems(ed, err.body.problems);
      modal(t("publish_refused"), el("ul.sf-problem-list.sf-publish-problems", err.body.problems.map((p) => el("li.sf-problem", el("span.sf-problem-icon", "!"), problemText(p)))),
        [(close) => el("button.sf-btn", { on: { click: close } }, t("close"))]);
    } else toast(`${t("error")}${err.message}`, "error");
  }
}

function exportJson(ed) {
  const { definition, layout } = currentDefinition(ed);
  download(`${ed.key}.json`, JSON.stringify({ ...definition, layout }, null, 2));
}

async function importJson(ed) {
  const text = await pickFile();
  if (!text) return;
  loadJsonText(ed, text);
}

/** Lays every node out again (dagre) and keeps the new positions as the draft's layout. */
function tidy(ed) {
  const { definition } = currentDefinition(ed);
  const layout = autoLayout(definition.nodes || [], definition.start, ed.catalog.templates);
  ed.lf.render(definitionToGraph(definition, layout, ed.catalog.templates));
  ed.lf.fitView(80, 80);
  select(ed, null);
  changed(ed, { layoutOnly: true });
}

function loadJsonText(ed, text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    toast(`${t("import_bad")}${err.message}`, "error");
    return;
  }
  const { layout, ...definition } = data;
  definition.key = ed.key;
  ed.header = {};
  for (const k of HEADER_KEYS) if (definition[k] !== undefined) ed.header[k] = clone(definition[k]);
  ed.lf.render(definitionToGraph(definition, layout, ed.catalog.templates));
  ed.lf.fitView(80, 80);
  select(ed, null);
  changed(ed);
  toast(t("import_done"));
}

// ---- versions and compare --------------------------------------------------------------

async function showVersions(ed) {
  let versions = ed.versions;
  try {
    versions = (await api("GET", `/definitions/${encodeURIComponent(ed.key)}/versions`)).data;
  } catch { /* the list from the detail is good enough */ }
  const sides = [["draft", t("draft")], ...versions.map((v) => [String(v.version), `v${v.version}`])];
  const base = el("select", { name: "base" }, sides.map(([v, l], i) => el("option", { value: v, selected: i === 1 }, l)));
  const target = el("select", { name: "target" }, sides.map(([v, l], i) => el("option", { value: v, selected: i === 0 }, l)));
  const fmt = (s) => (s ? new Date(s).toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB") : "");
  let close;
  const table = el("table.sf-table",
    el("thead", el("tr", el("th", t("version")), el("th", t("published_at")), el("th", t("published_by")), el("th", ""))),
    el("tbody", versions.map((v) => el("tr", { "data-version": v.version },
      el("td", `v${v.version}`), el("td", fmt(v.published_at)), el("td", v.published_by || ""),
      el("td.sf-actions",
        el("a.sf-link", { href: `#/p/${ed.key}/v/${v.version}`, on: { click: () => close() } }, t("open_read_only")),
        session.canEdit() ? el("button.sf-link", { type: "button", on: { click: () => { close(); draftFrom(ed, v.version); } } }, t("new_draft_from")) : null)))),
  );
  close = modal(`${t("versions")} · ${ed.key}`, el("div",
    versions.length ? table : el("p", t("none")),
    el("div.sf-compare-row", el("b", t("compare")), t("compare_base"), base, "→", t("compare_target"), target,
      el("button.sf-btn.sf-primary", { type: "button", "data-action": "compare", on: { click: () => {
        close();
        window.location.hash = `#/p/${ed.key}/compare/${base.value}/${target.value}`;
      } } }, t("compare")))));
}

async function draftFrom(ed, version) {
  try {
    await api("POST", `/definitions/${encodeURIComponent(ed.key)}/draft-from/${version}`);
    toast(t("draft_replaced", { v: version }), "success");
    if (window.location.hash === `#/p/${ed.key}`) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else window.location.hash = `#/p/${ed.key}`;
  } catch (err) {
    toast(`${t("error")}${err.message}`, "error");
  }
}

function markDiff(ed) {
  const { diff, lf } = ed;
  const added = new Set(diff.added || []);
  const changedIds = new Set((diff.changed || []).map((c) => c.node_id));
  for (const n of lf.getGraphRawData().nodes) {
    if (added.has(n.id)) lf.setProperties(n.id, { added: true });
    if (changedIds.has(n.id)) lf.setProperties(n.id, { changed: true });
  }
  const baseDef = (ed.base && ed.base.definition) || { nodes: [] };
  const baseLayout = { ...autoLayout(baseDef.nodes || [], baseDef.start), ...((ed.base && ed.base.layout) || {}) };
  (diff.removed || []).forEach((id, i) => {
    const node = (baseDef.nodes || []).find((n) => n.id === id);
    if (!node) return;
    const pos = baseLayout[id] || { x: 120 + i * 200, y: 40 };
    const { id: _id, next: _n, ...rest } = node;
    lf.addNode({ id, type: NODE_TYPE, x: pos.x, y: pos.y + (lf.getNodeModelById(id) ? 100 : 0), properties: { ntype: resolvedType(node, ed.catalog.templates), node: rest, removed: true } });
  });
}

function renderDiffList(ed) {
  const box = clear(ed.problemsEl);
  const { diff } = ed;
  box.append(el("div.sf-problems-head", el("span.sf-panel-title", t("compare_title"))));
  const list = el("ul.sf-diff-list");
  for (const id of diff.added || []) list.append(el("li.sf-diff.sf-added", { "data-diff": "added", "data-node": id }, `+ ${t("added")}: ${id}`));
  for (const id of diff.removed || []) list.append(el("li.sf-diff.sf-removed", { "data-diff": "removed", "data-node": id }, `− ${t("removed")}: ${id}`));
  for (const c of diff.changed || []) list.append(el("li.sf-diff.sf-changed", { "data-diff": "changed", "data-node": c.node_id }, `~ ${t("changed")}: ${c.node_id} — ${c.fields.join(", ")}`));
  if ((diff.header || []).length) list.append(el("li.sf-diff", `${t("header_changed")}: ${diff.header.join(", ")}`));
  if (!list.children.length) list.append(el("li", t("no_diff")));
  box.append(list);
}

/** Marks from a running order: active and completed nodes (the test run). */
export function markRun(ed, state) {
  const active = new Set((state && state.active ? state.active : []).map((a) => a.node_id));
  const done = new Set((state && state.timeline ? state.timeline : []).filter((e) => e.completed_at).map((e) => e.node_id));
  for (const n of ed.lf.getGraphRawData().nodes) {
    if (n.properties.ghost) continue;
    const want = { active: active.has(n.id), done: done.has(n.id) && !active.has(n.id) };
    if (!!n.properties.active !== want.active || !!n.properties.done !== want.done) ed.lf.setProperties(n.id, want);
  }
  // A decision's edge counts as taken only when its target came right after it.
  const timeline = (state && state.timeline) || [];
  const followed = new Set(timeline.slice(1).map((entry, i) => `${timeline[i].node_id}>${entry.node_id}`));
  for (const a of active) if (timeline.length) followed.add(`${timeline[timeline.length - 1].node_id}>${a}`);
  for (const e of ed.lf.graphModel.edges) {
    const source = ed.lf.getNodeModelById(e.sourceNodeId);
    const decision = source && source.properties.ntype === "decision";
    const want = done.has(e.sourceNodeId) && (done.has(e.targetNodeId) || active.has(e.targetNodeId))
      && (!decision || followed.has(`${e.sourceNodeId}>${e.targetNodeId}`));
    if (!!e.properties.done !== want) e.setProperties({ ...e.properties, done: want });
  }
}
