// Dispatch board: open orders and engineers on one plot, the queue with SLA timers, and
// reassignment by dragging an order onto an engineer (the API's reassign, with its checks).
import * as echarts from "echarts";
import { el, toast } from "../dom.js";
import { call, every } from "./main.js";
import { fmtDuration, statusText, t } from "./i18n.js";
import { unitName } from "./names.js";

const OPEN = (o) => !["completed", "cancelled", "failed"].includes(o.status);

export async function dispatchPage(main) {
  const queue = el("div.sf-queue", { "data-list": "queue" });
  const crew = el("div.sf-crew", { "data-list": "engineers" });
  const plot = el("div.sf-chart.sf-chart-board", { "data-chart": "board" });
  main.append(el("div.sf-page",
    el("div.sf-page-head", el("h2", t("nav_dispatch")), el("span.sf-muted", t("drag_hint"))),
    el("div.sf-board",
      el("div.sf-panel", el("h3", t("queue")), queue),
      el("div.sf-panel", el("h3", t("map_board")), plot),
      el("div.sf-panel", el("h3", t("engineers")), crew))));

  let outlets = {};
  async function load() {
    const [page, board] = await Promise.all([call("GET", "/orders?limit=40"), call("GET", "/reporting/board")]);
    const engineers = { data: board.engineers };
    outlets = Object.fromEntries(board.outlets.map((o) => [o.code, o]));
    const open = page.data.filter(OPEN);
    const details = await Promise.all(open.slice(0, 20).map((o) => call("GET", `/orders/${encodeURIComponent(o.order_id)}?live=false`).catch(() => null)));
    const now = Date.now();
    queue.replaceChildren(...open.slice(0, 20).map((o, i) => {
      const d = details[i];
      const waiting = d && (d.steps || []).find((s) => !s.completed_at);
      const deadline = waiting && waiting.sla_deadline ? new Date(waiting.sla_deadline).getTime() : null;
      const left = deadline ? (deadline - now) / 1000 : null;
      return el("div.sf-ticket", {
        draggable: "true",
        "data-order": o.order_id,
        "data-node": (waiting && waiting.node_id) || o.current_node,
        on: { dragstart: (e) => { e.dataTransfer.setData("text/plain", o.order_id); e.dataTransfer.effectAllowed = "move"; } },
      },
      el("div.sf-row", el("b", o.order_no || o.order_id.slice(0, 10)), el("span.sf-badge", statusText(o.status))),
      el("div.sf-muted", `${o.fault || ""} · ${(waiting && waiting.node_id) || o.current_node}${waiting && waiting.assignee ? ` → ${waiting.assignee}` : ""}`),
      left === null ? null : el(`div.sf-timer${left < 0 ? ".sf-late" : left < 7200 ? ".sf-risk" : ""}`, left < 0 ? t("sla_over", { t: fmtDuration(left) }) : t("sla_left", { t: fmtDuration(left) })));
    }));
    crew.replaceChildren(...(engineers.data || []).map((e) => el("div.sf-engineer", {
      "data-engineer": e.username || e.code,
      on: {
        dragover: (ev) => { ev.preventDefault(); ev.currentTarget.classList.add("sf-over"); },
        dragleave: (ev) => ev.currentTarget.classList.remove("sf-over"),
        drop: async (ev) => {
          ev.preventDefault();
          ev.currentTarget.classList.remove("sf-over");
          const orderId = ev.dataTransfer.getData("text/plain");
          const ticket = queue.querySelector(`[data-order="${CSS.escape(orderId)}"]`);
          try {
            await call("POST", `/orders/${encodeURIComponent(orderId)}/reassign`, { node_id: ticket ? ticket.dataset.node : "", user_id: e.username, reason: "dispatch board" });
            toast(t("reassigned", { who: e.name }), "ok");
            setTimeout(() => load().catch(() => null), 800);
          } catch (err) {
            toast(err.message, "error");
          }
        },
      },
    },
    el("div.sf-row", el("b", e.name), el(`span.sf-badge${e.state === "available" ? ".sf-ok-badge" : ""}`, t(`state_${e.state}`))),
    el("div.sf-muted", `${outlets[e.outlet] ? outlets[e.outlet].name : unitName(e.outlet)} · ${t("load")} ${e.current_load}/${e.max_load}`),
    el("div.sf-muted", (e.skills || []).join(", ")))));
    const located = (engineers.data || []).filter((e) => e.lat && e.lng);
    const orderPoints = open.map((o) => {
      const code = (o.org_path || "").split("/").pop();
      const at = outlets[code];
      return at && at.lat ? { name: o.order_no || o.order_id, value: [at.lng + (Math.random() - 0.5) * 0.05, at.lat + (Math.random() - 0.5) * 0.05] } : null;
    }).filter(Boolean);
    const instance = echarts.getInstanceByDom(plot) || echarts.init(plot);
    instance.setOption({
      tooltip: { trigger: "item", formatter: (p) => p.data.name },
      legend: { top: 0, data: [t("queue"), t("engineers")] },
      geo: { map: "china", roam: true, zoom: located.length ? 4 : 1.2, center: located.length ? [located[0].lng, located[0].lat] : undefined, itemStyle: { areaColor: "#eef2f8", borderColor: "#b8c4d6" } },
      series: [
        { name: t("queue"), type: "effectScatter", coordinateSystem: "geo", symbolSize: 10, itemStyle: { color: "#f59e0b" }, data: orderPoints },
        { name: t("engineers"), type: "scatter", coordinateSystem: "geo", symbol: "pin", symbolSize: 22, itemStyle: { color: "#2f6fed" }, data: located.map((e) => ({ name: `${e.name} (${e.current_load}/${e.max_load})`, value: [e.lng, e.lat] })) },
      ],
    }, true);
  }
  await load();
  every(20000, () => load().catch(() => null));
}
