// The engineer's phone (H5; also inside WeCom's browser) and the customer's sign-off page.
import "./phone.css";
import { auth, call, ApiError, upload, enqueue, flush, pending } from "./api.js";
import { signaturePad } from "./signature.js";

const app = document.getElementById("app");

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) el.append(child.nodeType ? child : document.createTextNode(String(child)));
  }
  return el;
}

function screen(title, ...body) {
  app.replaceChildren(h("header", { class: "bar" }, h("h1", { text: title })), h("main", {}, ...body));
}

function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
}

// ---- engineer --------------------------------------------------------------------------

function loginScreen(message) {
  const user = h("input", { name: "username", autocomplete: "username", placeholder: "账号", required: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", placeholder: "密码", required: true });
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const answer = await call("POST", "/auth/login", { json: { username: user.value, password: pass.value }, anonymous: true });
          auth.token = answer.access_token;
          tasksScreen();
        } catch (error) {
          loginScreen(error.message);
        }
      },
    },
    user,
    pass,
    h("button", { type: "submit", class: "primary", text: "登录" }),
  );
  screen("servflow 工程师", message ? notice(message, "error") : null, form);
}

async function tasksScreen(message) {
  let tasks = [];
  try {
    tasks = (await call("GET", "/my/tasks")).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return loginScreen();
    return screen("我的任务", notice(`无法加载任务: ${error.message}`, "error"), queueNote());
  }
  const list = tasks.length
    ? h("ul", { class: "tasks" }, tasks.map((t) =>
        h("li", { class: "task", "data-order": t.order_id, "data-node": t.node_id, onclick: () => taskScreen(t.order_id, t.node_id) },
          h("strong", { text: t.name }),
          h("span", { class: "muted", text: `${t.order_no || t.order_id} · ${t.region}` }),
        ),
      ))
    : h("p", { class: "muted", text: "暂无待办任务" });
  screen("我的任务", message ? notice(message, "ok") : null, queueNote(), list,
    h("button", { class: "ghost", onclick: () => tasksScreen(), text: "刷新" }));
}

function queueNote() {
  const waiting = pending().length;
  return waiting ? notice(`${waiting} 个提交等待网络, 恢复后自动重试`, "warn") : null;
}

async function taskScreen(orderId, nodeId) {
  let task;
  try {
    task = await call("GET", `/phone/tasks/${encodeURIComponent(orderId)}/${encodeURIComponent(nodeId)}`);
  } catch (error) {
    return tasksScreen(error.message);
  }
  const place = h("section", { class: "card place" },
    h("div", { class: "customer", text: `${task.place.customer} ${task.place.phone}` }),
    h("div", { class: "address", text: task.place.address }),
    h("a", { class: "button", href: task.place.map_url, target: "_blank", rel: "noopener", text: "导航" }),
  );
  const head = h("section", { class: "card" }, h("div", { class: "muted", text: task.order_no }), h("div", { text: task.fault }));
  if (task.choices.includes("accepted")) {
    const decide = (outcome) => submit(task, {}, outcome);
    return screen(task.name, head, place,
      h("div", { class: "actions" },
        h("button", { class: "primary", onclick: () => decide("accepted"), text: "接单" }),
        h("button", { class: "danger", onclick: () => decide("declined"), text: "拒单" })));
  }
  const form = buildForm(task.form, { orderId: task.order_id, nodeId: task.node_id });
  screen(task.name, head, place, form.element,
    h("button", { class: "primary", id: "submit", onclick: async () => {
      try {
        const data = await form.values();
        await submit(task, data, "done");
      } catch (error) {
        form.show(error.message);
      }
    }, text: "提交" }));
}

async function submit(task, data, outcome) {
  enqueue(task.order_id, task.node_id, data, outcome);
  const results = await flush();
  const mine = results.find((r) => r.item.orderId === task.order_id && r.item.nodeId === task.node_id);
  if (mine && mine.error && !mine.queued) return tasksScreen(`提交被拒绝: ${mine.error.message}`);
  if (mine && mine.queued) return tasksScreen("网络不可用: 已保存, 恢复后自动提交");
  tasksScreen(outcome === "declined" ? "已拒单" : "已提交");
}

