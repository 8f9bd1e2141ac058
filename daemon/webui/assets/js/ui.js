// Small DOM helpers. Data from the node is only ever put in the page as text (textContent),
// never as HTML, so a hostile string cannot run script.
import { AuthError, RpcError } from './rpc.js';

// h('div', {class: 'card', onclick: fn}, 'text', child, [more children])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function link(href, text, attrs = {}) {
  return h('a', { href, ...attrs }, text);
}

export function short(hash, n = 8) {
  if (!hash) return '';
  return hash.length > n + 7 ? `${hash.slice(0, n)}…${hash.slice(-6)}` : hash;
}

export function blockLink(hash, text) { return link(`#/block/${hash}`, text ?? short(hash), { class: 'mono' }); }
export function txLink(txid, text) { return link(`#/tx/${txid}`, text ?? short(txid), { class: 'mono' }); }
export function addressLink(addr, text) {
  if (!addr) return h('span', { class: 'muted' }, 'coinbase');
  return link(`#/address/${addr}`, text ?? short(addr, 9), { class: 'mono' });
}

export function fmtTime(unix) {
  if (!unix) return '—';
  const d = new Date(Number(unix) * 1000);
  return d.toLocaleString();
}

export function ago(unix) {
  if (!unix) return '—';
  const s = Math.max(0, Math.round(Date.now() / 1000 - Number(unix)));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function fmtHashrate(hps) {
  const v = Number(hps) || 0;
  const units = ['H/s', 'kH/s', 'MH/s', 'GH/s', 'TH/s', 'PH/s'];
  let i = 0;
  let x = v;
  while (x >= 1000 && i < units.length - 1) { x /= 1000; i += 1; }
  return `${x.toFixed(x >= 100 || i === 0 ? 0 : 2)} ${units[i]}`;
}

// What a person should read for an error of the node (by JSON-RPC code), then the node's words.
export function describeError(e) {
  if (e instanceof AuthError) return e.message;
  if (!(e instanceof RpcError)) return e && e.message ? e.message : String(e);
  const m = e.message;
  switch (e.code) {
    case -5: return `Invalid address or unknown item: ${m}`;
    case -6: return `Insufficient funds: ${m}`;
    case -13: return `The wallet is locked: unlock it with its passphrase first. (${m})`;
    case -14: return `Wrong passphrase. (${m})`;
    case -18: return `No wallet: ${m}. Create, restore or load one on the Wallet page.`;
    case -19: return `Several wallets are loaded: choose one on the Wallet page. (${m})`;
    case -3: return `Invalid amount: ${m}`;
    case -8: return `Invalid value: ${m}`;
    case -26: return `The node refused the transaction: ${m}`;
    case -32601: return `This node does not know that command: ${m}`;
    case -32602: return `Invalid parameters: ${m}`;
    case 0: return m;
    default: return `${m} (error ${e.code})`;
  }
}

// A message slot placed next to the control that caused it.
export function messageSlot() {
  const el = h('div', { class: 'message', role: 'status', 'aria-live': 'polite' });
  el.error = (e) => { el.className = 'message error'; el.setAttribute('role', 'alert'); el.textContent = describeError(e); };
  el.ok = (...content) => { el.className = 'message ok'; el.setAttribute('role', 'status'); clear(el, ...content); };
  el.warn = (...content) => { el.className = 'message warn'; el.setAttribute('role', 'status'); clear(el, ...content); };
  el.reset = () => { el.className = 'message'; el.replaceChildren(); };
  return el;
}

// Runs an action for a button: disabled while it runs; errors go to the slot (and are not thrown).
export async function busy(button, slot, fn) {
  if (button) button.disabled = true;
  if (slot) slot.reset();
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AuthError) window.dispatchEvent(new CustomEvent('cheese-auth-failed'));
    if (slot) slot.error(e); else console.error(e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'copy', title: 'Copy to the clipboard', 'aria-label': `Copy ${text}` }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch (e) {
      // Clipboard refused (plain http on a non-local host): select the text for a manual copy.
      const range = document.createRange();
      const target = b.previousElementSibling || b;
      range.selectNodeContents(target);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      b.textContent = 'Press Ctrl+C';
    }
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

export function field(labelText, input, hint) {
  const id = input.id || `f${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', {}, h('label', { for: id }, labelText), input, hint ? h('div', { class: 'muted', style: null }, hint) : null);
}

export function table(headers, rows, emptyText = 'Nothing yet.') {
  if (rows.length === 0) return h('div', { class: 'empty' }, emptyText);
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('thead', {}, h('tr', {}, headers.map((x) => (typeof x === 'string' ? h('th', {}, x) : h('th', x.attrs || {}, x.text))))),
      h('tbody', {}, rows)));
}

export function fields(pairs) {
  const dl = h('dl', { class: 'fields' });
  for (const [k, v] of pairs) {
    if (v === undefined) continue;
    dl.append(h('dt', {}, k), h('dd', {}, v));
  }
  return dl;
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

// Coalesces bursts of events (a block with many transactions) into one refresh.
export function debounce(fn, ms = 250) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
