// The wallet: create (recovery phrase shown once, then confirmed), restore, load/unload,
// encrypt/unlock/lock, addresses, balances, send with a confirmation step, history.
import { getWallet, rpc, RpcError, setWallet } from './rpc.js';
import { checkUserAmount, chz, chzNum, formatCrumbs } from './amount.js';
import {
  addressLink, ago, busy, card, clear, copyButton, debounce, describeError, field, fields, fmtTime, h, messageSlot,
  short, table, txLink,
} from './ui.js';

const HISTORY_ROWS = 50;
const CONFIRM_WORDS = 3;

// Shows the wallet page again, also when it is already the current route.
function showWalletPage() {
  if (location.hash === '#/wallet') window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = '#/wallet';
}

// The wallets loaded now, or null when this node has no wallet RPCs.
async function loadedWallets() {
  try {
    return await rpc('listwallets', [], { wallet: '' });
  } catch (e) {
    if (e instanceof RpcError && e.code === -32601) return null;
    throw e;
  }
}

function noWalletSupport(el) {
  clear(el, h('h1', {}, 'Wallet'),
    card(null, h('p', {}, 'This cheesed has no wallet support (its wallet commands are missing). The explorer and mining with an explicit address work.')));
}

export async function render(el, ctx) {
  clear(el, h('p', { class: 'muted' }, 'Loading…'));
  const wallets = await loadedWallets();
  if (wallets === null) { noWalletSupport(el); return; }
  if (wallets.length === 0) { setWallet(''); await renderSetup(el, ctx, true); return; }
  let name = getWallet();
  if (!wallets.includes(name)) { name = wallets[0]; setWallet(name); }
  await renderWallet(el, ctx, name, wallets);
}

// ---- create / restore / load ------------------------------------------------------------------

export async function renderSetup(el, ctx, none = false) {
  const wallets = await loadedWallets();
  if (wallets === null) { noWalletSupport(el); return; }
  let onDisk = [];
  try {
    const dir = await rpc('listwalletdir', [], { wallet: '' });
    onDisk = dir.wallets.map((w) => w.name).filter((n) => !wallets.includes(n));
  } catch (e) { /* loading is then offered without a list */ }

  clear(el,
    h('h1', {}, none ? 'Wallet' : 'Add a wallet'),
    none ? h('p', { class: 'muted' }, 'No wallet is loaded. Create a new one, restore one from its recovery phrase, or load one from the data directory.') : null,
    h('div', { class: 'grid' }, createCard(el, ctx), restoreCard(el, ctx), loadCard(el, ctx, onDisk)),
    wallets.length ? h('p', {}, h('a', { href: '#/wallet' }, '← Back to the wallet')) : null);
}

function passphraseInputs(prefix) {
  const pass = h('input', { id: `${prefix}-passphrase`, type: 'password', autocomplete: 'new-password' });
  const again = h('input', { id: `${prefix}-passphrase2`, type: 'password', autocomplete: 'new-password' });
  return { pass, again };
}

function checkPassphrases(pass, again) {
  if (pass.value !== again.value) throw new Error('The two passphrases differ.');
  return pass.value;
}

function createCard(root, ctx) {
  const name = h('input', { id: 'create-name', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. main' });
  const { pass, again } = passphraseInputs('create');
  const button = h('button', { type: 'submit', id: 'create-button' }, 'Create wallet');
  const slot = messageSlot();
  const form = h('form', { id: 'create-form' },
    field('Name', name),
    field('Passphrase (optional, encrypts the wallet)', pass),
    field('Passphrase again', again),
    h('div', { class: 'form-actions' }, button), slot);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      const n = name.value.trim();
      if (!n) throw new Error('Give the wallet a name.');
      const p = checkPassphrases(pass, again);
      const r = await rpc('createwallet', p ? [n, p] : [n], { wallet: '' });
      pass.value = ''; again.value = '';
      showPhrase(root, ctx, r);
    });
  });
  return card('Create a new wallet', form);
}

// Shows the recovery phrase once, then asks for some of its words before going on.
function showPhrase(root, ctx, created) {
  const words = created.mnemonic.trim().split(/\s+/);
  const next = h('button', { type: 'button', id: 'phrase-written' }, 'I have written it down');
  clear(root,
    h('h1', {}, `Wallet "${created.name}" created`),
    card('Recovery phrase',
      h('div', { class: 'message warn' },
        'Write these words down on paper, in order, and keep them safe. They are the only way to restore this wallet ',
        'and its coins if this computer or the wallet file is lost. Anyone who has them can spend the coins. ',
        'They are shown only now.'),
      created.warning ? h('div', { class: 'message warn' }, created.warning) : null,
      h('ol', { class: 'words', id: 'phrase-words' }, words.map((w) => h('li', {}, w))),
      h('div', { class: 'form-actions' }, next)));
  next.addEventListener('click', () => confirmPhrase(root, ctx, created, words));
}

