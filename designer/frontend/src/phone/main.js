// The engineer's phone (H5; also inside WeCom's browser) and the customer's sign-off page.
import "./phone.css";
import { auth, call, ApiError, upload, enqueue, flush, pending, stepSla, slaOf, holdSla } from "./api.js";
import { signaturePad } from "./signature.js";
import { t, getLang, setLang, fieldLabel, stepName, errorText, duration } from "./i18n.js";

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

// The screen on show, drawn again in the other language when the header's button is hit.
let redraw = () => {};

function screen(title, ...body) {
  document.title = title;
  const toggle = h("button", { type: "button", class: "lang", lang: getLang() === "zh" ? "en" : "zh", onclick: () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    redraw();
  }, text: t("lang_switch") });
  app.replaceChildren(h("header", { class: "bar" }, h("h1", { text: title }), toggle), h("main", {}, ...body));
}

function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
}

// ---- engineer --------------------------------------------------------------------------

function loginScreen(message) {
  redraw = () => loginScreen();
  const user = h("input", { name: "username", autocomplete: "username", placeholder: t("username"), "aria-label": t("username"), required: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", placeholder: t("password"), "aria-label": t("password"), required: true });
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
          loginScreen(error instanceof ApiError && error.status === 401 ? t("err_login") : errorText(error));
        }
      },
    },
    user,
    pass,
    h("button", { type: "submit", class: "primary", text: t("login") }),
  );
  screen(t("app_title"), message ? notice(message, "error") : null, form);
}

async function tasksScreen(message, kind = "ok") {
  redraw = () => tasksScreen();
  let tasks = [];
  try {
    tasks = (await call("GET", "/my/tasks")).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return loginScreen();
    return screen(t("my_tasks"), notice(t("tasks_failed", { msg: errorText(error) }), "error"), queueNote());
  }
  const list = tasks.length
    ? h("ul", { class: "tasks" }, tasks.map((task) =>
        h("li", { class: "task", "data-order": task.order_id, "data-node": task.node_id, onclick: () => taskScreen(task.order_id, task.node_id) },
          h("strong", { text: stepName(task) }),
          h("span", { class: "muted", text: `${task.order_no || task.order_id} · ${task.region}` }),
        ),
      ))
    : h("p", { class: "muted", text: t("no_tasks") });
  screen(t("my_tasks"), message ? notice(message, kind) : null, queueNote(), list,
    h("div", { class: "actions" },
      h("button", { class: "ghost", onclick: () => tasksScreen(), text: t("refresh") }),
      h("button", { class: "ghost", onclick: () => { auth.token = null; loginScreen(); }, text: t("sign_out") })));
}

function queueNote() {
  const waiting = pending().length;
  return waiting ? notice(t("queued_note", { n: waiting }), "warn") : null;
}

async function taskScreen(orderId, nodeId) {
  redraw = () => taskScreen(orderId, nodeId);
  let task;
  try {
    task = await call("GET", `/phone/tasks/${encodeURIComponent(orderId)}/${encodeURIComponent(nodeId)}`);
  } catch (error) {
    return tasksScreen(errorText(error), "error");
  }
  const place = h("section", { class: "card place" },
    h("div", { class: "customer", text: `${task.place.customer} ${task.place.phone}` }),
    h("div", { class: "address", text: task.place.address }),
    h("a", { class: "button", href: task.place.map_url, target: "_blank", rel: "noopener", text: t("navigate") }),
  );
  const head = h("section", { class: "card" }, h("div", { class: "muted", text: task.order_no }), h("div", { text: task.fault }));
  const clock = slaCard(task.order_id, task.node_id, slaOf(task));
  if (task.choices.includes("accepted")) {
    const decide = (outcome) => submit(task, {}, outcome);
    return screen(stepName(task), head, clock, place,
      h("div", { class: "actions" },
        h("button", { class: "primary", onclick: () => decide("accepted"), text: t("accept") }),
        h("button", { class: "danger", onclick: () => decide("declined"), text: t("decline") })));
  }
  const form = buildForm(task.form, { orderId: task.order_id, nodeId: task.node_id });
  screen(stepName(task), head, clock, place, form.element,
    h("button", { class: "primary", id: "submit", onclick: async () => {
      try {
        const data = await form.values();
        await submit(task, data, "done");
      } catch (error) {
        form.show(errorText(error));
      }
    }, text: t("submit") }));
}

