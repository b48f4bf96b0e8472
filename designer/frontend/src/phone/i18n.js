// Every string the phone pages show, in Chinese (default) and English. The language is
// the designer's and the console's (localStorage "sf-lang"): `?lang=en` or `?lang=zh` in
// the link sets it and it is remembered; the header's button switches it.
const KEY = "sf-lang";

const S = {
  app_title: ["servflow 工程师", "servflow engineer"],
  lang_switch: ["English", "中文"],
  username: ["账号", "Username"],
  password: ["密码", "Password"],
  login: ["登录", "Sign in"],
  sign_out: ["退出", "Sign out"],
  my_tasks: ["我的任务", "My tasks"],
  tasks_failed: ["无法加载任务: {msg}", "Could not load your tasks: {msg}"],
  no_tasks: ["暂无待办任务", "No tasks waiting for you"],
  refresh: ["刷新", "Refresh"],
  queued_note: ["{n} 个提交等待网络, 恢复后自动重试", "{n} submission(s) waiting for the network; sent again when it is back"],
  navigate: ["导航", "Navigate"],
  accept: ["接单", "Accept"],
  decline: ["拒单", "Decline"],
  submit: ["提交", "Submit"],
  refused: ["提交被拒绝: {msg}", "Submission refused: {msg}"],
  offline_saved: ["网络不可用: 已保存, 恢复后自动提交", "Offline: saved, it will be sent when the network is back"],
  declined: ["已拒单", "Declined"],
  submitted: ["已提交", "Submitted"],
  search_parts: ["搜索配件 (编码或名称)", "Search parts (SKU or name)"],
  remove: ["删除", "Remove"],
  clear_signature: ["重签", "Clear"],
  add_photos: ["拍照或选择照片", "Take or choose photos"],
  uploading: ["照片上传中…", "Uploading photos…"],
  upload_failed: ["照片上传失败: {msg}", "Photo upload failed: {msg}"],
  choose: ["请选择", "Choose"],
  signoff_title: ["服务签收", "Service sign-off"],
  link_invalid: ["该签收链接无效、已使用或已过期", "This sign-off link is unknown, used or expired"],
  order_no: ["工单 {no}", "Order {no}"],
  engineer: ["服务工程师: {name}", "Engineer: {name}"],
  nps_question: ["您向朋友推荐我们的可能性有多大? (0-10)", "How likely are you to recommend us to a friend? (0-10)"],
  rating_label: ["推荐度", "Likelihood to recommend"],
  comment_placeholder: ["您的意见 (选填)", "Your comments (optional)"],
  sign_here: ["请签名确认", "Please sign to confirm"],
  pick_rating: ["请选择评分", "Please choose a score"],
  please_sign: ["请签名", "Please sign"],
  confirm_signoff: ["确认签收", "Confirm sign-off"],
  your_signature: ["您的签名", "Your signature"],
  thanks: ["感谢您的评价 ({n}/10)", "Thank you for your rating ({n}/10)"],
  sla_title: ["服务时限", "Service deadline"],
  sla_due: ["截止 {at}", "Due {at}"],
  sla_left: ["剩余 {d}", "{d} left"],
  sla_over: ["已超时 {d}", "{d} overdue"],
  sla_starting: ["计时启动中, 稍后刷新", "The clock is starting: refresh shortly"],
  sla_fixed: ["此时限不可暂停", "This deadline cannot be paused"],
  sla_pause: ["暂停计时", "Pause clock"],
  sla_resume: ["恢复计时", "Resume"],
  sla_paused: ["计时已暂停, 暂停期间不计入时限", "Clock paused: the time paused does not count"],
  sla_paused_reason: ["计时已暂停 · 原因: {reason}", "Clock paused · reason: {reason}"],
  sla_why: ["暂停原因", "Why pause?"],
  sla_customer: ["等客户", "Waiting for customer"],
  sla_parts: ["等配件", "Waiting for parts"],
  sla_other: ["其他", "Other"],
  sla_other_text: ["请写明原因 (最多 {n} 字)", "Write the reason ({n} characters at most)"],
  sla_pick_reason: ["请选择暂停原因", "Please choose why"],
  sla_write_reason: ["请写明原因", "Please write the reason"],
  sla_too_long: ["原因最多 {n} 字", "The reason is {n} characters at most"],
  sla_confirm: ["确认暂停", "Pause now"],
  cancel: ["取消", "Cancel"],
  sla_hold_failed: ["操作失败: {msg}", "Could not do it: {msg}"],
  sla_hold_409: ["该步骤已不在等待中, 无法暂停或恢复计时", "This step is no longer waiting: its clock cannot be paused or resumed"],
  dur_hm: ["{h} 小时 {m} 分", "{h}h {m}m"],
  dur_m: ["{m} 分钟", "{m} min"],
  dur_dh: ["{d} 天 {h} 小时", "{d}d {h}h"],
  err_network: ["网络不可用", "No network"],
  err_login: ["账号或密码错误", "Wrong username or password"],
  err_401: ["登录已失效, 请重新登录", "Your session has ended: sign in again"],
  err_403: ["无权执行此操作", "You may not do this"],
  err_404: ["未找到 (或无权查看)", "Not found"],
  err_409: ["该步骤已不在等待您处理", "This step is no longer waiting for you"],
  err_410: ["该签收链接已过期, 请联系服务工程师重新发送", "This sign-off link has expired: ask the engineer for a new one"],
  signoff_used: ["该链接已用另一份评价签收过, 每个链接只能签收一次", "This link was already used to sign off with another answer: a link signs once"],
  signoff_busy: ["该链接正在提交中, 请稍后重试", "This link is being used right now: try again shortly"],
  err_413: ["文件过大 (最大 8 MB)", "The file is too large (8 MB at most)"],
  err_422: ["内容有误, 请检查后重试", "Something is not valid"],
  err_429: ["操作太频繁, 请稍后再试", "Too many attempts: try again shortly"],
  err_503: ["服务暂不可用, 请稍后再试", "The service is unavailable: try again shortly"],
  err_other: ["服务出错 ({status}), 请稍后再试", "The server failed ({status}): try again shortly"],
};