function pickPositions(n, k) {
  const picked = new Set();
  const rnd = new Uint32Array(1);
  while (picked.size < Math.min(k, n)) {
    crypto.getRandomValues(rnd);
    picked.add(rnd[0] % n);
  }
  return [...picked].sort((a, b) => a - b);
}

function confirmPhrase(root, ctx, created, words) {
  const positions = pickPositions(words.length, CONFIRM_WORDS);
  const inputs = positions.map((p) => h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', dataset: { position: p + 1 } }));
  const button = h('button', { type: 'submit', id: 'confirm-phrase-button' }, 'Confirm');
  const back = h('button', { type: 'button', class: 'secondary' }, 'Show the phrase again');
  const slot = messageSlot();
  const form = h('form', { id: 'confirm-phrase-form' },
    h('p', {}, 'To be sure the phrase is written down correctly, type these words of it.'),
    positions.map((p, i) => field(`Word #${p + 1}`, inputs[i])),
    h('div', { class: 'form-actions' }, button, back), slot);
  back.addEventListener('click', () => showPhrase(root, ctx, created));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (let i = 0; i < positions.length; i += 1) {
      if (inputs[i].value.trim().toLowerCase() !== words[positions[i]]) {
        slot.error(new Error(`Word #${positions[i] + 1} does not match. Check your written copy, or show the phrase again.`));
        return;
      }
    }
    setWallet(created.name);
    showWalletPage();
  });
  clear(root, h('h1', {}, 'Confirm the recovery phrase'), card(null, form));
  inputs[0].focus();
}

function restoreCard() {
  const name = h('input', { id: 'restore-name', type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const phrase = h('textarea', { id: 'restore-mnemonic', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: '24 words separated by spaces' });
  const { pass, again } = passphraseInputs('restore');
  const button = h('button', { type: 'submit', id: 'restore-button' }, 'Restore wallet');
  const slot = messageSlot();
  const form = h('form', { id: 'restore-form' },
    field('Name', name), field('Recovery phrase', phrase),
    field('New passphrase (optional)', pass), field('Passphrase again', again),
    h('div', { class: 'form-actions' }, button), slot);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      const n = name.value.trim();
      if (!n) throw new Error('Give the wallet a name.');
      const words = phrase.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      if (words.length !== 24 && words.length !== 12) throw new Error(`A recovery phrase has 24 words; this has ${words.length}.`);
      const p = checkPassphrases(pass, again);
      button.textContent = 'Restoring (scanning the chain)…';
      try {
        await rpc('restorewallet', p ? [n, words.join(' '), p] : [n, words.join(' ')], { wallet: '' });
      } finally {
        button.textContent = 'Restore wallet';
      }
      phrase.value = ''; pass.value = ''; again.value = '';
      setWallet(n);
      showWalletPage();
    });
  });
  return card('Restore from a recovery phrase', form);
}

function loadCard(root, ctx, onDisk) {
  const slot = messageSlot();
  if (onDisk.length === 0) {
    return card('Load a wallet', h('p', { class: 'muted' }, 'No other wallet in the data directory.'), slot);
  }
  const select = h('select', { id: 'load-name' }, onDisk.map((n) => h('option', { value: n }, n)));
  const button = h('button', { type: 'submit', id: 'load-button' }, 'Load');
  const form = h('form', { id: 'load-form' }, field('Wallet in the data directory', select), h('div', { class: 'form-actions' }, button), slot);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      await rpc('loadwallet', [select.value], { wallet: '' });
      setWallet(select.value);
      showWalletPage();
    });
  });
  return card('Load a wallet', form);
}

// ---- the wallet -------------------------------------------------------------------------------

