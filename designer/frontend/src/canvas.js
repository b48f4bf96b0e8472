// The canvas: LogicFlow with one HTML node type for every servflow node, and the mapping
// between the graph (nodes + edges) and a definition (nodes with next/branches/default).
import LogicFlow, { HtmlNode, HtmlNodeModel, PolylineEdge, PolylineEdgeModel } from "@logicflow/core";
import { MiniMap } from "@logicflow/extension/es/components/mini-map/index.js";
import { SelectionSelect } from "@logicflow/extension/es/components/selection-select/index.js";
import dagre from "@dagrejs/dagre";
import { clone } from "./dom.js";
import { typeLabel, t } from "./i18n.js";

export const GHOST = "sf-ghost";
const NODE = "sf-node";
const EDGE = "sf-edge";

const GLYPH = {
  report: "报", dispatch: "派", service: "修", signoff: "签", settlement: "结", notify: "通",
  task: "任", decision: "?", parallel: "+", join: "合", timer: "时", subpipeline: "子", end: "终",
};
const SHAPE = { decision: "diamond", parallel: "diamond", join: "diamond", end: "pill" };
const SIZE = { card: [184, 58], diamond: [120, 76], pill: [120, 44] };

let nodeTypes = {};
export function setNodeTypes(types) {
  nodeTypes = Object.fromEntries(types.map((nt) => [nt.type, nt]));
}
export const nodeTypeOf = (type) => nodeTypes[type];

class SfNodeModel extends HtmlNodeModel {
  setAttributes() {
    const shape = SHAPE[this.properties.ntype] || "card";
    const [w, h] = this.properties.ghost ? [120, 40] : SIZE[shape];
    this.width = w;
    this.height = h;
    this.text.editable = false;
  }
  getNodeStyle() {
    const style = super.getNodeStyle();
    style.fill = "transparent";
    style.stroke = "transparent";
    return style;
  }
  getOutlineStyle() {
    const style = super.getOutlineStyle();
    style.stroke = "#2f6fed";
    style.strokeDasharray = "4 3";
    return style;
  }
}

class SfNode extends HtmlNode {
  setHtml(root) {
    const { properties: p, id } = this.props.model;
    root.innerHTML = "";
    const box = document.createElement("div");
    const nt = nodeTypes[p.ntype] || {};
    const shape = p.ghost ? "ghost" : SHAPE[p.ntype] || "card";
    const states = ["error", "active", "done", "added", "changed", "removed"].filter((s) => p[s]);
    box.className = [`sf-node`, `sf-shape-${shape}`, `sf-kind-${nt.kind || "flow"}`, ...states.map((s) => `sf-${s}`)].join(" ");
    box.dataset.nodeId = p.ghost ? p.target : id;
    if (p.ghost) {
      box.dataset.ghost = "1";
      box.innerHTML = `<span class="sf-node-name"></span>`;
      box.querySelector(".sf-node-name").textContent = `${t("missing_node")}: ${p.target}`;
    } else {
      const name = (p.node && p.node.name) || "";
      box.innerHTML =
        `<span class="sf-glyph"></span><span class="sf-node-text"><span class="sf-node-type"></span>` +
        `<span class="sf-node-name"></span></span>` +
        (p.start ? `<span class="sf-start-flag"></span>` : "") +
        (p.template ? `<span class="sf-tpl-flag">T</span>` : "");
      box.querySelector(".sf-glyph").textContent = GLYPH[p.ntype] || "•";
      box.querySelector(".sf-node-type").textContent = typeLabel(nt) || p.ntype;
      box.querySelector(".sf-node-name").textContent = name || id;
      if (p.start) box.querySelector(".sf-start-flag").textContent = t("start_flag");
      box.title = `${id} · ${typeLabel(nt)}`;
    }
    root.append(box);
  }
}