// The fields and steps of the shipped pipelines; a definition's own label is shown when
// no English one is known.
const FIELDS = {
  photos: ["安装照片", "Photos"],
  photo: ["照片", "Photo"],
  parts_used: ["使用配件", "Parts used"],
  signature: ["签名", "Signature"],
  rating: ["推荐度 (0-10)", "Rating (0-10)"],
  comment: ["意见", "Comment"],
  notes: ["备注", "Notes"],
  remarks: ["备注", "Remarks"],
  diagnosis: ["故障诊断", "Diagnosis"],
  fixed: ["是否修复", "Fixed"],
  serial_no: ["序列号", "Serial number"],
};
const STEPS = {
  accept: ["接单", "Accept the job"],
  install: ["上门安装", "On-site installation"],
  signoff: ["客户签收", "Customer sign-off"],
  repair: ["上门维修", "On-site repair"],
  diagnose: ["故障诊断", "Diagnosis"],
  task: ["任务", "Task"],
  service: ["上门服务", "On-site service"],
};

function initial() {
  const asked = new URLSearchParams(window.location.search).get("lang");
  if (asked === "en" || asked === "zh") localStorage.setItem(KEY, asked);
  return localStorage.getItem(KEY) === "en" ? "en" : "zh";
}

let lang = initial();
document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

export function getLang() {
  return lang;
}

export function setLang(value) {
  lang = value === "en" ? "en" : "zh";
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

const pick = (pair) => (lang === "zh" ? pair[0] : pair[1]);

export function t(key, vars = {}) {
  const pair = S[key];
  let text = pair ? pick(pair) : key;
  for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
  return text;
}

/** A form field's label: the definition's in Chinese, ours in English when known. */
export function fieldLabel(field) {
  const own = field.label || field.name;
  if (lang === "zh") return own;
  return field.label_en || (FIELDS[field.name] ? FIELDS[field.name][1] : own);
}

/** A step's name: the definition's in Chinese, ours (by node id, then type) in English. */
export function stepName(task) {
  const own = task.name || task.node_id;
  if (lang === "zh") return own;
  const pair = STEPS[task.node_id] || STEPS[task.node_type];
  return pair ? pair[1] : own;
}

/** What to tell the user about a failed call: by its status, in their language; in
 * English the server's own reason is added (it speaks English). */
export function errorText(error) {
  const status = error && error.status;
  if (!status) return t("err_network");
  const key = `err_${status}`;
  const text = S[key] ? t(key) : t("err_other", { status });
  const detail = error.body && error.body.detail;
  return lang === "en" && detail && status !== 404 ? `${text} (${detail})` : text;
}

/** A span of time for the SLA card: days and hours, hours and minutes, or minutes. */
export function duration(ms) {
  const minutes = Math.max(0, Math.round(Math.abs(ms) / 60000));
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d) return t("dur_dh", { d, h });
  if (h) return t("dur_hm", { h, m });
  return t("dur_m", { m });
}
