// Starts real cheesed -regtest nodes on 127.0.0.1 for the browser tests, and the browser.
// Every wait is bounded. Nodes get temporary data directories that are removed afterwards.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const START_TIMEOUT_MS = 30000;
export const STOP_TIMEOUT_MS = 15000;
export const RPC_TIMEOUT_MS = 60000;

export function buildDir() {
  const i = process.argv.indexOf('--build-dir');
  const dir = process.env.CHEESE_BUILD_DIR || (i > 0 ? process.argv[i + 1] : null)
    || path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../build');
  const cheesed = path.join(dir, 'daemon', 'cheesed');
  if (!fs.existsSync(cheesed)) throw new Error(`no cheesed at ${cheesed}: build first, or set CHEESE_BUILD_DIR`);
  return dir;
}

export function chromiumPath() {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && fs.existsSync(p)) return p;
  }
  throw new Error('Chromium not found: install Debian\'s chromium package (scripts/install-deps.sh) or set CHROMIUM');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws after timeoutMs with `what` in the message.
export async function waitFor(fn, what, timeoutMs = 20000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(intervalMs);
  }
}

export class CheeseNode {
  constructor(index, { listen = false, extraArgs = [] } = {}) {
    this.index = index;
    this.listen = listen;
    this.extraArgs = extraArgs;
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), `cheese_web_${index}_`));
    this.datadir = path.join(this.base, 'regtest');
  }

  async start() {
    this.rpcPort = await freePort();
    this.p2pPort = await freePort();
    const args = ['-regtest', `-datadir=${this.base}`, `-rpcport=${this.rpcPort}`, `-port=${this.p2pPort}`,
      `-listen=${this.listen ? 1 : 0}`, '-notracker', ...this.extraArgs];
    const out = fs.openSync(path.join(this.base, 'stdout.txt'), 'a');
    this.proc = spawn(path.join(buildDir(), 'daemon', 'cheesed'), args, { stdio: ['ignore', out, out] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
    // The login link is never written to debug.log: ask the node for it with the cookie.
    const cookie = path.join(this.datadir, '.cookie');
    this.url = await waitFor(async () => {
      if (this.proc.exitCode !== null) throw new Error(`cheesed exited with ${this.proc.exitCode}: ${this.logTail()}`);
      if (!fs.existsSync(cookie)) return null;
      const auth = Buffer.from(fs.readFileSync(cookie, 'utf8').trim()).toString('base64');
      this.cookieAuth = `Basic ${auth}`;
      const res = await fetch(`http://127.0.0.1:${this.rpcPort}/`, {
        method: 'POST',
        headers: { Authorization: `Basic ${auth}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'webui', params: [] }),
      });
      if (!res.ok) return null;
      const body = await res.json();
      return body.result && body.result.url;
    }, `node ${this.index} to give its web UI address`, START_TIMEOUT_MS);
    this.token = /#token=([0-9a-f]+)/.exec(this.url)[1];
    this.origin = new URL(this.url).origin;
    await waitFor(() => this.rpc('getblockcount').then(() => true), `node ${this.index} RPC`, START_TIMEOUT_MS);
    return this;
  }

  logTail(lines = 30) {
    try {
      return fs.readFileSync(path.join(this.datadir, 'debug.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch (e) {
      return '(no debug.log)';
    }
  }

  // The test's own calls use the cookie: the web UI token may only call what the pages call.
  async rpc(method, params = [], wallet = '') {
    const res = await fetch(`${this.origin}${wallet ? `/wallet/${encodeURIComponent(wallet)}` : '/'}`, {
      method: 'POST',
      headers: { Authorization: this.cookieAuth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
    });
    const reply = await res.json();
    if (reply.error) {
      const e = new Error(`${method}: ${reply.error.message} (${reply.error.code})`);
      e.code = reply.error.code;
      throw e;
    }
    return reply.result;
  }

  async hasMethod(name) {
    const help = await this.rpc('help');
    return new RegExp(`^${name}\\b`, 'm').test(help);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) { this.cleanup(); return; }
    try { await this.rpc('stop'); } catch (e) { this.proc.kill('SIGTERM'); }
    const code = await Promise.race([this.exited, sleep(STOP_TIMEOUT_MS).then(() => 'timeout')]);
    if (code === 'timeout') {
      this.proc.kill('SIGKILL');
      await Promise.race([this.exited, sleep(5000)]);
    }
    this.cleanup();
  }

  cleanup() {
    if (process.env.CHEESE_KEEP_DATADIR) return;
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    timeout: START_TIMEOUT_MS,
    // Root in a container has no user namespaces for the sandbox.
    // The closed network refuses Chromium's own connections: keep it from trying.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

// Where screenshots go: docs/images/ when CHEESE_SCREENSHOTS=1 (to refresh the committed
// ones), otherwise a scratch folder.
export function screenshotDir() {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const dir = process.env.CHEESE_SCREENSHOTS === '1' ? path.resolve(here, '../../docs/images')
    : path.join(here, 'test-results');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
