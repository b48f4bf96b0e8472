// The node template library: presets of a node with locked and overridable settings.
import { api, ApiError, session } from "./api.js";
import { nodeTypeOf } from "./canvas.js";
import { clear, clone, el, toast } from "./dom.js";
import { t, typeLabel } from "./i18n.js";
import { renderForm } from "./schemaform.js";

const SKIP = new Set(["id", "type", "next", "default", "branches", "join"]);

export async function openTemplates(root, catalog, selectedKey) {
  const canEdit = session.canEdit();
  let list = [];
  try {
    list = (await api("GET", "/node-templates")).data || [];
  } catch (err) {
    clear(root).append(el("div.sf-page", el("div.sf-error-box", t("error"), err.message)));
    return;
  }
  catalog.templates = Object.fromEntries(list.map((tpl) => [tpl.key, tpl]));
  const side = el("aside.sf-tpl-list");
  const main = el("section.sf-tpl-edit");
  clear(root).append(el("div.sf-page.sf-tpl-page",
    el("div.sf-page-head", el("h2", t("tpl_library")),
      canEdit ? el("button.sf-btn.sf-primary", { type: "button", "data-action": "new-template", on: { click: () => edit(null) } }, t("tpl_new")) : null),
    el("div.sf-tpl-body", side, main)));
  side.append(list.length ? el("ul", list.map((tpl) => el("li", el("a", { href: `#/templates/${tpl.key}`, "data-template": tpl.key, class: tpl.key === selectedKey ? "sf-on" : "" },
    el("b", tpl.name), el("div.sf-muted", `${tpl.key} · ${typeLabel(nodeTypeOf(tpl.node.type))}`))))) : el("p.sf-muted", t("tpl_none")));
  const chosen = list.find((tpl) => tpl.key === selectedKey);
  if (chosen) edit(chosen);
  else if (!selectedKey && list.length) edit(list[0]);
  else if (canEdit) edit(null);
  else main.append(el("p.sf-muted", t("tpl_none")));

  function edit(existing) {
    const draft = existing ? clone(existing) : { key: "", name: "", description: "", node: { type: "dispatch" }, locked: [] };
    const locks = new Set(draft.locked || []);
    const render = () => {
      clear(main);
      const nt = nodeTypeOf(draft.node.type);
      const readOnly = !canEdit;
      main.append(el("div.sf-form",
        el("div.sf-field", el("div.sf-label", t("key")), el("input", { name: "tpl-key", value: draft.key, disabled: !!existing || readOnly, placeholder: "dispatch-refrigeration", on: { change: (e) => (draft.key = e.target.value.trim()) } }), el("div.sf-help", t("key_hint"))),
        el("div.sf-field", el("div.sf-label", t("name")), el("input", { name: "tpl-name", value: draft.name, disabled: readOnly, on: { change: (e) => (draft.name = e.target.value) } })),
        el("div.sf-field", el("div.sf-label", t("description")), el("textarea", { name: "tpl-description", rows: 2, value: draft.description || "", disabled: readOnly, on: { change: (e) => (draft.description = e.target.value) } })),
        el("div.sf-field", el("div.sf-label", t("node_type")), el("select", { name: "tpl-type", disabled: !!existing || readOnly, on: { change: (e) => { draft.node = { type: e.target.value }; locks.clear(); render(); } } },
          catalog.nodeTypes.map((x) => el("option", { value: x.type, selected: x.type === draft.node.type }, `${typeLabel(x)} · ${x.type}`))))));
      main.append(el("div.sf-help.sf-lock-hint", t("tpl_locked_hint")));
      if (nt) main.append(renderForm(nt.schema, draft.node, { root: nt.schema, skip: SKIP, readOnly, lockable: !readOnly, locks, onChange: () => {}, rerender: render, errors: draft.errors || {} }));
      if (!readOnly) {
        main.append(el("div.sf-row",
          el("button.sf-btn.sf-primary", { type: "button", "data-action": "save-template", on: { click: save } }, t("save")),
          existing ? el("button.sf-btn.sf-danger", { type: "button", on: { click: remove } }, t("delete")) : null));
      }
    };
    async function save() {
      const body = { key: draft.key, name: draft.name, description: draft.description || "", node: draft.node, locked: [...locks] };
      try {
        if (existing) await api("PUT", `/node-templates/${encodeURIComponent(existing.key)}`, body);
        else await api("POST", "/node-templates", body);
        toast(t("tpl_saved"), "success");
        openTemplates(root, catalog, draft.key);
        window.history.replaceState(null, "", `#/templates/${draft.key}`);
      } catch (err) {
        toast(`${t("error")}${err.message}`, "error");
        if (err instanceof ApiError && err.body.errors) {
          draft.errors = Object.fromEntries(Object.entries(err.body.errors).map(([k, v]) => [k.replace(/^node\./, ""), v]));
          render();
        }
      }
    }
    async function remove() {
      if (!window.confirm(t("confirm_delete"))) return;
      try {
        await api("DELETE", `/node-templates/${encodeURIComponent(existing.key)}`);
        toast(t("tpl_deleted"));
        window.location.hash = "#/templates";
      } catch (err) {
        toast(`${t("error")}${err.message}`, "error");
      }
    }
    render();
  }
}