async function renderWallet(el, ctx, name, wallets) {
  const opts = { wallet: name };
  const call = (method, params = []) => rpc(method, params, opts);

  const picker = wallets.length > 1
    ? h('select', { id: 'wallet-select', 'aria-label': 'Wallet' }, wallets.map((w) => h('option', { value: w, selected: w === name }, w)))
    : null;
  if (picker) picker.addEventListener('change', () => { setWallet(picker.value); showWalletPage(); });

  const lockBadge = h('span', { class: 'badge', id: 'lock-badge' });
  const unloadButton = h('button', { type: 'button', class: 'secondary', id: 'unload-button' }, 'Unload');
  const topSlot = messageSlot();
  unloadButton.addEventListener('click', () => busy(unloadButton, topSlot, async () => {
    await rpc('unloadwallet', [name], { wallet: '' });
    setWallet('');
    showWalletPage();
  }));

  const balances = h('div', { class: 'balances', id: 'balances' });
  const security = h('div', { id: 'security' });
  const addresses = h('div', { id: 'addresses' });
  const history = h('div', { id: 'history' });
  const historySlot = messageSlot();
  const balanceSlot = messageSlot();
  const scanNote = h('p', { class: 'muted', id: 'scan-note' });

  clear(el,
    h('div', { class: 'row spread' },
      h('h1', {}, 'Wallet ', h('span', { id: 'wallet-name' }, name), ' ', lockBadge),
      h('div', { class: 'row' }, picker, h('a', { href: '#/wallet/new', class: 'badge' }, '+ Add wallet'), unloadButton)),
    topSlot,
    h('div', { class: 'stack' },
      h('section', { class: 'card' }, h('h2', {}, 'Balance'), balances, scanNote, balanceSlot),
      h('div', { class: 'grid' }, sendCard(call, () => refreshAll()), receiveCard(call, addresses, () => refreshAddresses())),
      h('section', { class: 'card' }, h('h2', {}, 'Transactions'), history, historySlot),
      h('section', { class: 'card' }, h('h2', {}, 'Security'), security)));

  let info = null;
  let unlockTimer = null;
  let scanTimer = null;
  ctx.onDispose(() => { clearInterval(unlockTimer); clearTimeout(scanTimer); });

  async function refreshInfo() {
    await busy(null, balanceSlot, async () => {
      info = await call('getwalletinfo');
      clear(balances,
        h('div', { class: 'balance main' }, h('div', { class: 'label' }, 'Confirmed'), h('div', { class: 'value', id: 'balance-confirmed' }, chz(info.balance))),
        h('div', { class: 'balance' }, h('div', { class: 'label' }, 'Pending'), h('div', { class: 'value', id: 'balance-pending' }, chz(info.unconfirmed_balance))),
        h('div', { class: 'balance' }, h('div', { class: 'label' }, 'Immature (mining rewards)'), h('div', { class: 'value', id: 'balance-immature' }, chz(info.immature_balance))));
      // A chain scan (a restored wallet, or one loaded far behind) goes on in the node: say so
      // and look again in a second; everything is refreshed once it is done.
      clearTimeout(scanTimer);
      if (info.scanning) {
        scanNote.textContent = `Scanning the chain for this wallet's transactions: ${Math.floor(Number(info.scanning.progress) * 100)} % done. Balances and history are incomplete until then.`;
        scanTimer = setTimeout(() => refreshInfo().then(() => { if (!info.scanning) refreshAll(); }), 1000);
      } else {
        scanNote.textContent = '';
      }
      drawSecurity();
    });
  }

  function drawSecurity() {
    clearInterval(unlockTimer);
    if (!info.encrypted) {
      lockBadge.textContent = 'not encrypted';
      lockBadge.className = 'badge locked';
      clear(security, encryptForm(call, refreshInfo));
      return;
    }
    const until = Number(info.unlocked_until) || 0;
    const left = () => Math.max(0, Math.round(until - Date.now() / 1000));
    if (until === 0 || left() === 0) {
      lockBadge.textContent = 'locked';
      lockBadge.className = 'badge locked';
      clear(security, unlockForm(call, refreshInfo), changePassphraseForm(call));
      return;
    }
    lockBadge.textContent = 'unlocked';
    lockBadge.className = 'badge live';
    const text = h('span', { id: 'unlock-left' }, `Unlocked for ${left()} s more.`);
    const lockButton = h('button', { type: 'button', id: 'lock-button' }, 'Lock now');
    const slot = messageSlot();
    lockButton.addEventListener('click', () => busy(lockButton, slot, async () => { await call('walletlock'); await refreshInfo(); }));
    clear(security, h('div', { class: 'row' }, text, lockButton), slot, changePassphraseForm(call));
    unlockTimer = setInterval(() => {
      if (left() === 0) { refreshInfo(); return; }
      text.textContent = `Unlocked for ${left()} s more.`;
    }, 1000);
  }

  async function refreshAddresses() {
    const list = await call('listaddresses');
    clear(addresses, table(['Address', 'Label', { text: 'Balance (CHZ)', attrs: { class: 'num' } }],
      list.map((a) => h('tr', {},
        h('td', {}, h('span', { class: 'mono address' }, a.address), ' ', copyButton(a.address)),
        h('td', {}, a.label || ''),
        h('td', { class: 'num' }, addressLink(a.address, chzNum(a.balance))))),
      'No address yet.'));
  }

  async function refreshHistory() {
    await busy(null, historySlot, async () => {
      const txs = await call('listtransactions', [HISTORY_ROWS, 0]);
      txs.sort((a, b) => (Number(b.time) - Number(a.time)) || (Number(a.confirmations) - Number(b.confirmations)));
      clear(history, table(['When', 'Kind', 'Address', { text: 'Amount (CHZ)', attrs: { class: 'num' } },
        { text: 'Fee', attrs: { class: 'num hide-narrow' } }, { text: 'Conf.', attrs: { class: 'num' } }, 'Txid'],
      txs.map((t) => {
        const amount = String(t.amount);
        return h('tr', {},
          h('td', { title: fmtTime(t.time) }, ago(t.time)),
          h('td', {}, h('span', { class: `pill ${t.category}` }, t.category)),
          h('td', {}, addressLink(t.address)),
          h('td', { class: `num ${amount.startsWith('-') ? 'neg' : 'pos'}` }, chzNum(amount)),
          h('td', { class: 'num hide-narrow' }, t.fee !== undefined ? chzNum(t.fee) : ''),
          h('td', { class: 'num' }, String(t.confirmations)),
          h('td', {}, txLink(t.txid)));
      }), 'No transactions yet. Mine a block or receive CHZ at one of the addresses.'));
    });
  }

  async function refreshAll() {
    await Promise.all([refreshInfo(), refreshAddresses().catch((e) => historySlot.error(e)), refreshHistory()]);
  }

  const refreshLater = debounce(refreshAll, 250);
  ctx.onLive((ev) => { if (['tip', 'tx', 'mempool', 'reconnected'].includes(ev.type)) refreshLater(); });
  await refreshAll();
}

