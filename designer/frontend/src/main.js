// The designer's entry: login, the pipeline list, the editor and the template library.
import "@logicflow/core/lib/index.css";
import "@logicflow/extension/es/index.css";
import "./style.css";
import { api, login, session } from "./api.js";
import { setNodeTypes } from "./canvas.js";
import { clear, el, modal, pickFile, toast } from "./dom.js";
import { loadCatalog, openEditor, saveDraft } from "./editor.js";
import { getLang, setLang, t } from "./i18n.js";
import { openTemplates } from "./templates.js";

const app = document.getElementById("app");
let catalog = null;
let current = null;

function shell(active) {
  const user = session.user;
  const main = el("main.sf-main");
  clear(app).append(
    el("header.sf-header",
      el("a.sf-brand", { href: "#/" }, el("span.sf-logo", "S"), t("app_title")),
      user ? el("nav.sf-nav",
        el("a", { href: "#/", class: active === "pipelines" ? "sf-on" : "" }, t("nav_pipelines")),
        el("a", { href: "#/templates", class: active === "templates" ? "sf-on" : "" }, t("nav_templates"))) : el("span"),
      el("div.sf-user",
        user ? el("span.sf-user-name", { "data-roles": user.roles.join(",") }, `${user.display_name || user.username} · ${user.roles.join(", ")}`) : null,
        el("button.sf-btn.sf-ghost", { type: "button", "data-action": "lang", on: { click: () => { setLang(getLang() === "zh" ? "en" : "zh"); route(); } } }, t("lang_switch")),
        user ? el("button.sf-btn.sf-ghost", { type: "button", "data-action": "logout", on: { click: () => { session.clear(); window.location.hash = "#/login"; } } }, t("logout")) : null)),
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
        catalog = null;
        window.location.hash = "#/";
      } catch (err) {
        error.textContent = `${t("login_failed")}${err.message}`;
      }
    } } },
    el("h2", t("login_title")),
    el("label.sf-field", el("div.sf-label", t("username")), user),
    el("label.sf-field", el("div.sf-label", t("password")), pass),
    error,
    el("button.sf-btn.sf-primary.sf-wide", { type: "submit", "data-action": "login" }, t("login")),
    el("p.sf-muted", t("demo_hint")))));
  user.focus();
}

async function listPage(main) {
  const data = await api("GET", "/definitions");
  const canEdit = session.canEdit();
  const fmt = (s) => (s ? new Date(s).toLocaleString(getLang() === "zh" ? "zh-CN" : "en-GB") : "");
  main.append(el("div.sf-page",
    el("div.sf-page-head", el("h2", t("pipelines")),
      canEdit ? el("div.sf-row",
        el("button.sf-btn.sf-primary", { type: "button", "data-action": "new-pipeline", on: { click: () => newPipeline() } }, t("new_pipeline")),
        el("button.sf-btn", { type: "button", "data-action": "import-pipeline", on: { click: () => importPipeline() } }, t("import_json"))) : null),
    el("table.sf-table.sf-defs",
      el("thead", el("tr", ["key", "name", "latest_version", "has_draft", "updated_at", ""].map((k) => el("th", k ? t(k) : "")))),
      el("tbody", (data.data || []).map((d) => el("tr", { "data-key": d.key },
        el("td", el("code", d.key)), el("td", d.name), el("td", d.latest_version ? `v${d.latest_version}` : t("none")),
        el("td", d.has_draft ? t("yes") : "—"), el("td", fmt(d.updated_at)),
        el("td", el("a.sf-btn", { href: `#/p/${d.key}` }, t("open")))))))));
}

function newPipeline(prefill) {
  const key = el("input", { name: "new-key", placeholder: "ac-repair", value: (prefill && prefill.key) || "" });
  const name = el("input", { name: "new-name", placeholder: "空调维修", value: (prefill && prefill.name) || "" });
  const error = el("div.sf-error");
  modal(t("new_pipeline"), el("div.sf-form",
    el("div.sf-field", el("div.sf-label", t("key")), key, el("div.sf-help", t("key_hint"))),
    el("div.sf-field", el("div.sf-label", t("name")), name), error),
  [(close) => el("button.sf-btn.sf-primary", { type: "button", "data-action": "create", on: { click: async () => {
    const definition = prefill ? { ...prefill.definition, key: key.value.trim(), name: name.value.trim() } : { key: key.value.trim(), name: name.value.trim(), start: "", nodes: [] };
    try {
      await api("POST", "/definitions", { definition, layout: prefill ? prefill.layout : {} });
      close();
      window.location.hash = `#/p/${definition.key}`;
    } catch (err) {
      error.textContent = `${t("error")}${err.message}${err.body && err.body.errors ? ` ${JSON.stringify(err.body.errors)}` : ""}`;
    }
  } } }, t("create")),
  (close) => el("button.sf-btn", { type: "button", on: { click: close } }, t("cancel"))]);
}

async function importPipeline() {
  const text = await pickFile();
  if (!text) return;
  try {
    const { layout, ...definition } = JSON.parse(text);
    newPipeline({ key: definition.key, name: definition.name, definition, layout });
  } catch (err) {
    toast(`${t("import_bad")}${err.message}`, "error");
  }
}

async function route() {
  if (current && current.run) clearTimeout(current.run.timer);
  // Leaving the editor with edits the autosave has not sent yet: send them now.
  if (current && current.dirty) saveDraft(current, { quiet: true });
  current = null;
  const hash = window.location.hash.replace(/^#/, "") || "/";
  if (!session.token || hash === "/login") return loginPage();
  const parts = hash.split("/").filter(Boolean);
  const active = parts[0] === "templates" ? "templates" : "pipelines";
  const main = shell(active);
  try {
    if (!catalog) {
      catalog = await loadCatalog();
      setNodeTypes(catalog.nodeTypes);
    }
    if (parts[0] === "p" && parts[1]) {
      const key = decodeURIComponent(parts[1]);
      let mode = { kind: "draft" };
      if (parts[2] === "v") mode = { kind: "version", version: Number(parts[3]) };
      if (parts[2] === "compare") mode = { kind: "compare", base: parts[3], target: parts[4] };
      main.classList.add("sf-full");
      current = await openEditor(main, key, mode, catalog);
    } else if (parts[0] === "templates") {
      await openTemplates(main, catalog, parts[1] && decodeURIComponent(parts[1]));
    } else {
      await listPage(main);
    }
  } catch (err) {
    main.append(el("div.sf-page", el("div.sf-error-box", `${t("error")}${err.message}`)));
  }
}

setLang(getLang());
window.addEventListener("hashchange", route);
route();
