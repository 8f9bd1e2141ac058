// The single-page app: login with the token, hash router, header (search, live status, sync bar).
import { AuthError, getToken, rpc, setToken } from './rpc.js';
import { onEvent, onMode, startLive, stopLive } from './live.js';
import { busy, clear, debounce, describeError, h, messageSlot } from './ui.js';
import * as wallet from './wallet.js';
import * as mining from './mining.js';
import * as explorer from './explorer.js';
import * as network from './network.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');

// What a page gets: live events and timers that end when the page is left.
class PageContext {
  constructor() { this.cleanups = []; this.alive = true; }
  onLive(fn) { this.cleanups.push(onEvent((ev) => { if (this.alive) fn(ev); })); }
  every(ms, fn) { const t = setInterval(() => { if (this.alive) fn(); }, ms); this.cleanups.push(() => clearInterval(t)); }
  onDispose(fn) { this.cleanups.push(fn); }
  dispose() { this.alive = false; for (const f of this.cleanups) f(); this.cleanups = []; }
}

const routes = [
  [/^#\/wallet\/new$/, (el, ctx) => wallet.renderSetup(el, ctx)],
  [/^#\/wallet$/, (el, ctx) => wallet.render(el, ctx)],
  [/^#\/mining$/, (el, ctx) => mining.render(el, ctx)],
  [/^#\/explorer$/, (el, ctx) => explorer.renderHome(el, ctx)],
  [/^#\/block\/([^/]+)$/, (el, ctx, m) => explorer.renderBlock(el, ctx, decodeURIComponent(m[1]))],
  [/^#\/tx\/([0-9a-fA-F]{64})$/, (el, ctx, m) => explorer.renderTx(el, ctx, m[1].toLowerCase())],
  [/^#\/address\/([^/]+)$/, (el, ctx, m) => explorer.renderAddress(el, ctx, decodeURIComponent(m[1]))],
  [/^#\/search\/(.*)$/, (el, ctx, m) => explorer.renderSearch(el, ctx, decodeURIComponent(m[1]))],
  [/^#\/network$/, (el, ctx) => network.render(el, ctx)],
];

let page = null;

async function route() {
  if (!getToken()) { showLogin(); return; }
  if (page) page.dispose();
  page = new PageContext();
  const hash = location.hash || '#/wallet';
  if (!location.hash || location.hash === '#/' || location.hash === '#') { location.replace('#/wallet'); return; }
  const section = hash.split('/')[1] || '';
  for (const a of document.querySelectorAll('[data-nav]')) {
    const active = a.dataset.nav === section || (a.dataset.nav === 'explorer' && ['block', 'tx', 'address', 'search'].includes(section));
    a.classList.toggle('active', active);
    if (active) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const el = h('div', { class: 'page' });
  clear(main, el);
  for (const [re, render] of routes) {
    const m = re.exec(hash);
    if (m) {
      try {
        await render(el, page, m);
      } catch (e) {
        if (e instanceof AuthError) { authFailed(); return; }
        clear(el, h('div', { class: 'message error', role: 'alert' }, describeError(e)));
      }
      return;
    }
  }
  clear(el, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page. ', h('a', { href: '#/explorer' }, 'Go to the explorer.')));
}

// ---- login ---------------------------------------------------------------------------------

function tokenFromText(text) {
  const s = text.trim();
  const m = /[#&?]token=([0-9a-fA-F]+)/.exec(s);
  if (m) return m[1];
  return /^[0-9a-fA-F]+$/.test(s) ? s : null;
}

function showLogin(reason) {
  stopLive();
  if (page) { page.dispose(); page = null; }
  topbar.hidden = true;
  document.getElementById('sync').hidden = true;
  const input = h('input', { id: 'token-input', type: 'password', autocomplete: 'off', spellcheck: 'false', placeholder: 'http://127.0.0.1:8432/#token=… or the token alone' });
  const slot = messageSlot();
  const button = h('button', { type: 'submit', id: 'login-button' }, 'Log in');
  const form = h('form', { class: 'card login', id: 'login-form' },
    h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '', width: 36, height: 36 }), h('span', {}, 'cheesechain')),
    h('h1', {}, 'Log in to your node'),
    h('p', {}, 'Open the address that cheesed wrote to its log when it started, or paste it (or only the token) here. ',
      'Run ', h('code', {}, 'cheese-cli webui'), ' to print it again.'),
    h('label', { for: 'token-input' }, 'Web UI address or token'), input,
    h('div', { class: 'form-actions' }, button), slot);
  if (reason) slot.error(reason);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = tokenFromText(input.value);
    if (!token) { slot.error(new Error('That is not a web UI address or token: it looks like http://127.0.0.1:8432/#token=<hex digits>.')); return; }
    busy(button, slot, () => login(token, slot));
  });
  clear(main, form);
  input.focus();
}

async function login(token, slot) {
  setToken(token);
  try {
    await rpc('getblockchaininfo');
  } catch (e) {
    setToken('');
    if (e instanceof AuthError) {
      showLogin(new AuthError('Wrong token: the node did not accept it. cheesed makes a new token each time it starts; run "cheese-cli webui" for the current address.'));
      return;
    }
    if (slot) slot.error(e); else showLogin(e);
    return;
  }
  startApp();
}

function authFailed() {
  setToken('');
  showLogin(new AuthError('The node no longer accepts this token (was cheesed restarted?). Run "cheese-cli webui" for the current address.'));
}
window.addEventListener('cheese-auth-failed', authFailed);

// ---- header ---------------------------------------------------------------------------------

let headerStarted = false;

async function refreshHeader() {
  try {
    const info = await rpc('getblockchaininfo');
    const badge = document.getElementById('chain-badge');
    badge.textContent = `${info.chain} · height ${info.blocks}`;
    const sync = document.getElementById('sync');
    const behind = info.headers > info.blocks || info.initialblockdownload;
    sync.hidden = !behind;
    if (behind) {
      const progress = Math.min(1, Number(info.verificationprogress) || (info.headers ? info.blocks / info.headers : 0));
      document.getElementById('sync-progress').value = progress;
      document.getElementById('sync-text').textContent = info.headers > info.blocks
        ? `Catching up with the network: block ${info.blocks} of ${info.headers} (${(progress * 100).toFixed(1)} %)`
        : `Catching up: the newest block is older than a day (height ${info.blocks}); waiting for peers`;
    }
  } catch (e) {
    if (e instanceof AuthError) authFailed();
  }
}

function startHeader() {
  if (headerStarted) return;
  headerStarted = true;
  document.getElementById('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = document.getElementById('search-input').value.trim();
    if (q) location.hash = `#/search/${encodeURIComponent(q)}`;
  });
  document.getElementById('logout').addEventListener('click', () => {
    setToken('');
    showLogin();
  });
  onMode((m) => {
    const b = document.getElementById('live-badge');
    b.className = `badge ${m}`;
    b.textContent = m === 'live' ? '● live' : m === 'polling' ? '○ polling' : m === 'off' ? '' : '…';
    b.dataset.mode = m;
  });
  // While the node catches up, tips arrive in bursts: one header refresh per burst.
  const refreshSoon = debounce(refreshHeader, 500);
  onEvent((ev) => { if (ev.type === 'tip' || ev.type === 'reconnected') refreshSoon(); });
  setInterval(() => { if (getToken()) refreshHeader(); }, 10000);
}

function startApp() {
  topbar.hidden = false;
  startHeader();
  refreshHeader();
  startLive();
  route();
}

// ---- start ----------------------------------------------------------------------------------

function start() {
  // A URL with #token=... logs in and is then replaced by one without the token, so it is not
  // left in the history or on the screen.
  const m = /(?:^#|[#&])token=([0-9a-fA-F]+)/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', `${location.pathname}#/wallet`);
    login(m[1]);
  } else if (getToken()) {
    login(getToken());
  } else {
    showLogin();
  }
  window.addEventListener('hashchange', () => { if (getToken()) route(); });
}

start();