function encryptForm(call, after) {
  const { pass, again } = passphraseInputs('encrypt');
  const button = h('button', { type: 'submit', id: 'encrypt-button' }, 'Encrypt wallet');
  const slot = messageSlot();
  const form = h('form', { id: 'encrypt-form' },
    h('p', { class: 'muted' }, 'This wallet is not encrypted: anyone who can read its file can spend its coins. A passphrase protects the keys; it is then needed to send.'),
    h('div', { class: 'inline-form' }, field('New passphrase', pass), field('Passphrase again', again), h('div', {}, button)), slot);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      const p = checkPassphrases(pass, again);
      if (!p) throw new Error('Enter a passphrase.');
      await call('encryptwallet', [p]);
      pass.value = ''; again.value = '';
      await after();
    });
  });
  return form;
}

function unlockForm(call, after) {
  const pass = h('input', { id: 'unlock-passphrase', type: 'password', autocomplete: 'current-password' });
  const timeout = h('input', { id: 'unlock-timeout', type: 'number', min: 1, max: 86400, value: '300' });
  const button = h('button', { type: 'submit', id: 'unlock-button' }, 'Unlock');
  const slot = messageSlot();
  const form = h('form', { id: 'unlock-form' },
    h('p', { class: 'muted' }, 'The wallet is locked: unlock it to send.'),
    h('div', { class: 'inline-form' }, field('Passphrase', pass), field('For (seconds)', timeout), h('div', {}, button)), slot);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      const secs = Number(timeout.value);
      if (!Number.isInteger(secs) || secs < 1) throw new Error('Unlock for a whole number of seconds.');
      await call('walletpassphrase', [pass.value, secs]);
      pass.value = '';
      await after();
    });
  });
  return form;
}

function changePassphraseForm(call) {
  const old = h('input', { type: 'password', autocomplete: 'current-password' });
  const { pass, again } = passphraseInputs('change');
  const button = h('button', { type: 'submit' }, 'Change passphrase');
  const slot = messageSlot();
  const form = h('form', {}, h('div', { class: 'inline-form' }, field('Current passphrase', old), field('New passphrase', pass), field('Again', again), h('div', {}, button)), slot);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      const p = checkPassphrases(pass, again);
      if (!p) throw new Error('Enter the new passphrase.');
      await call('walletpassphrasechange', [old.value, p]);
      old.value = ''; pass.value = ''; again.value = '';
      slot.ok('Passphrase changed.');
    });
  });
  return h('details', {}, h('summary', {}, 'Change the passphrase'), form);
}

