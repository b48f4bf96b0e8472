// Every string the designer shows, in Chinese (default) and English.
const STRINGS = {
  app_title: ["servflow 流程设计器", "servflow pipeline designer"],
  nav_pipelines: ["流程", "Pipelines"],
  nav_templates: ["节点模板", "Node templates"],
  logout: ["退出", "Log out"],
  lang_switch: ["English", "中文"],
  login_title: ["登录流程设计器", "Sign in to the designer"],
  username: ["用户名", "Username"],
  password: ["密码", "Password"],
  login: ["登录", "Sign in"],
  login_failed: ["登录失败：", "Sign-in failed: "],
  demo_hint: ["演示账号：designer / demo1234", "Demo account: designer / demo1234"],
  read_only: ["只读", "Read-only"],
  read_only_hint: ["你的角色只能查看流程；只有流程设计师和总部管理员可以编辑和发布。", "Your role may view pipelines; only designers and HQ admins may edit and publish."],
  pipelines: ["流程列表", "Pipelines"],
  new_pipeline: ["新建流程", "New pipeline"],
  import_json: ["导入 JSON", "Import JSON"],
  export_json: ["导出 JSON", "Export JSON"],
  key: ["标识", "Key"],
  name: ["名称", "Name"],
  latest_version: ["最新版本", "Latest version"],
  has_draft: ["草稿", "Draft"],
  updated_at: ["更新时间", "Updated"],
  open: ["打开", "Open"],
  none: ["无", "none"],
  yes: ["有", "yes"],
  create: ["创建", "Create"],
  cancel: ["取消", "Cancel"],
  close: ["关闭", "Close"],
  save: ["保存", "Save"],
  delete: ["删除", "Delete"],
  back: ["返回", "Back"],
  save_draft: ["保存草稿", "Save draft"],
  saved: ["已保存", "Saved"],
  unsaved: ["未保存", "Unsaved"],
  saving: ["保存中…", "Saving…"],
  publish: ["发布", "Publish"],
  published_as: ["已发布为版本 ", "Published as version "],
  publish_refused: ["发布被拒绝：请先解决以下问题", "Publish refused: fix these problems first"],
  versions: ["版本", "Versions"],
  draft: ["草稿", "Draft"],
  version: ["版本", "Version"],
  published_at: ["发布时间", "Published"],
  published_by: ["发布人", "By"],
  open_read_only: ["只读打开", "Open read-only"],
  new_draft_from: ["以此新建草稿", "New draft from it"],
  compare: ["比较", "Compare"],
  compare_base: ["基准", "Base"],
  compare_target: ["目标", "Target"],
  compare_title: ["版本比较", "Compare versions"],
  added: ["新增", "Added"],
  removed: ["删除", "Removed"],
  changed: ["修改", "Changed"],
  no_diff: ["两个版本没有差异", "No differences"],
  header_changed: ["流程设置变化", "Pipeline settings changed"],
  viewing_version: ["正在查看版本", "Viewing version"],
  back_to_draft: ["回到草稿", "Back to draft"],
  draft_replaced: ["草稿已由版本 {v} 替换", "Draft replaced by version {v}"],
  palette: ["节点", "Nodes"],
  palette_templates: ["节点模板", "Node templates"],
  kind_pipeline: ["业务步骤", "Pipeline steps"],
  kind_human: ["人工步骤", "Human steps"],
  kind_flow: ["流程控制", "Flow control"],
  properties: ["属性", "Properties"],
  test_run: ["试运行", "Test run"],
  problems: ["问题", "Problems"],
  no_problems: ["没有发现问题，可以发布", "No problems: ready to publish"],
  no_problems_view: ["没有发现问题", "No problems"],
  validating: ["校验中…", "Validating…"],
  fit_view: ["适应画布", "Fit view"],
  undo: ["撤销", "Undo"],
  redo: ["重做", "Redo"],
  delete_selected: ["删除所选", "Delete selected"],
  pipeline_settings: ["流程设置", "Pipeline settings"],
  start_node: ["开始节点", "Start node"],
  start_flag: ["开始", "Start"],
  description: ["说明", "Description"],
  variables: ["流程变量", "Variables"],
  node_id: ["节点 ID", "Node ID"],
  node_type: ["节点类型", "Node type"],
  from_template: ["来自模板", "From template"],
  locked: ["已锁定（由模板决定）", "Locked by the template"],
  lock: ["锁定", "Lock"],
  enable: ["启用", "Enable"],
  add: ["添加", "Add"],
  remove: ["移除", "Remove"],
  outgoing: ["出口连线", "Outgoing edges"],
  branch: ["分支", "Branch"],
  default_branch: ["默认分支", "Default"],
  condition: ["条件表达式", "Condition"],
  label: ["标签", "Label"],
  next_node: ["下一节点", "Next node"],
  no_next: ["（未连接）", "(not connected)"],
  missing_node: ["缺失节点", "Missing node"],
  join_node: ["汇合节点", "Join node"],
  id_taken: ["节点 ID 已被使用", "That node ID is taken"],
  id_invalid: ["节点 ID 须以字母开头，只含字母、数字和下划线", "A node ID starts with a letter and has only letters, digits and _"],
  edge_replaced: ["该节点只有一个出口：已替换原连线", "This node has one exit: the old edge was replaced"],
  comma_list: ["多个值用逗号分隔", "separate values with commas"],
  kv_lines: ["每行一个：名称=表达式", "one per line: name=expression"],
  tr_start: ["开始试运行", "Start test run"],
  tr_on_draft: ["在当前草稿上运行（不必发布）", "Runs the current draft (no need to publish)"],
  tr_on_version: ["在已发布的版本 v{v} 上运行", "Runs published version v{v}"],
  tr_customer: ["客户", "Customer"],
  tr_region: ["区域", "Region"],
  tr_status: ["状态", "Status"],
  tr_active: ["当前节点", "Active"],
  tr_timeline: ["时间线", "Timeline"],
  tr_waiting: ["等待自动步骤…", "Waiting for automatic steps…"],
  tr_assignee: ["处理人", "Assignee"],
  tr_submit_as: ["以处理人身份提交", "Submit as the assignee"],
  tr_submit_as_hint: ["人工步骤只能由处理人提交。输入该用户的账号密码，仅用于这一次提交，不会替换你的登录。", "Only the assignee may complete a human step. Enter that user's credentials; they are used for this submission only and do not replace your session."],
  tr_submit: ["提交步骤", "Submit step"],
  tr_submitted: ["已提交", "Submitted"],
  tr_done: ["试运行结束", "Test run finished"],
  tr_stop_watch: ["停止观察", "Stop watching"],
  tr_refs_hint: ["文件编号（多个用逗号分隔）", "file ids (comma separated)"],
  tr_refused: ["提交被拒绝：", "Submission refused: "],
  tpl_library: ["节点模板库", "Node template library"],
  tpl_new: ["新建模板", "New template"],
  tpl_locked_hint: ["勾选「锁定」的设置被锁定：使用模板的流程不能修改；其余设置可被覆盖。", "Settings ticked 'Lock' are locked: pipelines using the template cannot change them; the rest may be overridden."],
  tpl_saved: ["模板已保存", "Template saved"],
  tpl_deleted: ["模板已删除", "Template deleted"],
  tpl_none: ["还没有节点模板", "No node templates yet"],
  confirm_delete: ["确定删除？", "Delete it?"],
  import_done: ["已导入", "Imported"],
  import_bad: ["不是有效的 JSON：", "Not valid JSON: "],
  error: ["出错了：", "Error: "],
  key_hint: ["小写字母开头，只含小写字母、数字、-、_", "lowercase letter first; lowercase letters, digits, - and _"],
  selected_edge: ["连线", "Edge"],
  edge_from: ["从", "From"],
  edge_to: ["到", "To"],
  empty_canvas: ["从左侧拖入节点，悬停节点后从边缘圆点拖出连线", "Drag nodes in from the left; hover a node and drag from a dot on its edge to connect"],
  status_running: ["运行中", "running"],
  status_reported: ["已登记", "reported"],
  status_dispatched: ["已派单", "dispatched"],
  status_serviced: ["已服务", "serviced"],
  status_signed_off: ["已签收", "signed off"],
  status_settled: ["已结算", "settled"],
  status_completed: ["已完成", "completed"],
  status_failed: ["失败", "failed"],
  status_cancelled: ["已取消", "cancelled"],
};

