// Browser tests of the web UI served by cheesed: Debian's Chromium, driven by playwright-core.
// Run by ctest (tests/CMakeLists.txt) as `node --test webui.test.mjs --build-dir <build>`.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheeseNode, launchBrowser, screenshotDir, waitFor } from './harness.mjs';
import { createWalletMock } from './wallet_mock.mjs';

// A valid regtest address (docs/rpc.md), for mining without a wallet.
const MINER = 'rchz190vqdjtlpcq27xslcveglfmr4ynfwg7gmw86cnun4acakxrdd6gqgvldna';
// The same with one character changed: the bech32m checksum catches it.
const TYPO = 'rchz190vqdjtlpcq27xslcveglfmr4ynfwg7gmw86cnun4acakxrdd6gqgvldnq';
const WAIT = 30000;  // for anything the page should show (generous: ctest runs tests in parallel)

const shots = screenshotDir();
const shot = (page, name, fullPage = false) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });

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
    // The token may call what the pages call, not `stop` (issue 18).
    const stop = await fetch(`${node.origin}/`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${node.token}` },
      body: '{"jsonrpc":"2.0","id":1,"method":"stop"}',
    });
    assert.equal(stop.status, 403);
    assert.equal((await stop.json()).error.code, -32601);
    assert.equal(await node.rpc('getblockcount') >= 0, true, 'the node is still up');
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

  test('wallet pages against stand-in wallet RPCs: create and confirm the phrase, send with review, errors', async () => {
    const page = await openLoggedIn(browser, node);
    await page.route('**/*', createWalletMock(MINER));
    await page.goto(`${node.origin}/#/explorer`);
    await page.goto(`${node.origin}/#/wallet`);
    await createWalletInPage(page, 'alice');
    await page.locator('#balance-confirmed').getByText('150.00000000 CHZ').waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#balance-immature').textContent(), '100.00000000 CHZ');
    await page.locator('#addresses .copy').first().waitFor({ timeout: WAIT });
    await shot(page, 'wallet', true);

    // A typo in the address is caught before anything is sent.
    await sendInPage(page, TYPO, '1', '');
    await page.locator('#send-message').getByText(/Invalid address/).waitFor({ timeout: WAIT });
    assert.match(await page.locator('#send-message').textContent(), /checksum/);
    // More than the balance: the node's insufficient-funds error, readable, next to the form.
    await sendInPage(page, MINER, '1000', '0.001');
    await page.click('#send-confirm');
    await page.locator('#send-message').getByText(/Insufficient funds/).waitFor({ timeout: WAIT });
    // A good payment: review, then confirm.
    await sendInPage(page, MINER, '1.5', '0.001');
    const box = await page.locator('#send-confirm-box').textContent();
    assert.match(box, /Send 1\.50000000 CHZ/);
    assert.match(box, /total 1\.50100000 CHZ/);
    await shot(page, 'wallet-send-confirm');
    await page.click('#send-confirm');
    await page.locator('#send-message').getByText(/Sent 1\.50000000 CHZ/).waitFor({ timeout: WAIT });
    await page.locator('#balance-confirmed').getByText('148.49900000 CHZ').waitFor({ timeout: WAIT });

    // Encrypt, then a send needs the passphrase; a wrong one is said to be wrong.
    await page.fill('#encrypt-passphrase', 'correct horse');
    await page.fill('#encrypt-passphrase2', 'correct horse');
    await page.click('#encrypt-button');
    await page.locator('#lock-badge').getByText('locked').waitFor({ timeout: WAIT });
    await sendInPage(page, MINER, '1', '');
    await page.click('#send-confirm');
    await page.locator('#send-message').getByText(/wallet is locked/).waitFor({ timeout: WAIT });
    await page.fill('#unlock-passphrase', 'wrong');
    await page.click('#unlock-button');
    await page.locator('#unlock-form').getByText(/Wrong passphrase/).waitFor({ timeout: WAIT });
    await page.fill('#unlock-passphrase', 'correct horse');
    await page.click('#unlock-button');
    await page.locator('#lock-badge').getByText('unlocked').waitFor({ timeout: WAIT });
    assert.deepEqual(page.errors, [], 'no script errors in the page');

    const phone = await openLoggedIn(browser, node, { width: 390, height: 844 });
    await phone.route('**/*', createWalletMock(MINER));
    await phone.evaluate(() => sessionStorage.setItem('cheese.wallet', ''));
    await phone.goto(`${node.origin}/#/wallet/new`);
    await phone.locator('#create-form').waitFor({ timeout: WAIT });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `wallet set-up page is ${overflow} px wider than the phone screen`);
    await shot(phone, 'phone-wallet-setup');
    await page.context().close();
    await phone.context().close();
  });

  test('wallet scenario with two nodes (needs the wallet RPCs)', async (t) => {
    if (!(await node.hasMethod('createwallet'))) {
      console.log('\n*** SKIPPED: wallet scenario: this cheesed has no createwallet RPC yet ***\n');
      t.skip('cheesed has no wallet RPCs yet');
      return;
    }
    const a = await new CheeseNode(1, { listen: true }).start();
    const b = await new CheeseNode(2, { extraArgs: [] }).start();
    try {
      await b.rpc('addnode', [`127.0.0.1:${a.p2pPort}`, 'add']);
      await waitFor(async () => (await a.rpc('getconnectioncount')) > 0, 'the two nodes to connect', WAIT);
      const pa = await openLoggedIn(browser, a);
      const pb = await openLoggedIn(browser, b);

      // Both create a wallet, confirming the recovery phrase.
      await pa.goto(`${a.origin}/#/wallet`);
      // (No screenshot of a real phrase: the committed one shows stand-in words.)
      const aliceWords = await createWalletInPage(pa, 'alice', false);
      await pb.goto(`${b.origin}/#/wallet`);
      await createWalletInPage(pb, 'bob', false);
      await pb.locator('#addresses table, #addresses .empty').first().waitFor({ timeout: WAIT });
      if (await pb.locator('#addresses .address').count() === 0) {
        await pb.click('#new-address-button');
        await pb.locator('#new-address').waitFor({ timeout: WAIT });
      }
      const bobAddress = (await pb.locator('#addresses .address').first().textContent()).trim();

      // Alice mines (to her wallet) and sees the reward immature, then mature.
      await pa.goto(`${a.origin}/#/mining`);
      await pa.fill('#mine-count', '1');
      await pa.click('#mine-button');
      await pa.locator('#mine-message').getByText(/Mined 1 block/).waitFor({ timeout: WAIT });
      await pa.goto(`${a.origin}/#/wallet`);
      await pa.locator('#balance-immature').getByText('50.00000000 CHZ').waitFor({ timeout: WAIT });
      assert.equal(await pa.locator('#balance-confirmed').textContent(), '0.00000000 CHZ');
      await pa.goto(`${a.origin}/#/mining`);
      await pa.fill('#mine-count', '11');
      await pa.click('#mine-button');
      await pa.locator('#mine-message').getByText(/Mined 11 blocks/).waitFor({ timeout: WAIT });
      await pa.goto(`${a.origin}/#/wallet`);
      await waitFor(async () => (await pa.locator('#balance-confirmed').textContent()) !== '0.00000000 CHZ',
        'the first reward to mature', WAIT);
      const aliceBefore = await pa.locator('#balance-confirmed').textContent();
      await shot(pa, 'wallet', true);

      // Errors next to the send form.
      await sendInPage(pa, bobAddress.slice(0, -1) + (bobAddress.endsWith('q') ? 'p' : 'q'), '1', '');
      await pa.locator('#send-message').getByText(/Invalid address/).waitFor({ timeout: WAIT });
      await sendInPage(pa, bobAddress, '1000000', '');
      await pa.click('#send-confirm');
      await pa.locator('#send-message').getByText(/Insufficient funds/).waitFor({ timeout: WAIT });

      // Bob watches the explorer; Alice pays him.
      await waitFor(async () => (await b.rpc('getblockcount')) === (await a.rpc('getblockcount')), 'bob to sync', WAIT);
      await pb.goto(`${b.origin}/#/explorer`);
      await pb.locator('#mempool').waitFor({ timeout: WAIT });
      await sendInPage(pa, bobAddress, '1.5', '0.001');
      await pa.click('#send-confirm');
      await pa.locator('#send-message').getByText(/Sent 1\.50000000 CHZ/).waitFor({ timeout: WAIT });
      const txid = (await pa.locator('#send-message a').first().getAttribute('href')).replace('#/tx/', '');
      // The transaction reaches Bob's node and his open page shows it without a reload.
      await pb.locator(`#mempool tr[data-txid="${txid}"]`).waitFor({ timeout: WAIT });
      await shot(pb, 'explorer-mempool');

      // Alice mines it; both balances change; the explorer shows the block with the transaction.
      await pa.goto(`${a.origin}/#/mining`);
      await pa.fill('#mine-count', '1');
      await pa.click('#mine-button');
      await pa.locator('#mine-message').getByText(/Mined 1 block/).waitFor({ timeout: WAIT });
      await pb.goto(`${b.origin}/#/wallet`);
      await pb.locator('#balance-confirmed').getByText('1.50000000 CHZ').waitFor({ timeout: WAIT });
      await pa.goto(`${a.origin}/#/wallet`);
      await waitFor(async () => (await pa.locator('#balance-confirmed').textContent()) !== aliceBefore, 'alice\'s balance to change', WAIT);
      await pa.goto(`${a.origin}/#/explorer`);
      const height = await a.rpc('getblockcount');
      await pa.locator(`#latest-blocks tr[data-height="${height}"] a`).first().click();
      await pa.locator(`a[href="#/tx/${txid}"]`).waitFor({ timeout: WAIT });

      // Bob encrypts his wallet; unlocking needs the right passphrase; locking works.
      await pb.goto(`${b.origin}/#/wallet`);
      await pb.fill('#encrypt-passphrase', 'correct horse');
      await pb.fill('#encrypt-passphrase2', 'correct horse');
      await pb.click('#encrypt-button');
      await pb.locator('#lock-badge').getByText('locked', { exact: true }).waitFor({ timeout: WAIT });
      await pb.fill('#unlock-passphrase', 'wrong horse');
      await pb.click('#unlock-button');
      await pb.locator('#unlock-form').getByText(/Wrong passphrase/).waitFor({ timeout: WAIT });
      await pb.fill('#unlock-passphrase', 'correct horse');
      await pb.click('#unlock-button');
      await pb.locator('#lock-badge').getByText('unlocked').waitFor({ timeout: WAIT });
      await pb.click('#lock-button');
      await pb.locator('#lock-badge').getByText('locked', { exact: true }).waitFor({ timeout: WAIT });

      // Bob's node restores Alice's wallet from her phrase as a second wallet: it finds her coins.
      await pb.goto(`${b.origin}/#/wallet/new`);
      await pb.fill('#restore-name', 'alice-copy');
      await pb.fill('#restore-mnemonic', aliceWords.join(' '));
      await pb.click('#restore-button');
      await pb.locator('#wallet-name').getByText('alice-copy').waitFor({ timeout: WAIT });
      await pb.locator('#wallet-select').waitFor({ timeout: WAIT });
      await pa.goto(`${a.origin}/#/wallet`);
      await pa.locator('#balance-confirmed').waitFor({ timeout: WAIT });
      const aliceNow = await pa.locator('#balance-confirmed').textContent();
      await waitFor(async () => (await pb.locator('#balance-confirmed').textContent()) === aliceNow,
        'the restored wallet to show alice\'s balance', WAIT);
      assert.deepEqual(pa.errors, [], 'no script errors on alice\'s page');
      assert.deepEqual(pb.errors, [], 'no script errors on bob\'s page');
      await pa.context().close();
      await pb.context().close();
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});

// Creates a wallet on the Wallet page: reads the phrase, continues, types the words asked for.
async function createWalletInPage(page, name, screenshot = true) {
  await page.locator('#create-form').waitFor({ timeout: WAIT });
  await page.fill('#create-name', name);
  await page.click('#create-button');
  await page.locator('#phrase-words li').first().waitFor({ timeout: WAIT });
  const words = await page.locator('#phrase-words li').allTextContents();
  assert.equal(words.length, 24, 'a 24-word recovery phrase');
  if (screenshot) await shot(page, 'wallet-phrase');
  await page.click('#phrase-written');
  const inputs = page.locator('#confirm-phrase-form input');
  await inputs.first().waitFor({ timeout: WAIT });
  // A wrong word is refused with a message.
  await inputs.first().fill('wrongword');
  await page.click('#confirm-phrase-button');
  await page.locator('#confirm-phrase-form').getByText(/does not match/).waitFor({ timeout: WAIT });
  for (let i = 0; i < await inputs.count(); i += 1) {
    const position = Number(await inputs.nth(i).getAttribute('data-position'));
    await inputs.nth(i).fill(words[position - 1]);
  }
  await page.click('#confirm-phrase-button');
  await page.locator('#wallet-name').getByText(name).waitFor({ timeout: WAIT });
  return words;
}

async function sendInPage(page, to, amount, fee) {
  if (await page.locator('#send-cancel').isVisible()) await page.click('#send-cancel');
  await page.fill('#send-address', to);
  await page.fill('#send-amount', amount);
  await page.fill('#send-fee', fee);
  await page.click('#send-review');
  await Promise.race([
    page.locator('#send-confirm').waitFor({ timeout: WAIT }),
    page.locator('#send-message.error').waitFor({ timeout: WAIT }),
  ]);
}
