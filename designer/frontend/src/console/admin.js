// Admin: users, roles and scopes, API keys, the org tree, engineers and skills, warehouses,
// stock, parts and price tables — the accounts and master-data routes, with CSV import
// (row errors shown) and export.
import { el, modal, toast } from "../dom.js";
import { session } from "../api.js";
import { call, roles } from "./main.js";
import { fmtTime, roleText, serverText, t } from "./i18n.js";
import { saveCsv, toCsv } from "./finance.js";

// servflow/org/rules.py: ROLES, and what a region manager may grant (REGION_GRANTABLE).
const ROLES = ["designer", "dispatcher", "engineer", "outlet_manager", "region_manager", "finance", "hq_admin", "api_client", "customer_care"];
const REGION_GRANTABLE = ["dispatcher", "engineer", "outlet_manager", "region_manager", "api_client", "customer_care"];
const KINDS = [
  { id: "outlets", label: "org_tree", url: "/outlets" },
  { id: "engineers", label: "engineers", url: "/engineers" },
  { id: "warehouses", label: "warehouses", url: "/warehouses" },
  { id: "stock", label: "stock", url: "/stock" },
  { id: "parts", label: "parts", url: "/parts" },
  { id: "price_tables", label: "price_tables", url: "/price-tables" },
];

export async function adminPage(main, parts) {
  const tab = parts[0] || "users";
  const body = el("div");
  main.append(el("div.sf-page",
    el("div.sf-page-head", el("h2", t("nav_admin"))),
    el("div.sf-tabs", [{ id: "users", label: "users" }, ...KINDS].map((k) =>
      el("a", { href: `#/admin/${k.id}`, class: k.id === tab ? "sf-on" : "", "data-tab": k.id }, t(k.label)))),
    body));
  if (tab === "users") await usersTab(body);
  else await kindTab(body, KINDS.find((k) => k.id === tab) || KINDS[0]);
}

async function usersTab(body) {
  const page = await call("GET", "/users?limit=200");
  const username = el("input", { name: "new-username", required: true });
  const display = el("input", { name: "new-display-name" });
  const grantable = roles().includes("hq_admin") ? ROLES : REGION_GRANTABLE;
  const role = el("select", { name: "new-role" }, grantable.map((r) => el("option", { value: r, selected: r === "engineer" }, roleText(r))));
  const unit = el("input", { name: "new-org-unit", placeholder: "bj-001", required: true });
  const password = el("input", { name: "new-password", type: "password", placeholder: "≥ 8" });
  const error = el("div.sf-error");
  const create = async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      const created = await call("POST", "/users", { username: username.value.trim(), display_name: display.value.trim(), roles: [role.value], org_unit: unit.value.trim(), password: password.value || undefined });
      toast(t("created_user", { u: created.user.username }), "ok");
      if (created.password) modal(t("created_user", { u: created.user.username }), el("div", t("key_shown_once"), el("code", { "data-password": "" }, created.password)));
      body.replaceChildren();
      await usersTab(body);
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const keys = async (u) => {
    const list = await call("GET", `/users/${u.id}/api-keys`);
    const name = el("input", { name: "key-name", placeholder: "crm" });
    modal(`${t("api_keys")} · ${u.username}`, el("div",
      el("table.sf-table.sf-compact", el("tbody", list.data.map((k) => el("tr", el("td", k.name), el("td", el("code", k.prefix)), el("td", k.revoked_at ? fmtTime(k.revoked_at) : "✓"))))),
      el("div.sf-row", name, el("button.sf-btn", { type: "button", on: { click: async () => {
        try {
          const made = await call("POST", `/users/${u.id}/api-keys`, { name: name.value.trim() || "key" });
          modal(t("api_keys"), el("div", t("key_shown_once"), el("code", made.key)));
        } catch (err) { toast(err.message, "error"); }
      } } }, t("new_key")))));
  };
  body.append(
    el("form.sf-panel.sf-search", { "data-form": "new-user", on: { submit: create } },
      el("h3", t("new_user")),
      el("label", t("username"), username), el("label", t("display_name"), display), el("label", t("roles"), role),
      el("label", t("org_unit"), unit), el("label", t("password"), password),
      el("button.sf-btn.sf-primary", { type: "submit", "data-action": "create-user" }, t("create")), error),
    el("div.sf-row", el("span.sf-grow"), el("button.sf-btn", { type: "button", on: { click: () => saveCsv("users.csv", toCsv(page.data, ["username", "display_name", "roles", "org_unit", "scope_path", "is_active"])) } }, t("export_csv"))),
    el("table.sf-table.sf-compact", { "data-list": "users" },
      el("thead", el("tr", ["username", "display_name", "roles", "org_unit", "active", ""].map((k) => el("th", k ? t(k) : "")))),
      el("tbody", page.data.map((u) => el("tr", { "data-user": u.username },
        el("td", u.username), el("td", u.display_name), el("td", { title: u.roles.join(", ") }, u.roles.map(roleText).join(", ")), el("td", u.org_unit || ""),
        el("td", u.is_active ? "✓" : "✗"),
        el("td", el("button.sf-link", { type: "button", on: { click: () => keys(u) } }, t("api_keys"))))))));
}

async function kindTab(body, kind) {
  const page = await call("GET", `${kind.url}?limit=500`);
  const rows = page.data || [];
  const columns = rows.length ? Object.keys(rows[0]) : [];
  const report = el("div", { "data-import-report": "" });
  const upload = el("input", { type: "file", accept: ".csv,text/csv", name: "csv", on: { change: async () => {
    const file = upload.files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    const response = await fetch(`/api/import/${kind.id}`, { method: "POST", headers: { Authorization: `Bearer ${session.token}` }, body: form });
    const result = await response.json().catch(() => ({}));
    upload.value = "";
    if (response.ok) {
      toast(t("imported", { n: result.imported }), "ok");
      body.replaceChildren();
      await kindTab(body, kind);
      return;
    }
    report.replaceChildren(el("div.sf-error-box", t("import_refused"), " ", serverText(result.detail || response.status)),
      result.errors && result.errors.length ? el("table.sf-table.sf-compact", { "data-list": "row-errors" },
        el("thead", el("tr", el("th", t("row")), el("th", t("field")), el("th", t("message")))),
        el("tbody", result.errors.map((e) => el("tr", el("td", String(e.row)), el("td", e.field), el("td", serverText(e.message)))))) : null);
  } } });
  body.append(
    el("div.sf-row.sf-wrap",
      el("span.sf-muted", `${page.count}`), el("span.sf-grow"),
      el("label.sf-btn", t("import_csv"), el("span.sf-hidden", upload)),
      el("button.sf-btn", { type: "button", "data-action": "export", on: { click: () => saveCsv(`${kind.id}.csv`, toCsv(rows, columns)) } }, t("export_csv"))),
    report,
    el("table.sf-table.sf-compact", { "data-list": kind.id },
      el("thead", el("tr", columns.map((c) => el("th", c)))),
      el("tbody", rows.map((r) => el("tr", columns.map((c) => el("td", Array.isArray(r[c]) ? r[c].join(", ") : r[c] === null ? "" : String(r[c]))))))));
}