class SfEdgeModel extends PolylineEdgeModel {
  getEdgeStyle() {
    const style = super.getEdgeStyle();
    const p = this.properties;
    style.stroke = p.error ? "#e5484d" : p.added ? "#1f9d55" : p.changed ? "#d97706" : p.done ? "#1f9d55" : "#8a94a6";
    style.strokeWidth = p.error || p.done ? 2.2 : 1.6;
    if (p.kind === "default") style.strokeDasharray = "6 4";
    if (p.ghost) style.strokeDasharray = "3 3";
    return style;
  }
  getEdgeAnimationStyle() {
    return super.getEdgeAnimationStyle();
  }
  getTextStyle() {
    const style = super.getTextStyle();
    style.fontSize = 12;
    style.color = this.properties.error ? "#e5484d" : "#4a5568";
    style.background = { fill: "#ffffff" };
    return style;
  }
}

export function createCanvas(container, { readOnly }) {
  const lf = new LogicFlow({
    container,
    grid: { size: 10, visible: true, type: "dot", config: { color: "#d5dbe5" } },
    keyboard: { enabled: true },
    plugins: [MiniMap, SelectionSelect],
    pluginsOptions: { miniMap: { width: 160, height: 110, rightPosition: 12, bottomPosition: 12, isShowHeader: false, isShowCloseIcon: false } },
    isSilentMode: readOnly,
    stopScrollGraph: false,
    stopZoomGraph: false,
    hoverOutline: false,
    edgeType: EDGE,
    adjustEdgeStartAndEnd: !readOnly,
    style: {
      anchor: { r: 5, fill: "#ffffff", stroke: "#2f6fed", strokeWidth: 1.5 },
      anchorHover: { r: 7, fill: "#2f6fed", stroke: "#2f6fed" },
      edgeAnimation: { stroke: "#2f6fed" },
      arrow: { offset: 8, verticalLength: 4 },
    },
  });
  lf.register({ type: NODE, view: SfNode, model: SfNodeModel });
  lf.register({ type: EDGE, view: PolylineEdge, model: SfEdgeModel });
  return lf;
}

// ---- graph <-> definition -----------------------------------------------------------

const FLOW_KEYS = ["id", "next", "default"];

/** The definition the graph draws, its layout, and the node id at each index. */
export function graphToDefinition(lf, header) {
  const raw = lf.getGraphRawData();
  const byId = Object.fromEntries(raw.nodes.map((n) => [n.id, n]));
  const targetOf = (edge) => {
    const target = byId[edge.targetNodeId];
    return target && target.properties.ghost ? target.properties.target : edge.targetNodeId;
  };
  const nodes = [];
  const layout = {};
  const order = [];
  for (const n of raw.nodes) {
    if (n.properties.ghost) continue;
    const node = { id: n.id, ...clone(n.properties.node || {}) };
    for (const key of FLOW_KEYS.slice(1)) delete node[key];
    if (n.properties.template) {
      node.template = n.properties.template;
      delete node.type;
    } else {
      node.type = n.properties.ntype;
    }
    const out = raw.edges.filter((e) => e.sourceNodeId === n.id);
    if (n.properties.ntype === "decision") {
      node.branches = out
        .filter((e) => e.properties.kind !== "default")
        .map((e) => {
          const branch = { when: e.properties.when || "", next: targetOf(e) };
          if (e.properties.label) branch.label = e.properties.label;
          return branch;
        });
      const fallback = out.find((e) => e.properties.kind === "default");
      if (fallback) node.default = targetOf(fallback);
    } else if (n.properties.ntype === "parallel") {
      node.branches = out.map(targetOf);
    } else if (out.length) {
      node.next = targetOf(out[0]);
    }
    const ordered = { id: node.id };
    if (node.template) ordered.template = node.template;
    else ordered.type = node.type;
    Object.assign(ordered, node);
    nodes.push(ordered);
    layout[n.id] = { x: Math.round(n.x), y: Math.round(n.y) };
    order.push(n.id);
  }
  const definition = { ...header, nodes };
  return { definition, layout, order };
}

