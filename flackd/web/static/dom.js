// Building DOM without HTML strings: createElement, attributes, text nodes. Anything from
// the server reaches the page only as text (the CSP's Trusted Types rule makes every HTML
// sink throw anyway).

/** `el('li', {class: 'msg', 'data-id': id}, child, 'text', ...)`: null/false attributes and
 * children are skipped; strings become text nodes; `on<event>` keys add listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'style' || key.startsWith('on')) throw new Error(`refusing attribute ${key}`);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c)));
  return node;
}

/** Visually hidden text, read by screen readers. */
export const hidden = (text) => el('span', { class: 'vh' }, text);

export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

const pad = (n) => String(n).padStart(2, '0');

export function parseTime(iso) {
  const date = iso instanceof Date ? iso : new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Local time of day, as people read clocks where they are: 09:20. */
export function localTime(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** The full UTC time, for the title (hover) of a <time>: 2026-11-24 09:20:03 UTC. */
export function utcTitle(date) {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} `
    + `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC`;
}

export function localDay(date) {
  return date.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

export const dayKey = (date) => `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;

/** <time datetime=ISO title="UTC">local</time> */
export function timeNode(iso) {
  const date = parseTime(iso);
  if (!date) return el('time', {}, '');
  return el('time', { datetime: date.toISOString(), title: utcTitle(date) }, localTime(date));
}

/** Run `render` (which rebuilds part of `container`) without losing the keyboard focus:
 * the element that had it is found again by its row's data attribute and its class. */
export function keepFocus(container, render) {
  const active = document.activeElement;
  let selector = null;
  if (active && active !== document.body && container.contains(active)) {
    const li = active.closest('li');
    const attr = li && ['data-conv', 'data-nick', 'data-id', 'data-local-id'].find((a) => li.hasAttribute(a));
    if (attr) {
      const classes = [...active.classList].map((c) => `.${CSS.escape(c)}`).join('');
      selector = `li[${attr}="${CSS.escape(li.getAttribute(attr))}"] ${active.localName}${classes}`;
    }
  }
  render();
  if (selector && document.activeElement !== active) container.querySelector(selector)?.focus({ preventScroll: true });
}
