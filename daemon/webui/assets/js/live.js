// Live updates: a WebSocket to /ws that the node pushes events on ({type: "tip", height, hash,
// mempool} and {type: "tx", txid, mempool}); when it cannot be opened or drops, the page polls
// instead and tries the socket again later.
import { getToken, rpc } from './rpc.js';

const POLL_MS = 3000;
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 60000;

const listeners = new Set();
let socket = null;
let mode = 'connecting';
let pollTimer = null;
let retryTimer = null;
let retryDelay = RETRY_MIN_MS;
let last = { height: null, hash: null, mempool: null };
let stopped = true;
const modeListeners = new Set();

export function onEvent(fn) { listeners.add(fn); return () => listeners.delete(fn); }
export function onMode(fn) { modeListeners.add(fn); fn(mode); return () => modeListeners.delete(fn); }
export function currentMode() { return mode; }

function emit(ev) {
  if (ev.type === 'tip') { last.height = ev.height; last.hash = ev.hash; }
  if (ev.mempool !== undefined) last.mempool = ev.mempool;
  for (const fn of [...listeners]) {
    try { fn(ev); } catch (e) { console.error(e); }
  }
}

function setMode(m) {
  mode = m;
  for (const fn of modeListeners) fn(m);
}

async function pollOnce() {
  try {
    const [info, pool] = await Promise.all([rpc('getblockchaininfo'), rpc('getmempoolinfo')]);
    if (info.blocks !== last.height || info.bestblockhash !== last.hash) {
      const first = last.height === null;
      last.height = info.blocks;
      last.hash = info.bestblockhash;
      if (!first) emit({ type: 'tip', height: info.blocks, hash: info.bestblockhash, mempool: pool.size, polled: true });
    }
    if (pool.size !== last.mempool) {
      const first = last.mempool === null;
      last.mempool = pool.size;
      if (!first) emit({ type: 'mempool', mempool: pool.size, polled: true });
    }
  } catch (e) {
    emit({ type: 'error', error: e });
  }
}

function startPolling() {
  if (pollTimer || stopped) return;
  setMode('polling');
  pollOnce();
  pollTimer = setInterval(pollOnce, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  if (stopped) return;
  retryTimer = setTimeout(connect, retryDelay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

function connect() {
  if (stopped) return;
  if (typeof WebSocket === 'undefined' || window.cheeseForcePolling) { startPolling(); return; }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  let ws;
  try {
    ws = new WebSocket(url, ['cheesechain.v1', `token.${getToken()}`]);
  } catch (e) {
    startPolling();
    scheduleRetry();
    return;
  }
  socket = ws;
  ws.onopen = () => {
    retryDelay = RETRY_MIN_MS;
    stopPolling();
    setMode('live');
    // Anything that happened while the socket was down: one catch-up event.
    emit({ type: 'reconnected' });
  };
  ws.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch (e) { return; }
    if (ev && typeof ev.type === 'string') emit(ev);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    startPolling();
    scheduleRetry();
  };
  ws.onerror = () => { /* onclose follows */ };
}

export function startLive() {
  if (!stopped) return;
  stopped = false;
  connect();
}

export function stopLive() {
  stopped = true;
  stopPolling();
  clearTimeout(retryTimer);
  if (socket) { const s = socket; socket = null; s.close(); }
  setMode('off');
}
