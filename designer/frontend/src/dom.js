// A small DOM helper: el("div.cls#id", {attrs, on: {click}}, children...).
export function el(tag, attrs = {}, ...children) {
  const [name, ...rest] = tag.split(/(?=[.#])/);
  const node = document.createElement(name || "div");
  for (const part of rest) {
    if (part[0] === ".") node.classList.add(part.slice(1));
    else node.id = part.slice(1);
  }
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = !!value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

let toastTimer;
export function toast(message, kind = "info") {
  let box = document.getElementById("sf-toast");
  if (!box) {
    box = el("div#sf-toast");
    document.body.append(box);
  }
  box.className = `show ${kind}`;
  box.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.className = ""), 3500);
}

export function modal(title, body, actions = []) {
  const close = () => overlay.remove();
  const overlay = el(
    "div.sf-modal-overlay",
    el(
      "div.sf-modal",
      { role: "dialog" },
      el("div.sf-modal-head", el("h3", title), el("button.sf-icon-btn", { on: { click: close }, "aria-label": "close" }, "×")),
      el("div.sf-modal-body", body),
      actions.length ? el("div.sf-modal-actions", actions.map((a) => a(close))) : null,
    ),
  );
  document.body.append(overlay);
  return close;
}

export function download(filename, text) {
  const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

export function pickFile() {
  return new Promise((resolve) => {
    const input = el("input", { type: "file", accept: ".json,application/json", style: "display:none" });
    input.addEventListener("change", async () => {
      const file = input.files[0];
      input.remove();
      resolve(file ? await file.text() : null);
    });
    document.body.append(input);
    input.click();
  });
}

/** A deep copy of JSON-like data (also of LogicFlow's observable properties). */
export const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));
