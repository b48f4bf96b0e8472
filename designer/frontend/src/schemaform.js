// A form generated from a JSON Schema (pydantic's), editing a plain JSON value in place.
// Field paths use the validator's syntax (`params.radius_km`, `form[1].name`), so a
// problem's path lands on the field it concerns.
import { el } from "./dom.js";
import { enumLabel, fieldLabel, getLang, t } from "./i18n.js";

function deref(schema, root) {
  let s = schema || {};
  while (s.$ref) {
    const name = s.$ref.split("/").pop();
    s = { ...((root.$defs || {})[name] || {}), ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) };
  }
  return s;
}

/** Reduce pydantic's shapes to what the form needs: kind, nullable, and the schema. */
export function describe(schema, root) {
  let s = deref(schema, root);
  let nullable = false;
  if (s.anyOf) {
    const variants = s.anyOf.map((v) => deref(v, root));
    const nonNull = variants.filter((v) => v.type !== "null");
    nullable = nonNull.length < variants.length;
    const types = nonNull.map((v) => v.type);
    if (types.includes("number") && types.includes("string")) {
      return { kind: "decimal", nullable, s: { ...s, ...nonNull[0], description: s.description, title: s.title } };
    }
    s = { ...nonNull[0], title: s.title, description: s.description, default: s.default };
  }
  if (s.const !== undefined) return { kind: "const", nullable, s };
  if (s.enum) return { kind: "enum", nullable, s };
  if (s.type === "boolean") return { kind: "boolean", nullable, s };
  if (s.type === "integer" || s.type === "number") return { kind: "number", nullable, s };
  if (s.type === "array") {
    const items = deref(s.items, root);
    return { kind: items.type === "object" || items.properties ? "objects" : "strings", nullable, s, items };
  }
  if (s.type === "object" && !s.properties && s.additionalProperties) return { kind: "map", nullable, s };
  if (s.type === "object" || s.properties) return { kind: "object", nullable, s };
  return { kind: "string", nullable, s };
}

export function getPath(obj, path) {
  let cur = obj;
  for (const key of splitPath(path)) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function splitPath(path) {
  const parts = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) parts.push(m[2] !== undefined ? Number(m[2]) : m[1]);
  return parts;
}

function setPath(obj, path, value) {
  const parts = splitPath(path);
  let cur = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (cur[parts[i]] === undefined || cur[parts[i]] === null) cur[parts[i]] = typeof parts[i + 1] === "number" ? [] : {};
    cur = cur[parts[i]];
  }
  const last = parts[parts.length - 1];
  if (value === undefined) {
    if (Array.isArray(cur)) cur[last] = undefined;
    else delete cur[last];
  } else cur[last] = value;
}

// What a designer fills in first comes first: the node's own settings before SLA and assignee.
const FIRST = ["name", "description", "params", "form", "branches", "join", "assignee", "sla"];
function ordered(properties) {
  const rank = (k) => (FIRST.includes(k) ? FIRST.indexOf(k) : FIRST.length);
  return Object.entries(properties).sort((a, b) => rank(a[0]) - rank(b[0]));
}

// A form field's constraints that apply to some field types only (hidden for the others).
const ONLY_FOR = {
  min: ["number", "money"], max: ["number", "money"], max_length: ["text"], pattern: ["text"],
  choices: ["choice"], multiple: ["choice", "photo"], currency: ["money"],
};

/** A padlock drawn in SVG (no emoji font is needed to show it). */
function lockIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", "sf-lock-icon");
  svg.innerHTML = '<rect x="3" y="7" width="10" height="8" rx="1.5" fill="currentColor"/><path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="1.6"/>';
  return svg;
}

const join = (base, key) => (typeof key === "number" ? `${base}[${key}]` : base ? `${base}.${key}` : key);

/**
 * Render a form for `value` (mutated in place) from `schema`.
 * opts: {root, skip: Set of top-level keys, errors: {path: message}, readOnly,
 *        lockedPaths: Set (disabled, shown with a padlock), base: template values shown as placeholders,
 *        lockable: bool (a lock toggle per setting), locks: Set, onChange()}
 */
