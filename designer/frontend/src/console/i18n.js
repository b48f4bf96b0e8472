// Every string the console shows, in Chinese (default) and English; the language is the
// designer's (one setting, sessionStorage), switched with one click in the header.
import { getLang } from "../i18n.js";

const S = {
  console_title: ["servflow 运营控制台", "servflow operations console"],
  nav_dashboard: ["数据看板", "Dashboards"],
  nav_dispatch: ["派单调度", "Dispatch board"],
  nav_orders: ["工单台", "Order desk"],
  nav_finance: ["财务", "Finance"],
  nav_admin: ["系统管理", "Admin"],
  nav_nps: ["满意度回访", "NPS & call-backs"],
  nav_designer: ["流程设计器", "Designer"],
  login_title: ["登录运营控制台", "Sign in to the console"],
  demo_hint: ["演示账号：hq_admin、region_mgr_huabei、outlet_mgr_bj_001、dispatcher_huabei、care_huabei、finance / demo1234", "Demo accounts: hq_admin, region_mgr_huabei, outlet_mgr_bj_001, dispatcher_huabei, care_huabei, finance / demo1234"],
  not_allowed: ["你的角色不能打开此页面。", "Your role may not open this page."],
  not_available: ["暂不可用：服务端尚未提供此功能（{what}）。", "Not available yet: the server does not offer this ({what})."],
  loading: ["加载中…", "Loading…"],
  scope: ["范围", "Scope"],
  period_days: ["最近天数", "Last days"],
  live: ["实时刷新", "Live"],
  updated: ["更新于 {t}", "Updated {t}"],
  orders_total: ["工单总数", "Orders"],
  orders_open: ["进行中", "Open"],
  orders_completed: ["已完成", "Completed"],
  revenue: ["营收", "Revenue"],
  money_hidden: ["无权查看", "hidden for your role"],
  sla_met: ["SLA 达成", "SLA met"],
  sla_breached: ["SLA 超时", "SLA breached"],
  sla_at_risk: ["即将超时", "At risk"],
  sla_open_breached: ["进行中已超时", "Open, past deadline"],
  ftf: ["一次修复率", "First-time fix"],
  nps: ["NPS", "NPS"],
  chart_trend: ["工单与营收趋势", "Orders and revenue by day"],
  chart_units: ["下级单位（点击下钻）", "Units below (click to drill down)"],
  chart_map: ["服务需求分布", "Service demand by province"],
  chart_bottleneck: ["环节瓶颈热力图（P90，分钟）", "Stage bottleneck heat map (p90, minutes)"],
  pipeline: ["流程版本", "Pipeline version"],
  all_regions: ["全部", "All"],
  parts_alerts: ["配件预警", "Parts alerts"],
  no_data: ["暂无数据", "No data"],
  no_units_below: ["网点没有下级单位", "An outlet has no units below it"],
  orders_of_scope: ["本范围最新工单", "Latest orders in this scope"],
  up: ["返回上级", "Up"],
  queue: ["待派单 / 进行中工单", "Waiting for dispatch / open orders"],
  engineers: ["工程师", "Engineers"],
  drag_hint: ["把工单拖到工程师上即可改派", "Drag an order onto an engineer to reassign it"],
  map_board: ["工单与工程师分布", "Orders and engineers"],
  reassigned: ["已改派给 {who}", "Reassigned to {who}"],
  sla_left: ["剩余 {t}", "{t} left"],
  sla_over: ["超时 {t}", "{t} overdue"],
  load: ["负载", "Load"],
  state_available: ["空闲", "available"],
  state_busy: ["忙碌", "busy"],
  state_off: ["休息", "off"],
  search: ["搜索", "Search"],
  q_hint: ["工单号、客户姓名或电话", "Order number, customer name or phone"],
  status: ["状态", "Status"],
  region: ["区域", "Region"],
  outlet: ["网点", "Outlet"],
  from: ["起始日期", "From"],
  to: ["截止日期", "To"],
  order_no: ["工单号", "Order no."],
  fault: ["故障", "Fault"],
  current_node: ["当前环节", "Current step"],
  created_at: ["创建时间", "Created"],
  prev: ["上一页", "Previous"],
  next: ["下一页", "Next"],
  page_of: ["第 {p} 页，共 {n} 条", "Page {p}, {n} orders"],
  open: ["打开", "Open"],
  timeline: ["时间线", "Timeline"],
  steps: ["步骤", "Steps"],
  forms: ["表单与照片", "Forms and photos"],
  parts: ["配件", "Parts"],
  money: ["金额", "Money"],
  live_state: ["实时状态", "Live state"],
  back: ["返回", "Back"],
  settlements: ["结算", "Settlements"],
  statements: ["对账单", "Statements"],
  export_csv: ["导出 CSV", "Export CSV"],
  import_csv: ["导入 CSV", "Import CSV"],
  exported: ["已导出 {n} 行", "Exported {n} rows"],
  imported: ["已导入 {n} 行", "Imported {n} rows"],
  import_refused: ["导入被拒绝，未保存任何行：", "Import refused, nothing saved:"],
  users: ["用户", "Users"],
  api_keys: ["API 密钥", "API keys"],
  org_tree: ["组织架构", "Org tree"],
  warehouses: ["仓库", "Warehouses"],
  stock: ["库存", "Stock"],
  price_tables: ["价格表", "Price tables"],
  new_user: ["新建用户", "New user"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  display_name: ["显示名", "Display name"],
  roles: ["角色", "Roles"],
  org_unit: ["所属单位", "Org unit"],
  create: ["创建", "Create"],
  created_user: ["已创建用户 {u}", "Created user {u}"],
  new_key: ["新建密钥", "New key"],
  key_shown_once: ["密钥只显示一次：", "Shown once:"],
  active: ["启用", "Active"],
  row: ["行", "Row"],
  field: ["字段", "Field"],
  message: ["说明", "Message"],
  error: ["出错了：", "Error: "],
  amount: ["金额", "Amount"],
  period: ["期间", "Period"],
  party: ["结算对象", "Party"],
  lines: ["行数", "Lines"],
  all: ["全部", "All"],
  export: ["导出", "Export"],
  statements_found: ["共 {n} 份对账单", "{n} statements"],
  no_statements: ["该期间没有对账单：月结在次月 1 日生成上月对账单。", "No statements for this period: the monthly run writes last month's on the 1st."],
  party_outlet: ["网点", "Outlet"],
  party_engineer: ["工程师", "Engineer"],
  party_branch: ["分公司", "Branch"],
  party_region: ["大区", "Region"],
  party_hq: ["总部", "HQ"],
  party_agent: ["代理商", "Agent"],
  settlement_paid: ["已付", "Paid"],
  settlement_held: ["待审批", "Held"],
  settlement_accrued: ["月结待付", "Accrued"],
  statement_open: ["待确认", "Open"],
  statement_confirmed: ["已确认", "Confirmed"],
  statement_disputed: ["有异议", "Disputed"],
  milestone: ["里程碑", "Milestone"],
  order: ["工单", "Order"],
  actor: ["操作人", "Actor"],
  outcome: ["结果", "Outcome"],
  node: ["环节", "Step"],
  assignee: ["处理人", "Assignee"],
  deadline: ["截止", "Deadline"],
  started: ["开始", "Started"],
  completed: ["完成", "Completed"],
  // Roles, as the admin's user form and list show them (the value stays the role's id).
  role_designer: ["流程设计师", "Designer"],
  role_dispatcher: ["调度员", "Dispatcher"],
  role_engineer: ["工程师", "Engineer"],
  role_outlet_manager: ["网点经理", "Outlet manager"],
  role_region_manager: ["大区经理", "Region manager"],
  role_finance: ["财务", "Finance"],
  role_hq_admin: ["总部管理员", "HQ admin"],
  role_api_client: ["API 客户端", "API client"],
  role_customer_care: ["客服", "Customer care"],
  // NPS and call-backs.
  my_call_backs: ["我的回访任务", "My call-backs"],
  do_call_back: ["回访", "Call back"],
  call_back_done: ["已完成回访 {no}", "Call-back {no} recorded"],
  call_back_hint: ["差评（0–6 分）会自动生成回访工单，回访任务派给本范围的客服：致电客户后记录是否联系到、不满意原因和处理结果。", "A low score (0–6) opens a call-back order whose task goes to customer care of the scope: call the customer, then record whether they were reached, the cause and the resolution."],
  customer: ["客户", "Customer"],
  close: ["关闭", "Close"],
  submit: ["提交", "Submit"],
  no_call_backs: ["暂无待处理的回访任务", "No call-backs waiting for you"],
  low_scores: ["差评回访（最近 100 条）", "Low scores and their call-backs (latest 100)"],
  no_low_scores: ["本范围暂无差评", "No low scores in this scope"],
  rated_order: ["被评价工单", "Rated order"],
  engineer: ["工程师", "Engineer"],
  rating: ["评分", "Score"],
  comment: ["客户留言", "Comment"],
  call_back_order: ["回访工单", "Call-back order"],
  not_opened: ["待开单", "not opened yet"],
  nps_by: ["NPS 统计", "NPS"],
  group_by: ["按", "By"],
  by_region: ["区域", "region"],
  by_outlet: ["网点", "outlet"],
  by_engineer: ["工程师", "engineer"],
  responses: ["评价数", "Responses"],
  promoters: ["推荐 (9–10)", "Promoters (9–10)"],
  passives: ["中立 (7–8)", "Passives (7–8)"],
  detractors: ["贬损 (0–6)", "Detractors (0–6)"],
  nps_hint: ["NPS = 推荐者占比 − 贬损者占比（签收时 0–10 分）。", "NPS = % promoters − % detractors (the 0–10 score at sign-off)."],
  since: ["等待自", "Waiting since"],
};

// Server problems in the UI's language: the API's English detail, translated where known.
const SERVER = [
  [/^no (\w+) '(.+)' within your scope$/, ["范围内没有{0}“{1}”", "no {0} '{1}' within your scope"]],
  [/^unknown query parameter\(s\): (.+)$/, ["未知的查询参数：{0}", "unknown query parameter(s): {0}"]],
  [/^Not Found$/, ["未找到", "Not Found"]],
  [/^not enough privileges|^Forbidden|may not/i, ["没有权限执行此操作", "You may not do this"]],
  [/^Not authenticated|invalid credentials|^Invalid username or password/i, ["用户名或密码错误", "Wrong username or password"]],
];

const zh = () => getLang() === "zh";

export function t(key, vars = {}) {
  const pair = S[key];
  let text = pair ? pair[zh() ? 0 : 1] : key;
  for (const [k, v] of Object.entries(vars)) text = text.replace(`{${k}}`, v);
  return text;
}

/** A server's error message in the UI's language (known messages translated). */
export function serverText(message) {
  for (const [pattern, pair] of SERVER) {
    const m = String(message).match(pattern);
    if (m) return pair[zh() ? 0 : 1].replace(/\{(\d)\}/g, (_, i) => m[Number(i) + 1] || "");
  }
  return String(message);
}

const STATUS = {
  running: ["运行中", "running"], reported: ["已报修", "reported"], dispatched: ["已派单", "dispatched"],
  serviced: ["已服务", "serviced"], signed_off: ["已签收", "signed off"], settled: ["已结算", "settled"],
  completed: ["已完成", "completed"], cancelled: ["已取消", "cancelled"], failed: ["失败", "failed"],
  waiting: ["等待中", "waiting"],
};
/** A role's name in the UI's language (its id when unknown). */
export const roleText = (role) => (S[`role_${role}`] ? t(`role_${role}`) : role);

export const statusText = (s) => (STATUS[s] ? STATUS[s][zh() ? 0 : 1] : s);

export function fmtTime(value) {
  if (!value) return "";
  return new Date(value).toLocaleString(zh() ? "zh-CN" : "en-GB", { hour12: false });
}

export function fmtDuration(seconds) {
  const s = Math.abs(seconds);
  if (s < 3600) return `${Math.round(s / 60)}${zh() ? "分钟" : " min"}`;
  if (s < 86400) return `${(s / 3600).toFixed(1)}${zh() ? "小时" : " h"}`;
  return `${(s / 86400).toFixed(1)}${zh() ? "天" : " d"}`;
}