function buildForm(fields, owner) {
  const element = h("form", { class: "card form", onsubmit: (e) => e.preventDefault() });
  const error = h("p", { class: "notice error", hidden: true });
  const readers = [];
  for (const field of fields) {
    const label = h("label", { class: "field" }, h("span", { text: field.label || field.name }));
    if (field.type === "photo") {
      const files = [];
      const thumbs = h("div", { class: "thumbs" });
      const input = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", multiple: field.multiple ? true : undefined, "data-field": field.name, onchange: async () => {
        for (const file of input.files) {
          const stored = await upload(file, owner);
          files.push(stored.file_id);
          const reader = new FileReader();
          reader.onload = () => thumbs.append(h("img", { src: reader.result, alt: file.name, class: "thumb" }));
          reader.readAsDataURL(file);
        }
        input.value = "";
      } });
      label.append(input, thumbs);
      readers.push(async () => (files.length ? [field.name, field.multiple ? files : files[0]] : null));
    } else if (field.type === "signature") {
      const pad = signaturePad();
      label.append(pad.element);
      readers.push(async () => {
        if (pad.isEmpty()) return null;
        const stored = await upload(await pad.file(), owner);
        return [field.name, stored.file_id];
      });
    } else if (field.type === "parts") {
      const picker = partsPicker(field.name);
      label.append(picker.element);
      readers.push(async () => (picker.lines().length ? [field.name, picker.lines()] : null));
    } else if (field.type === "boolean") {
      const box = h("input", { type: "checkbox", name: field.name });
      label.append(box);
      readers.push(async () => [field.name, box.checked]);
    } else if (field.type === "number") {
      const input = h("input", { type: "number", name: field.name, inputmode: "decimal" });
      label.append(input);
      readers.push(async () => (input.value === "" ? null : [field.name, Number(input.value)]));
    } else if (field.type === "choice") {
      const select = h("select", { name: field.name }, h("option", { value: "", text: "—" }), (field.choices || []).map((c) => h("option", { value: c, text: c })));
      label.append(select);
      readers.push(async () => (select.value ? [field.name, select.value] : null));
    } else {
      const input = h("textarea", { name: field.name, rows: 2, maxlength: field.max_length || 500 });
      label.append(input);
      readers.push(async () => (input.value ? [field.name, input.value] : null));
    }
    element.append(label);
  }
  element.append(error);
  return {
    element,
    async values() {
      const pairs = (await Promise.all(readers.map((r) => r()))).filter(Boolean);
      return Object.fromEntries(pairs);
    },
    show(message) {
      error.textContent = message;
      error.hidden = false;
    },
  };
}

function partsPicker(name) {
  const chosen = new Map();
  const list = h("ul", { class: "parts" });
  const results = h("ul", { class: "results" });
  const search = h("input", { type: "search", placeholder: "搜索配件 (编码或名称)", "data-parts": name, oninput: async () => {
    const q = search.value.trim();
    const found = q ? (await call("GET", `/phone/parts?q=${encodeURIComponent(q)}`)).data : [];
    results.replaceChildren(...found.map((p) => h("li", { class: "result", onclick: () => {
      chosen.set(p.sku, { sku: p.sku, name: p.name, qty: (chosen.get(p.sku)?.qty || 0) + 1 });
      render();
      results.replaceChildren();
      search.value = "";
    } }, h("span", { text: `${p.name}` }), h("span", { class: "muted", text: ` ${p.sku} ¥${p.price}` }))));
  } });
  function render() {
    list.replaceChildren(...[...chosen.values()].map((line) => h("li", { class: "line" },
      h("span", { text: `${line.name} (${line.sku})` }),
      h("span", { class: "qty", text: `× ${line.qty}` }),
      h("button", { type: "button", class: "ghost", onclick: () => { chosen.delete(line.sku); render(); }, text: "删除" }))));
  }
  return { element: h("div", {}, search, results, list), lines: () => [...chosen.values()].map(({ sku, qty }) => ({ sku, qty })) };
}

// ---- customer sign-off ----------------------------------------------------------------

async function signoffScreen(token) {
  let page;
  try {
    page = await call("GET", `/signoff/${encodeURIComponent(token)}`, { anonymous: true });
  } catch (error) {
    return screen("服务签收", notice("该签收链接无效、已使用或已过期", "error"));
  }
  let rating = null;
  const scale = h("div", { class: "scale", role: "radiogroup", "aria-label": "推荐度" },
    Array.from({ length: 11 }, (_, n) => h("button", { type: "button", class: "score", "data-score": n, onclick: (e) => {
      rating = n;
      for (const b of scale.children) b.classList.toggle("chosen", b === e.currentTarget);
    }, text: String(n) })));
  const comment = h("textarea", { name: "comment", rows: 3, maxlength: 500, placeholder: "您的意见 (选填)" });
  const pad = signaturePad();
  const error = h("p", { class: "notice error", hidden: true });
  screen("服务签收",
    h("section", { class: "card" }, h("div", { class: "muted", text: `工单 ${page.order_no}` }), h("div", { text: `服务工程师: ${page.engineer}` })),
    h("section", { class: "card" }, h("p", { text: "您向朋友推荐我们的可能性有多大? (0-10)" }), scale, comment),
    h("section", { class: "card" }, h("p", { text: "请签名确认" }), pad.element),
    error,
    h("button", { class: "primary", id: "sign", onclick: async () => {
      if (rating === null) { error.textContent = "请选择评分"; error.hidden = false; return; }
      if (pad.isEmpty()) { error.textContent = "请签名"; error.hidden = false; return; }
      try {
        await call("POST", `/signoff/${encodeURIComponent(token)}`, { anonymous: true, json: { rating, comment: comment.value, signature: pad.dataUrl() } });
        screen("服务签收", notice(`感谢您的评价 (${rating}/10)`, "ok"));
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      }
    }, text: "确认签收" }));
}

// ---- start ---------------------------------------------------------------------------

window.addEventListener("online", () => flush().then(() => auth.token && tasksScreen()));
setInterval(() => { if (pending().length && navigator.onLine) flush(); }, 15000);

const signoff = window.location.pathname.match(/^\/phone\/signoff\/([^/]+)$/);
if (signoff) signoffScreen(decodeURIComponent(signoff[1]));
else if (auth.token) tasksScreen();
else loginScreen();