// Labels of settings in the generated property panel (the schema's own titles otherwise).
const FIELD_LABELS = {
  id: ["节点 ID", "Node ID"],
  name: ["名称", "Name"],
  description: ["说明", "Description"],
  params: ["参数", "Parameters"],
  sla: ["时限（SLA）", "SLA"],
  within: ["时限（ISO-8601，如 PT4H）", "Within (ISO-8601, e.g. PT4H)"],
  on_breach: ["超时动作", "On breach"],
  notify: ["通知角色", "Notify roles"],
  escalate_to: ["升级给角色", "Escalate to role"],
  reassign_to: ["改派给用户", "Reassign to user"],
  assignee: ["处理人", "Assignee"],
  kind: ["规则", "Rule"],
  value: ["取值", "Value"],
  form: ["表单字段", "Form fields"],
  label: ["显示名", "Label"],
  type: ["类型", "Type"],
  required: ["必填", "Required"],
  min: ["最小值", "Min"],
  max: ["最大值", "Max"],
  max_length: ["最大长度", "Max length"],
  pattern: ["正则", "Pattern"],
  choices: ["选项", "Choices"],
  multiple: ["可多选/多张", "Multiple"],
  currency: ["币种", "Currency"],
  skills: ["技能证书", "Skills"],
  radius_km: ["派单半径（公里）", "Radius (km)"],
  strategy: ["派单策略", "Strategy"],
  cross_region: ["允许跨区域", "Cross region"],
  milestone: ["里程碑", "Milestone"],
  share: ["结算比例（0-1）", "Share (0-1)"],
  fault: ["故障代码", "Fault code"],
  refuse_duplicates: ["拒绝重复报修", "Refuse duplicates"],
  channel: ["渠道", "Channel"],
  to_roles: ["通知角色", "To roles"],
  to_assignee: ["通知处理人", "To assignee"],
  message: ["消息", "Message"],
  duration: ["等待时长（ISO-8601）", "Duration (ISO-8601)"],
  definition: ["子流程标识", "Pipeline key"],
  inputs: ["输入映射", "Inputs"],
  join: ["汇合节点", "Join node"],
  default: ["默认值", "Default"],
  variables: ["流程变量", "Variables"],
};