export function renderForm(schema, value, opts) {
  const root = opts.root || schema;
  const wrap = el("div.sf-form");
  const s = deref(schema, root);
  for (const [key, prop] of ordered(s.properties || {})) {
    if (opts.skip && opts.skip.has(key)) continue;
    wrap.append(renderField(key, key, prop, value, opts, root, (s.required || []).includes(key)));
  }
  return wrap;
}

function renderField(key, path, schema, value, opts, root, required) {
  const d = describe(schema, root);
  const label = fieldLabel(key, d.s.title);
  const current = getPath(value, path);
  const baseValue = opts.base ? getPath(opts.base, path) : undefined;
  const locked = opts.lockedPaths && [...opts.lockedPaths].some((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  const disabled = opts.readOnly || locked;
  const changed = (v) => {
    setPath(value, path, v);
    opts.onChange && opts.onChange(path);
  };
  const error = opts.errors && opts.errors[path];
  // The schema's descriptions are English: shown as help in English, as a tooltip in Chinese.
  const help = d.s.description && d.kind !== "object" && getLang() === "en" ? el("div.sf-help", d.s.description) : null;
  const lockToggle = opts.lockable
    ? el("label.sf-lock", { title: t("lock") },
        el("input", { type: "checkbox", checked: opts.locks.has(path), on: { change: (e) => { e.target.checked ? opts.locks.add(path) : opts.locks.delete(path); opts.onChange && opts.onChange(path); } } }),
        lockIcon(), t("lock"))
    : null;
  const head = el("div.sf-label", el("span", { title: d.s.description || "" }, label, required ? el("b.sf-req", "*") : null), locked ? el("span.sf-locked", { title: t("locked") }, lockIcon()) : null, lockToggle);
  const field = (control) =>
    el("div.sf-field", { "data-path": path, class: `sf-field${error ? " sf-invalid" : ""}` }, head, control, help, error ? el("div.sf-error", error) : null);
  const placeholder = baseValue !== undefined && typeof baseValue !== "object" ? String(baseValue) : d.s.default !== undefined && d.s.default !== null && typeof d.s.default !== "object" ? String(d.s.default) : "";

  switch (d.kind) {
    case "const":
      return field(el("input", { value: d.s.const, disabled: true }));
    case "enum": {
      const options = [el("option", { value: "" }, placeholder ? `(${enumLabel(placeholder)})` : "—")];
      for (const v of d.s.enum) options.push(el("option", { value: v, selected: current === v }, `${enumLabel(v)}${enumLabel(v) !== v ? ` · ${v}` : ""}`));
      return field(el("select", { name: path, disabled, on: { change: (e) => {
        changed(e.target.value || undefined);
        // A form field's type decides which of its constraints are shown.
        if (key === "type" && /\]\.type$/.test(path) && opts.rerender) opts.rerender();
      } } }, options));
    }
    case "boolean": {
      const checked = current ?? baseValue ?? d.s.default ?? false;
      return el("div.sf-field.sf-check", { "data-path": path, class: `sf-field sf-check${error ? " sf-invalid" : ""}` },
        el("label", el("input", { type: "checkbox", name: path, checked, disabled, on: { change: (e) => changed(e.target.checked) } }), " ", label, locked ? lockIcon() : null),
        lockToggle, error ? el("div.sf-error", error) : null);
    }
    case "number":
    case "decimal":
      return field(el("input", {
        name: path, inputmode: "decimal", value: current ?? "", placeholder, disabled,
        on: { change: (e) => {
          const raw = e.target.value.trim();
          if (raw === "") return changed(undefined);
          if (d.kind === "decimal") return changed(raw);
          const n = Number(raw);
          changed(Number.isFinite(n) && raw !== "" ? n : raw);
        } },
      }));
    case "strings":
      return field(el("input", {
        name: path, value: Array.isArray(current) ? current.join(", ") : "", placeholder: Array.isArray(baseValue) ? baseValue.join(", ") : t("comma_list"), disabled,
        on: { change: (e) => {
          const list = e.target.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean);
          changed(list.length ? list : undefined);
        } },
      }));
    case "map":
      return field(el("textarea", {
        name: path, rows: 3, placeholder: t("kv_lines"), disabled,
        value: current ? Object.entries(current).map(([k, v]) => `${k}=${v}`).join("\n") : "",
        on: { change: (e) => {
          const map = {};
          for (const line of e.target.value.split("\n")) {
            const at = line.indexOf("=");
            if (at > 0) map[line.slice(0, at).trim()] = line.slice(at + 1).trim();
          }
          changed(Object.keys(map).length ? map : undefined);
        } },
      }));
    case "object": {
      const enabled = current !== undefined && current !== null;
      const box = el("fieldset.sf-group", { "data-path": path, class: `sf-group${error ? " sf-invalid" : ""}` });
      const legend = el("legend", label, locked ? lockIcon() : null);
      box.append(legend);
      if (lockToggle) box.append(lockToggle);
      if (d.nullable) {
        const toggle = el("label.sf-enable", el("input", {
          type: "checkbox", name: `${path}.__enabled`, checked: enabled, disabled,
          on: { change: (e) => { changed(e.target.checked ? defaultsOf(d.s, root) : undefined); opts.rerender && opts.rerender(); } },
        }), " ", t("enable"));
        legend.append(toggle);
        if (!enabled && !(baseValue && typeof baseValue === "object")) {
          if (error) box.append(el("div.sf-error", error));
          return box;
        }
      }
      if (error) box.append(el("div.sf-error", error));
      for (const [k, prop] of Object.entries(d.s.properties || {})) {
        box.append(renderField(k, join(path, k), prop, value, opts, root, (d.s.required || []).includes(k)));
      }
      return box;
    }
    case "objects": {
      const list = Array.isArray(current) ? current : [];
      const box = el("fieldset.sf-group.sf-list", { "data-path": path, class: `sf-group sf-list${error ? " sf-invalid" : ""}` }, el("legend", label, locked ? lockIcon() : null), lockToggle);
      if (error) box.append(el("div.sf-error", error));
      if (!list.length && Array.isArray(baseValue) && baseValue.length) box.append(el("div.sf-help", `${t("from_template")}: ${baseValue.map((x) => x.name || "").join(", ")}`));
      list.forEach((item, i) => {
        if (!item) return;
        const itemPath = join(path, i);
        const card = el("div.sf-item", { "data-path": itemPath });
        const title = item.label || item.name || `#${i + 1}`;
        card.append(el("div.sf-item-head", el("span", `${i + 1}. ${title}`),
          disabled ? null : el("button.sf-link", { type: "button", on: { click: () => { list.splice(i, 1); changed(list.length ? list : undefined); opts.rerender && opts.rerender(); } } }, t("remove"))));
        const itemErr = opts.errors && opts.errors[itemPath];
        if (itemErr) card.append(el("div.sf-error", itemErr));
        for (const [k, prop] of Object.entries(d.items.properties || {})) {
          const isFormField = d.items.properties.type && d.items.properties.choices;
          if (isFormField && ONLY_FOR[k] && !ONLY_FOR[k].includes(item.type) && item[k] === undefined) continue;
          card.append(renderField(k, join(itemPath, k), prop, value, opts, root, (d.items.required || []).includes(k)));
        }
        box.append(card);
      });
      if (!disabled) {
        box.append(el("button.sf-btn.sf-small", { type: "button", on: { click: () => {
          list.push(defaultsOf(d.items, root));
          changed(list);
          opts.rerender && opts.rerender();
        } } }, `+ ${t("add")}`));
      }
      return box;
    }
    default: {
      const long = key === "description" || key === "message";
      const input = el(long ? "textarea" : "input", {
        name: path, value: current ?? "", placeholder, disabled, rows: long ? 2 : undefined,
        on: { change: (e) => changed(e.target.value === "" && !required ? undefined : e.target.value) },
      });
      return field(input);
    }
  }
}

/** A fresh value for an object schema: its required settings with their defaults. */
export function defaultsOf(schema, root) {
  const s = deref(schema, root);
  const out = {};
  for (const [k, prop] of Object.entries(s.properties || {})) {
    const d = describe(prop, root);
    if ((s.required || []).includes(k)) {
      if (d.kind === "enum") out[k] = d.s.enum[0];
      else if (d.kind === "boolean") out[k] = false;
      else if (d.kind === "strings" || d.kind === "objects") out[k] = [];
      else if (d.kind === "object") out[k] = defaultsOf(d.s, root);
      else out[k] = "";
    }
  }
  return out;
}
