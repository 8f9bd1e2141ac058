// Browser tests of the web UI served by cheesed: Debian's Chromium, driven by playwright-core.
// Run by ctest (tests/CMakeLists.txt) as `node --test webui.test.mjs --build-dir <build>`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheeseNode, launchBrowser, screenshotDir, waitFor } from './harness.mjs';

// A valid regtest address (docs/rpc.md), for mining without a wallet.
const MINER = 'rchz190vqdjtlpcq27xslcveglfmr4ynfwg7gmw86cnun4acakxrdd6gqgvldna';
// The same with one character changed: the bech32m checksum catches it.
const TYPO = 'rchz190vqdjtlpcq27xslcveglfmr4ynfwg7gmw86cnun4acakxrdd6gqgvldnq';
const WAIT = 20000;  // for anything the page should show

const shots = screenshotDir();
const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`) });

async function openLoggedIn(browser, node, viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.errors = errors;
  await page.goto(node.url);
  await page.locator('#topbar').waitFor({ state: 'visible', timeout: WAIT });
  return page;
}

describe('web UI', () => {
  let browser;
  let node;
  before(async () => {
    node = await new CheeseNode(0).start();
    browser = await launchBrowser();
  });
  after(async () => {
    if (browser) await browser.close();
    if (node) await node.stop();
  });

  test('assets are served without the token, with security headers; JSON-RPC is not', async () => {
    const res = await fetch(`${node.origin}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const js = await fetch(`${node.origin}/js/app.js`);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    const rpc = await fetch(`${node.origin}/`, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"getblockcount"}' });
    assert.equal(rpc.status, 401);
    const url = await node.rpc('webui');
    assert.equal(url.url, node.url);
  });

  test('a wrong token shows a clear message, and the login form accepts the right address', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${node.origin}/#token=${'0'.repeat(64)}`);
    const message = page.locator('#login-form .message.error');
    await message.waitFor({ timeout: WAIT });
    assert.match(await message.textContent(), /Wrong token/);
    assert.equal(await page.locator('#topbar').isVisible(), false);
    assert.doesNotMatch(page.url(), /token=/, 'the token is removed from the address bar');
    await shot(page, 'login');
    // Garbage is refused before asking the node.
    await page.fill('#token-input', 'hello');
    await page.click('#login-button');
    await page.getByText('That is not a web UI address or token').waitFor({ timeout: WAIT });
    await page.fill('#token-input', node.url);
    await page.click('#login-button');
    await page.locator('#topbar').waitFor({ state: 'visible', timeout: WAIT });
    await context.close();
  });

  test('mining and the explorer, updated live over the WebSocket', async () => {
    const page = await openLoggedIn(browser, node);
    await page.locator('#live-badge[data-mode="live"]').waitFor({ timeout: WAIT });
    // Wallet page of a node without wallets (or without wallet support) does not break.
    await page.locator('main h1').first().waitFor({ timeout: WAIT });

    await page.goto(`${node.origin}/#/mining`);
    await page.fill('#mine-count', '2');
    await page.fill('#mine-address', TYPO);
    await page.click('#mine-button');
    const mineMessage = page.locator('#mine-message');
    await waitFor(async () => /Invalid address/.test(await mineMessage.textContent()), 'the bad-address message', WAIT);
    assert.match(await mineMessage.textContent(), /checksum/i);

    await page.fill('#mine-address', MINER);
    await page.click('#mine-button');
    await waitFor(async () => /Mined 2 blocks/.test(await mineMessage.textContent()), 'mined 2 blocks', WAIT);
    await page.locator('#hashrate').waitFor({ timeout: WAIT });
    await shot(page, 'mining');

    await page.goto(`${node.origin}/#/explorer`);
    await page.locator('#latest-blocks tr[data-height="2"]').waitFor({ timeout: WAIT });
    // A block mined elsewhere (here: over RPC) appears without reloading the page.
    await node.rpc('generatetoaddress', [1, MINER]);
    await page.locator('#latest-blocks tr[data-height="3"]').waitFor({ timeout: WAIT });
    await shot(page, 'explorer');

    // Search: height, block hash, address, nonsense.
    await page.fill('#search-input', '1');
    await page.press('#search-input', 'Enter');
    await page.locator('h1', { hasText: 'Block 1' }).waitFor({ timeout: WAIT });
    const hash1 = await node.rpc('getblockhash', [1]);
    assert.equal(await page.locator('#block-hash').textContent(), hash1);
    await shot(page, 'block');
    const coinbase = (await node.rpc('getblock', [hash1, 1])).tx[0];
    await page.fill('#search-input', coinbase);
    await page.press('#search-input', 'Enter');
    await page.locator('#tx-status').waitFor({ timeout: WAIT });
    assert.match(await page.locator('#tx-status').textContent(), /confirmed in block 1/);
    await page.fill('#search-input', MINER);
    await page.press('#search-input', 'Enter');
    await page.locator('#address-text').waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#address-text').textContent(), MINER);
    await page.fill('#search-input', 'no-such-thing');
    await page.press('#search-input', 'Enter');
    await page.locator('#search-error').waitFor({ timeout: WAIT });

    await page.goto(`${node.origin}/#/network`);
    await page.locator('#peers').getByText('No peers connected.').waitFor({ timeout: WAIT });
    assert.deepEqual(page.errors, [], 'no script errors in the page');
    await page.context().close();
  });

  test('without a WebSocket the page polls and still updates', async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => { window.cheeseForcePolling = true; });
    const page = await context.newPage();
    await page.goto(`${node.url.replace('#token=', '#/explorer&token=')}`);
    await page.locator('#topbar').waitFor({ state: 'visible', timeout: WAIT });
    await page.locator('#live-badge[data-mode="polling"]').waitFor({ timeout: WAIT });
    await page.goto(`${node.origin}/#/explorer`);
    const height = await node.rpc('getblockcount');
    await page.locator(`#latest-blocks tr[data-height="${height}"]`).waitFor({ timeout: WAIT });
    await node.rpc('generatetoaddress', [1, MINER]);
    await page.locator(`#latest-blocks tr[data-height="${height + 1}"]`).waitFor({ timeout: WAIT });
    await context.close();
  });

  test('a phone-sized screen shows the explorer without horizontal scrolling', async () => {
    const page = await openLoggedIn(browser, node, { width: 390, height: 844 });
    await page.goto(`${node.origin}/#/explorer`);
    await page.locator('#latest-blocks tr[data-height]').first().waitFor({ timeout: WAIT });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page is ${overflow} px wider than the screen`);
    await shot(page, 'phone-explorer');
    await page.context().close();
  });
});