function receiveCard(call, addresses, refresh) {
  const label = h('input', { id: 'new-address-label', type: 'text', placeholder: 'label (optional)', autocomplete: 'off' });
  const button = h('button', { type: 'submit', id: 'new-address-button' }, 'New address');
  const slot = messageSlot();
  const form = h('form', { id: 'new-address-form', class: 'inline-form' }, h('div', {}, label), h('div', {}, button));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(button, slot, async () => {
      const a = await call('getnewaddress', label.value.trim() ? [label.value.trim()] : []);
      label.value = '';
      slot.ok('New address: ', h('span', { class: 'mono', id: 'new-address' }, a), ' ', copyButton(a));
      await refresh();
    });
  });
  return card('Receive', h('p', { class: 'muted' }, 'Give one of these addresses to the payer.'), addresses, form, slot);
}

function sendCard(call, after) {
  const address = h('input', { id: 'send-address', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'rchz1… / chz1…' });
  const amount = h('input', { id: 'send-amount', type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.5' });
  const fee = h('input', { id: 'send-fee', type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: 'default' });
  const review = h('button', { type: 'submit', id: 'send-review' }, 'Review');
  const slot = messageSlot();
  slot.id = 'send-message';
  const confirmArea = h('div', { id: 'send-confirm-area' });
  const form = h('form', { id: 'send-form' },
    field('Pay to address', address),
    h('div', { class: 'inline-form' }, field('Amount (CHZ)', amount), field('Fee (CHZ, optional)', fee)),
    h('div', { class: 'form-actions' }, review), confirmArea, slot);

  const editable = (on) => { for (const i of [address, amount, fee]) i.readOnly = !on; review.disabled = !on; };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    confirmArea.replaceChildren();
    busy(review, slot, async () => {
      const to = address.value.trim();
      if (!to) throw new Error('Enter the address to pay.');
      const crumbs = checkUserAmount(amount.value, 'Amount');
      if (crumbs === 0n) throw new Error('Amount: send more than 0 CHZ.');
      const feeText = fee.value.trim();
      const feeCrumbs = feeText === '' ? null : checkUserAmount(feeText, 'Fee');
      const v = await rpc('validateaddress', [to], { wallet: '' });
      if (!v.isvalid) {
        const why = v.error === 'bad-checksum' ? 'the checksum does not match (a typo?)' : v.error;
        throw new RpcError(-5, `${to.length > 30 ? short(to, 14) : to}: ${why}`);
      }
      const confirm = h('button', { type: 'button', id: 'send-confirm' }, 'Send now');
      const cancel = h('button', { type: 'button', class: 'secondary', id: 'send-cancel' }, 'Cancel');
      clear(confirmArea, h('div', { class: 'confirm-box', id: 'send-confirm-box' },
        h('p', { class: 'big' }, `Send ${formatCrumbs(crumbs)} CHZ`),
        h('p', {}, 'to ', h('span', { class: 'mono' }, v.address)),
        h('p', {}, feeCrumbs === null ? 'with the node\'s default fee' : `with a fee of ${formatCrumbs(feeCrumbs)} CHZ (total ${formatCrumbs(crumbs + feeCrumbs)} CHZ)`),
        h('p', { class: 'muted' }, 'A payment cannot be undone once it is in a block.'),
        h('div', { class: 'form-actions' }, confirm, cancel)));
      editable(false);
      cancel.addEventListener('click', () => { confirmArea.replaceChildren(); editable(true); });
      confirm.addEventListener('click', () => busy(confirm, slot, async () => {
        cancel.disabled = true;
        try {
          const params = [v.address, formatCrumbs(crumbs, false)];
          if (feeCrumbs !== null) params.push(formatCrumbs(feeCrumbs, false));
          const r = await call('send', params);
          confirmArea.replaceChildren();
          address.value = ''; amount.value = ''; fee.value = '';
          slot.ok(`Sent ${chz(r.amount)} (fee ${chz(r.fee)}). Transaction `, txLink(r.txid), ' is waiting for a block.');
          await after();
        } catch (e) {
          confirmArea.replaceChildren();
          throw e;
        } finally {
          editable(true);
        }
      }));
    }).then(() => { if (confirmArea.firstChild) review.disabled = true; else editable(true); });
  });
  return card('Send', form);
}