const ENUM_LABELS = {
  dispatched_engineer: ["派单工程师", "dispatched engineer"],
  role: ["角色", "role"],
  user: ["指定用户", "user"],
  expression: ["表达式", "expression"],
  notify: ["通知", "notify"],
  escalate: ["升级", "escalate"],
  reassign: ["改派", "reassign"],
  nearest: ["最近优先", "nearest"],
  least_loaded: ["负载最低", "least loaded"],
  text: ["文本", "text"],
  number: ["数字", "number"],
  money: ["金额", "money"],
  choice: ["选择", "choice"],
  date: ["日期", "date"],
  photo: ["照片", "photo"],
  signature: ["签名", "signature"],
  location: ["位置", "location"],
  boolean: ["是/否", "yes/no"],
  object: ["对象", "object"],
  list: ["列表", "list"],
};

let lang = localStorage.getItem("sf-lang") || "zh";

export function getLang() {
  return lang;
}

export function setLang(value) {
  lang = value;
  localStorage.setItem("sf-lang", value);
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
}

const pick = (pair) => (lang === "zh" ? pair[0] : pair[1]);

export function t(key, vars = {}) {
  const pair = STRINGS[key];
  let text = pair ? pick(pair) : key;
  for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
  return text;
}

export function fieldLabel(name, fallback) {
  const pair = FIELD_LABELS[name];
  return pair ? pick(pair) : fallback || name;
}

export function enumLabel(value) {
  const pair = ENUM_LABELS[value];
  return pair ? `${pick(pair)}` : String(value);
}

export function typeLabel(nodeType) {
  if (!nodeType) return "";
  return lang === "zh" ? nodeType.label_zh || nodeType.type : nodeType.label_en || nodeType.type;
}

export function problemText(problem) {
  return lang === "zh" ? problem.message_zh || problem.message : problem.message;
}
