// JSON-RPC over fetch, authenticated with the web UI token (Authorization: Bearer).
// Decimal numbers in replies (amounts such as 12.50000000) are kept as strings so that no amount
// ever goes through a binary float: see quoteDecimals.

const TOKEN_KEY = 'cheese.token';
const WALLET_KEY = 'cheese.wallet';

export class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// The node refused the token (HTTP 401).
export class AuthError extends Error {}

export function getToken() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
}

// The wallet that wallet RPCs go to (POST /wallet/<name>); '' = POST / (the only loaded one).
export function getWallet() { return sessionStorage.getItem(WALLET_KEY) || ''; }
export function setWallet(name) {
  if (name) sessionStorage.setItem(WALLET_KEY, name); else sessionStorage.removeItem(WALLET_KEY);
}

// Turns every JSON number with a fraction or an exponent into a JSON string, leaving strings
// and integers alone: "amount": 0.10000000 becomes "amount": "0.10000000".
export function quoteDecimals(text) {
  return text.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)/g,
    (m) => (m[0] === '"' ? m : `"${m}"`));
}

let nextId = 1;

async function post(path, payload) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Authorization': `Bearer ${getToken()}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new RpcError(0, 'Cannot reach the node. Is cheesed still running?');
  }
  if (res.status === 401) {
    throw new AuthError('The node did not accept the login token. cheesed makes a new token each time it starts: '
      + 'run "cheese-cli webui" for the current address.');
  }
  const text = await res.text();
  try {
    return JSON.parse(quoteDecimals(text));
  } catch (e) {
    throw new RpcError(res.status, `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
}

function walletPath(wallet) {
  const name = wallet === undefined ? getWallet() : wallet;
  return name ? `/wallet/${encodeURIComponent(name)}` : '/';
}

// Calls one method; resolves with its result or rejects with RpcError / AuthError.
// opts.wallet: a wallet name, '' for POST /, or undefined for the selected wallet.
export async function rpc(method, params = [], opts = {}) {
  const reply = await post(walletPath(opts.wallet), { jsonrpc: '2.0', id: nextId++, method, params });
  if (reply && reply.error) throw new RpcError(reply.error.code, reply.error.message);
  return reply ? reply.result : null;
}

// Several calls in one HTTP request; resolves with [{result} | {error: RpcError}] in order.
export async function batch(calls, opts = {}) {
  if (calls.length === 0) return [];
  const first = nextId;
  const payload = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: nextId++, method, params: params || [] }));
  const reply = await post(walletPath(opts.wallet), payload);
  if (!Array.isArray(reply)) {
    const e = reply && reply.error ? new RpcError(reply.error.code, reply.error.message) : new RpcError(0, 'bad batch reply');
    throw e;
  }
  const byId = new Map(reply.map((r) => [r.id, r]));
  return calls.map((_, i) => {
    const r = byId.get(first + i);
    if (!r) return { error: new RpcError(0, 'no reply') };
    if (r.error) return { error: new RpcError(r.error.code, r.error.message) };
    return { result: r.result };
  });
}

// Like batch, but rejects with the first error.
export async function batchAll(calls, opts = {}) {
  const replies = await batch(calls, opts);
  for (const r of replies) if (r.error) throw r.error;
  return replies.map((r) => r.result);
}