// ---- the step's SLA clock --------------------------------------------------------------

const REASONS = ["sla_customer", "sla_parts", "sla_other"];
const REASON_MAX = 100;

function twoDigits(n) {
  return String(n).padStart(2, "0");
}

function when(date) {
  return `${twoDigits(date.getMonth() + 1)}-${twoDigits(date.getDate())} ${twoDigits(date.getHours())}:${twoDigits(date.getMinutes())}`;
}

function holdErrorText(error) {
  if (error instanceof ApiError && error.status === 409) return t("sla_hold_409");
  return t("sla_hold_failed", { msg: errorText(error) });
}

/** The step's deadline and time left, "Pause clock" with a reason while it runs, the
 * reason and "Resume" while paused; empty for a step without an SLA. `first` is the SLA
 * the task was read with; a clock still starting (no deadline yet) is read again. */
function slaCard(orderId, nodeId, first) {
  const card = h("section", { class: "card sla", hidden: true, "aria-live": "polite" });
  let sla = first;
  let error = "";
  let picking = false;
  let chosen = null;

  function draw() {
    if (!sla) { card.hidden = true; return; }
    card.hidden = false;
    card.dataset.state = sla.paused ? "paused" : "running";
    const rows = [h("div", { class: "sla-head" }, h("strong", { text: t("sla_title") }))];
    if (sla.paused) {
      // The offered reasons are sent in Chinese: shown in the page's language.
      const reason = { 等客户: t("sla_customer"), 等配件: t("sla_parts") }[sla.reason] || sla.reason;
      rows.push(notice(reason ? t("sla_paused_reason", { reason }) : t("sla_paused"), "warn"));
      rows.push(h("button", { type: "button", class: "primary", id: "sla-resume", onclick: () => act(null), text: t("sla_resume") }));
    } else if (sla.deadline) {
      const left = sla.deadline.getTime() - Date.now();
      rows.push(h("div", { class: "sla-due" },
        h("span", { text: t("sla_due", { at: when(sla.deadline) }) }),
        h("span", { class: left < 0 ? "sla-left over" : "sla-left", text: t(left < 0 ? "sla_over" : "sla_left", { d: duration(left) }) })));
    } else {
      rows.push(h("div", { class: "muted", text: t("sla_starting") }));
    }
    if (!sla.paused && !sla.pausable) rows.push(h("div", { class: "muted", text: t("sla_fixed") }));
    if (!sla.paused && sla.pausable && !picking) {
      rows.push(h("button", { type: "button", id: "sla-pause", onclick: () => { picking = true; error = ""; draw(); }, text: t("sla_pause") }));
    }
    if (!sla.paused && sla.pausable && picking) rows.push(picker());
    if (error) rows.push(notice(error, "error"));
    card.replaceChildren(...rows);
  }

  function picker() {
    const other = h("input", { name: "sla-other", maxlength: REASON_MAX, placeholder: t("sla_other_text", { n: REASON_MAX }), "aria-label": t("sla_other_text", { n: REASON_MAX }), hidden: chosen !== "sla_other" });
    const choices = h("div", { class: "reasons", role: "radiogroup", "aria-label": t("sla_why") },
      REASONS.map((key) => h("button", { type: "button", class: chosen === key ? "reason chosen" : "reason", role: "radio", "aria-checked": chosen === key ? "true" : "false", "data-reason": key, onclick: () => {
        chosen = key;
        error = "";  // a reason picked answers "please choose why"
        for (const stale of card.querySelectorAll(".notice.error")) stale.remove();
        for (const b of choices.children) {
          b.classList.toggle("chosen", b.dataset.reason === key);
          b.setAttribute("aria-checked", b.dataset.reason === key ? "true" : "false");
        }
        other.hidden = key !== "sla_other";
        if (!other.hidden) other.focus();
      }, text: t(key) })));
    const confirm = async () => {
      if (!chosen) { error = t("sla_pick_reason"); return draw(); }
      // The reasons offered go to the order's history in Chinese (the managers' words);
      // "other" goes as written.
      const text = chosen === "sla_other" ? other.value.trim() : { sla_customer: "等客户", sla_parts: "等配件" }[chosen];
      if (!text) { error = t("sla_write_reason"); return draw(); }
      if (text.length > REASON_MAX) { error = t("sla_too_long", { n: REASON_MAX }); return draw(); }
      await act(text);
    };
    return h("div", { class: "sla-pick" },
      h("span", { class: "muted", text: t("sla_why") }), choices, other,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "ghost", onclick: () => { picking = false; chosen = null; error = ""; draw(); }, text: t("cancel") }),
        h("button", { type: "button", class: "primary", id: "sla-confirm", onclick: confirm, text: t("sla_confirm") })));
  }

  async function act(reason) {
    error = "";
    for (const b of card.querySelectorAll("button")) b.disabled = true;
    try {
      await holdSla(orderId, nodeId, reason);
      // Accepted (202): the order moves its clock in a moment; the page shows it now.
      picking = false;
      chosen = null;
      if (reason === null) {
        sla = { ...sla, paused: false, reason: "", deadline: null };
        draw();
        await reload(40, true);
      } else {
        sla = { ...sla, paused: true, reason };
        draw();
      }
    } catch (e) {
      error = holdErrorText(e);
      draw();
    }
  }

  // Just resumed: until the order's workflow has stored the resume, its clock reads paused.
  async function reload(tries = 1, resuming = false) {
    for (let i = 0; i < tries; i += 1) {
      try {
        sla = await stepSla(orderId, nodeId);
      } catch {
        sla = null;  // the task is shown all the same
      }
      if (sla && resuming && sla.paused) sla = { ...sla, paused: false, reason: "" };
      draw();
      if (!sla || sla.paused || sla.deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  // The time left runs on while the task is open (only its text: a reason being typed stays).
  const ticking = setInterval(() => {
    if (!card.isConnected) return clearInterval(ticking);
    const left = card.querySelector(".sla-left");
    if (!left || !sla || !sla.deadline) return;
    const ms = sla.deadline.getTime() - Date.now();
    left.className = ms < 0 ? "sla-left over" : "sla-left";
    left.textContent = t(ms < 0 ? "sla_over" : "sla_left", { d: duration(ms) });
  }, 30000);

  draw();
  if (sla && !sla.paused && !sla.deadline) reload(40);
  return card;
}

async function submit(task, data, outcome) {
  enqueue(task.order_id, task.node_id, data, outcome);
  const results = await flush();
  const mine = results.find((r) => r.item.orderId === task.order_id && r.item.nodeId === task.node_id);
  if (mine && mine.error && !mine.queued) return tasksScreen(t("refused", { msg: errorText(mine.error) }), "error");
  if (mine && mine.queued) return tasksScreen(t("offline_saved"), "warn");
  tasksScreen(outcome === "declined" ? t("declined") : t("submitted"));
}

function buildForm(fields, owner) {
  const element = h("form", { class: "card form", onsubmit: (e) => e.preventDefault() });
  const error = h("p", { class: "notice error", hidden: true });
  const readers = [];
  for (const field of fields) {
    const label = h("label", { class: "field" }, h("span", { text: fieldLabel(field) }));
    if (field.type === "photo") {
      const files = [];
      const thumbs = h("div", { class: "thumbs" });
      const status = h("p", { class: "notice", hidden: true });
      const input = h("input", { type: "file", accept: "image/jpeg,image/png,image/webp", multiple: field.multiple ? true : undefined, "data-field": field.name, onchange: async () => {
        status.className = "notice";
        status.textContent = t("uploading");
        status.hidden = false;
        try {
          for (const file of input.files) {
            const stored = await upload(file, owner);
            files.push(stored.file_id);
            const reader = new FileReader();
            reader.onload = () => thumbs.append(h("img", { src: reader.result, alt: file.name, class: "thumb" }));
            reader.readAsDataURL(file);
          }
          status.hidden = true;
        } catch (error) {
          status.className = "notice error";
          status.textContent = t("upload_failed", { msg: errorText(error) });
        }
        input.value = "";
      } });
      // The browser's own file button speaks the browser's language: ours speaks the page's.
      input.classList.add("hidden-file");
      const pick = h("button", { type: "button", class: "button", onclick: () => input.click(), text: t("add_photos") });
      label.append(pick, input, status, thumbs);
      readers.push(async () => (files.length ? [field.name, field.multiple ? files : files[0]] : null));
    } else if (field.type === "signature") {
      const pad = signaturePad(t("clear_signature"));
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
      const select = h("select", { name: field.name }, h("option", { value: "", text: t("choose") }), (field.choices || []).map((c) => h("option", { value: c, text: c })));
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
  const search = h("input", { type: "search", placeholder: t("search_parts"), "data-parts": name, oninput: async () => {
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
      h("button", { type: "button", class: "ghost", onclick: () => { chosen.delete(line.sku); render(); }, text: t("remove") }))));
  }
  return { element: h("div", {}, search, results, list), lines: () => [...chosen.values()].map(({ sku, qty }) => ({ sku, qty })) };
}

// ---- customer sign-off ----------------------------------------------------------------

/** A sign-off call's failure, in the customer's words: an unknown or spent link (404), a
 * link used with another answer (409 "used") or being used right now (409), expired (410). */
function signoffErrorText(error) {
  if (!(error instanceof ApiError)) return errorText(error);
  if (error.status === 404) return t("link_invalid");
  if (error.status === 410) return t("err_410");
  if (error.status === 409) return t(error.body && error.body.reason === "used" ? "signoff_used" : "signoff_busy");
  return errorText(error);
}

async function signoffScreen(token) {
  redraw = () => signoffScreen(token);
  let page;
  try {
    page = await call("GET", `/signoff/${encodeURIComponent(token)}`, { anonymous: true });
  } catch (error) {
    return screen(t("signoff_title"), notice(signoffErrorText(error), "error"));
  }
  let rating = null;
  const scale = h("div", { class: "scale", role: "radiogroup", "aria-label": t("rating_label") },
    Array.from({ length: 11 }, (_, n) => h("button", { type: "button", class: "score", "data-score": n, onclick: (e) => {
      rating = n;
      for (const b of scale.children) b.classList.toggle("chosen", b === e.currentTarget);
    }, text: String(n) })));
  const comment = h("textarea", { name: "comment", rows: 3, maxlength: 500, placeholder: t("comment_placeholder") });
  const pad = signaturePad(t("clear_signature"));
  const error = h("p", { class: "notice error", hidden: true });
  screen(t("signoff_title"),
    h("section", { class: "card" }, h("div", { class: "muted", text: t("order_no", { no: page.order_no }) }), h("div", { text: t("engineer", { name: page.engineer }) })),
    h("section", { class: "card" }, h("p", { text: t("nps_question") }), scale, comment),
    h("section", { class: "card" }, h("p", { text: t("sign_here") }), pad.element),
    error,
    h("button", { class: "primary", id: "sign", onclick: async () => {
      if (rating === null) { error.textContent = t("pick_rating"); error.hidden = false; return; }
      if (pad.isEmpty()) { error.textContent = t("please_sign"); error.hidden = false; return; }
      try {
        await call("POST", `/signoff/${encodeURIComponent(token)}`, { anonymous: true, json: { rating, comment: comment.value, signature: pad.dataUrl() } });
        // The receipt: the signature as stored, read back with the link (its holder may
        // read this sign-off's files until the link expires).
        let files = [];
        try {
          files = (await call("GET", `/signoff/${encodeURIComponent(token)}/files`, { anonymous: true })).data;
        } catch {
          files = [];
        }
        redraw = () => screen(t("signoff_title"), notice(t("thanks", { n: rating }), "ok"),
          files.length ? h("section", { class: "card receipt" }, h("p", { text: t("your_signature") }),
            files.map((f) => h("img", { src: f.thumb_url, alt: t("your_signature"), class: "receipt-signature" }))) : null);
        redraw();
      } catch (e) {
        error.textContent = signoffErrorText(e);
        error.hidden = false;
        // An expired or spent link cannot sign again: no button that only fails again.
        const final = e instanceof ApiError && (e.status === 404 || e.status === 410 || (e.status === 409 && e.body && e.body.reason === "used"));
        if (final) document.getElementById("sign").remove();
      }
    }, text: t("confirm_signoff") }));
}

// ---- start ---------------------------------------------------------------------------

window.addEventListener("online", () => flush().then(() => auth.token && tasksScreen()));
setInterval(() => { if (pending().length && navigator.onLine) flush(); }, 15000);

const signoff = window.location.pathname.match(/^\/phone\/signoff\/([^/]+)$/);
if (signoff) signoffScreen(decodeURIComponent(signoff[1]));
else if (auth.token) tasksScreen();
else loginScreen();
