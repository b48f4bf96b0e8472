// The operations console: one page, pages by role (dashboards, dispatch board, order desk,
// finance, admin), every figure from the API under the caller's scope.
import "../style.css";
import "./console.css";
import { api, login, session } from "../api.js";
import { clear, el, toast } from "../dom.js";
import { getLang, setLang } from "../i18n.js";
import { t, serverText } from "./i18n.js";
import { dashboardPage } from "./dashboard.js";
import { dispatchPage } from "./dispatch.js";
import { orderPage, ordersPage } from "./orders.js";
import { financePage } from "./finance.js";
import { adminPage } from "./admin.js";
import { npsPage } from "./nps.js";

// Who may open each page (the API checks the same roles again on every call).
export const PAGES = [
  { id: "dashboard", roles: ["hq_admin", "region_manager", "outlet_manager", "dispatcher", "finance"], render: dashboardPage },
  { id: "dispatch", roles: ["hq_admin", "region_manager", "outlet_manager", "dispatcher"], render: dispatchPage },
  { id: "orders", roles: ["hq_admin", "region_manager", "outlet_manager", "dispatcher", "finance", "engineer", "customer_care"], render: ordersPage },
  // SURVEY_ROLES (servflow/org/rules.py): GET /api/nps and /api/nps/follow-ups.
  { id: "nps", roles: ["customer_care", "hq_admin", "region_manager", "outlet_manager", "dispatcher"], render: npsPage },
  { id: "finance", roles: ["hq_admin", "region_manager", "finance"], render: financePage },
  { id: "admin", roles: ["hq_admin", "region_manager"], render: adminPage },
];

const app = document.getElementById("app");
const timers = new Set();
/** A refresh loop that ends when the page changes ("live" without reloading). */
export function every(ms, fn) {
  const id = setInterval(fn, ms);
  timers.add(id);
  return id;
}

export const roles = () => (session.user && session.user.roles) || [];
const may = (page) => page.roles.some((r) => roles().includes(r));
// Customer care reads orders, customers and NPS: the designer (saving, publishing, test
// runs) is not theirs, so no link to it.
const mayDesignerLink = () => roles().some((r) => r !== "customer_care");

/** An API call whose failure is shown in the UI's language. */
export async function call(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (err) {
    err.message = serverText(err.message);
    throw err;
  }
}

/** GET that answers null where the server has no such route yet (graceful degradation). */
export async function optional(path) {
  try {
    return await api("GET", path);
  } catch (err) {
    if (err.status === 404 || err.status === 405) return null;
    throw err;
  }
}

export function notAvailable(what) {
  return el("div.sf-na", { "data-na": what }, t("not_available", { what }));
}

export function errorBox(err) {
  return el("div.sf-error-box", `${t("error")}${serverText(err.message)}`);
}

function shell(active) {
  const user = session.user;
  const main = el("main.sf-main.sf-console");
  clear(app).append(
    el("header.sf-header",
      el("a.sf-brand", { href: "#/" }, el("span.sf-logo", "S"), el("span.sf-brand-text", t("console_title"))),
      user ? el("nav.sf-nav", PAGES.filter(may).map((p) =>
        el("a", { href: `#/${p.id}`, "data-page": p.id, class: active === p.id ? "sf-on" : "" }, t(`nav_${p.id}`))),
      mayDesignerLink() ? el("a", { href: "/designer" }, t("nav_designer")) : null) : el("span"),
      el("div.sf-user",
        user ? el("span.sf-user-name", { "data-roles": user.roles.join(",") }, user.display_name || user.username) : null,
        el("button.sf-btn.sf-ghost", { type: "button", "data-action": "lang", on: { click: () => { setLang(getLang() === "zh" ? "en" : "zh"); route(); } } }, getLang() === "zh" ? "English" : "中文"),
        user ? el("button.sf-btn.sf-ghost", { type: "button", "data-action": "logout", on: { click: () => { session.clear(); window.location.hash = "#/login"; } } }, getLang() === "zh" ? "退出" : "Log out") : null)),
    main,
  );
  return main;
}

function loginPage() {
  const main = shell(null);
  const error = el("div.sf-error");
  const user = el("input", { name: "username", autocomplete: "username", required: true });
  const pass = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  main.append(el("div.sf-login",
    el("form.sf-card", { on: { submit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const result = await login(user.value.trim(), pass.value);
        session.set(result.access_token, result.user);
        window.location.hash = "#/";
      } catch (err) {
        error.textContent = serverText(err.message);
      }
    } } },
    el("h2", t("login_title")),
    el("label.sf-field", el("div.sf-label", t("username")), user),
    el("label.sf-field", el("div.sf-label", t("password")), pass),
    error,
    el("button.sf-btn.sf-primary.sf-wide", { type: "submit", "data-action": "login" }, getLang() === "zh" ? "登录" : "Sign in"),
    el("p.sf-muted", t("demo_hint")))));
  user.focus();
}

export async function route() {
  for (const id of timers) clearInterval(id);
  timers.clear();
  const hash = window.location.hash.replace(/^#/, "") || "/";
  if (!session.token || hash === "/login") return loginPage();
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  const first = PAGES.find(may);
  const page = PAGES.find((p) => p.id === parts[0]) || first;
  const main = shell(page ? page.id : null);
  if (!page || !may(page)) {
    main.append(el("div.sf-page", el("div.sf-error-box", t("not_allowed"))));
    return;
  }
  try {
    if (page.id === "orders" && parts[1]) await orderPage(main, parts[1]);
    else await page.render(main, parts.slice(1));
  } catch (err) {
    main.append(el("div.sf-page", errorBox(err)));
  }
}

window.addEventListener("unhandledrejection", (e) => toast(serverText((e.reason && e.reason.message) || e.reason), "error"));
setLang(getLang());
window.addEventListener("hashchange", route);
route();