function successors(node) {
  const out = [];
  if (node.type === "decision" || (node.branches && node.branches.length && typeof node.branches[0] === "object")) {
    (node.branches || []).forEach((b, i) => out.push({ target: b.next, kind: "branch", when: b.when, label: b.label, index: i }));
    if (node.default) out.push({ target: node.default, kind: "default" });
  } else if (Array.isArray(node.branches)) {
    node.branches.forEach((b, i) => out.push({ target: b, kind: "parallel", index: i }));
  } else if (node.next) {
    out.push({ target: node.next, kind: "next" });
  }
  return out;
}

/** Node type of a definition node, following a template reference. */
export function resolvedType(node, templates) {
  if (node.type) return node.type;
  const tpl = templates[node.template];
  return tpl ? tpl.node.type : "task";
}

/** Positions for nodes that have none (pipelines imported or created through the API), and
 * for every node when the designer tidies: a layered layout (dagre, left to right) in which
 * fork and join edges do not overlap, with room above the top row for the start flag. */
export function autoLayout(nodes, start, templates = {}) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 46, ranksep: 90, edgesep: 24, marginx: 40, marginy: 50 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    const [width, height] = SIZE[SHAPE[resolvedType(n, templates)] || "card"];
    g.setNode(n.id, { width, height });
  }
  // Edges from the start node first, so the main path runs along the first row.
  const ordered = [...nodes].sort((a, b) => (a.id === start ? -1 : b.id === start ? 1 : 0));
  for (const n of ordered) {
    successors({ ...n, type: resolvedType(n, templates) }).forEach((s, i) => {
      if (ids.has(s.target) && s.target !== n.id) g.setEdge(n.id, s.target, { minlen: 1, weight: s.kind === "next" || s.kind === "default" ? 2 : 1 }, `${s.kind}${i}`);
    });
  }
  dagre.layout(g);
  const layout = {};
  for (const n of nodes) {
    const at = g.node(n.id);
    layout[n.id] = { x: Math.round(at.x + 60), y: Math.round(at.y + 30) };
  }
  return layout;
}

/** LogicFlow graph data for a definition (dangling targets become "missing node" ghosts). */
export function definitionToGraph(definition, layout, templates) {
  const nodes = Array.isArray(definition.nodes) ? definition.nodes.filter((n) => n && n.id) : [];
  const positions = { ...autoLayout(nodes, definition.start, templates), ...(layout || {}) };
  const ids = new Set(nodes.map((n) => n.id));
  const graph = { nodes: [], edges: [] };
  for (const node of nodes) {
    const { id, next, default: _d, ...rest } = node;
    const ntype = resolvedType(node, templates);
    const props = { ntype, node: rest, start: definition.start === id };
    if (node.template) props.template = node.template;
    if (ntype === "decision" || ntype === "parallel") delete rest.branches;
    delete rest.template;
    if (!node.template) delete rest.type;
    const pos = positions[id] || { x: 100, y: 100 };
    graph.nodes.push({ id, type: NODE, x: pos.x, y: pos.y, properties: props });
  }
  for (const node of nodes) {
    for (const s of successors({ ...node, type: resolvedType(node, templates) })) {
      if (!s.target) continue;
      let target = s.target;
      if (!ids.has(target)) {
        const ghostId = `__missing__${node.id}__${s.kind}${s.index ?? ""}`;
        const pos = positions[node.id] || { x: 100, y: 100 };
        graph.nodes.push({ id: ghostId, type: NODE, x: pos.x + 220, y: pos.y + 90, properties: { ghost: true, target } });
        target = ghostId;
      }
      const props = { kind: s.kind };
      if (s.kind === "branch") Object.assign(props, { when: s.when || "", label: s.label || "" });
      graph.edges.push({ type: EDGE, sourceNodeId: node.id, targetNodeId: target, properties: props, text: edgeText(props) });
    }
  }
  return graph;
}

export function edgeText(props) {
  if (props.kind === "default") return t("default_branch");
  if (props.kind === "branch") return props.label || props.when || t("branch");
  return "";
}

export const NODE_TYPE = NODE;
export const EDGE_TYPE = EDGE;
export { LogicFlow };
