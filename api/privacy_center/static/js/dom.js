// Building the page from data with text nodes only: nothing the service returns is ever
// parsed as HTML.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function when(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function words(code) {
  if (!code) return "";
  const text = String(code).toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function table(caption, headings, rows) {
  if (!rows.length) return h("p", { class: "empty" }, `${caption}: nothing yet.`);
  return h(
    "div",
    { class: "table" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
    ),
  );
}

let announcer = null;

// Announces a result to screen readers and shows it (the status region is aria-live).
export function announce(message) {
  announcer ??= document.getElementById("status");
  announcer.textContent = "";
  // A new text node after a tick, so the same message twice is announced twice.
  setTimeout(() => { announcer.textContent = message; }, 20);
}

export function alarm(message) {
  const alert = document.getElementById("alert");
  alert.textContent = message || "";
  alert.hidden = !message;
}
