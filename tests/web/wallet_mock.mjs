// A stand-in for the node's wallet RPCs, answered inside the browser (page.route), so the
// wallet pages can be exercised and photographed against a node that has no wallet yet.
// Everything else (validateaddress, chain methods) goes to the real node.

const WORDS = ('ridge cheddar anchor vault meadow sunny planet orbit velvet canvas harbor fossil '
  + 'lunar pepper quarry rescue silent timber useful wander yellow zebra gadget brave').split(' ');

const fmt = (crumbs) => {
  const neg = crumbs < 0n;
  const a = neg ? -crumbs : crumbs;
  return `${neg ? '-' : ''}${a / 100000000n}.${(a % 100000000n).toString().padStart(8, '0')}`;
};
const crumbs = (text) => {
  const [w, f = ''] = String(text).split('.');
  return BigInt(w) * 100000000n + BigInt(f.padEnd(8, '0'));
};

export const MOCK_METHODS = new Set(['listwallets', 'listwalletdir', 'createwallet', 'restorewallet', 'loadwallet',
  'unloadwallet', 'getwalletinfo', 'getnewaddress', 'listaddresses', 'getbalance', 'getbalances', 'listtransactions',
  'send', 'encryptwallet', 'walletpassphrase', 'walletlock', 'walletpassphrasechange']);

export function createWalletMock(address) {
  const now = Math.floor(Date.now() / 1000);
  const s = {
    loaded: [], onDisk: ['savings'], encrypted: false, passphrase: '', unlockedUntil: 0,
    balance: 150n * 100000000n, pending: 0n, immature: 100n * 100000000n,
    addresses: [{ address, index: 0, label: 'mining', balance: '150.00000000', nonce: 0 }],
    txs: [
      { address, category: 'generate', amount: '50.00000000', confirmations: 12, blockhash: '00'.repeat(32), blockheight: 1, txid: 'a1'.repeat(32), time: now - 900 },
      { address, category: 'generate', amount: '50.00000000', confirmations: 11, blockhash: '00'.repeat(32), blockheight: 2, txid: 'b2'.repeat(32), time: now - 840 },
      { address, category: 'immature', amount: '50.00000000', confirmations: 3, blockhash: '00'.repeat(32), blockheight: 10, txid: 'c3'.repeat(32), time: now - 120 },
    ],
  };
  const handlers = {
    listwallets: () => s.loaded,
    listwalletdir: () => ({ wallets: [...s.loaded, ...s.onDisk].map((name) => ({ name })) }),
    createwallet: ([name, pass]) => {
      s.loaded.push(name);
      if (pass) { s.encrypted = true; s.passphrase = pass; }
      return { name, mnemonic: WORDS.join(' '), encrypted: !!pass, warning: '' };
    },
    restorewallet: ([name]) => { s.loaded.push(name); return { name, warning: '' }; },
    loadwallet: ([name]) => { s.loaded.push(name); s.onDisk = s.onDisk.filter((n) => n !== name); return { name, warning: '' }; },
    unloadwallet: ([name]) => { s.loaded = s.loaded.filter((n) => n !== name); s.onDisk.push(name); return { warning: '' }; },
    getwalletinfo: () => ({
      walletname: s.loaded[0], encrypted: s.encrypted, ...(s.encrypted ? { unlocked_until: s.unlockedUntil } : {}),
      balance: fmt(s.balance), unconfirmed_balance: fmt(s.pending), immature_balance: fmt(s.immature),
      txcount: s.txs.length, keypoolsize: 1, network: 'regtest',
    }),
    getnewaddress: ([label]) => {
      const a = address;
      s.addresses.push({ address: a, index: s.addresses.length, label: label || '', balance: '0.00000000', nonce: 0 });
      return a;
    },
    listaddresses: () => s.addresses,
    getbalance: () => fmt(s.balance),
    getbalances: () => ({ mine: { trusted: fmt(s.balance), untrusted_pending: fmt(s.pending), immature: fmt(s.immature) } }),
    listtransactions: () => s.txs,
    send: ([to, amount, fee = '0.00010000']) => {
      if (s.encrypted && s.unlockedUntil < Date.now() / 1000) throw { code: -13, message: 'Error: Please enter the wallet passphrase with walletpassphrase first.' };
      const total = crumbs(amount) + crumbs(fee);
      if (total > s.balance) throw { code: -6, message: `Insufficient funds: balance ${fmt(s.balance)} CHZ, need ${fmt(total)} CHZ` };
      s.balance -= total;
      const txid = 'd4'.repeat(32);
      s.txs.push({ address: to, category: 'send', amount: `-${fmt(crumbs(amount))}`, fee: `-${fmt(crumbs(fee))}`, confirmations: 0, txid, time: Math.floor(Date.now() / 1000) });
      return { txid, txids: [txid], amount: fmt(crumbs(amount)), fee: fmt(crumbs(fee)) };
    },
    encryptwallet: ([pass]) => { s.encrypted = true; s.passphrase = pass; s.unlockedUntil = 0; return 'wallet encrypted'; },
    walletpassphrase: ([pass, secs]) => {
      if (pass !== s.passphrase) throw { code: -14, message: 'Error: The wallet passphrase entered was incorrect.' };
      s.unlockedUntil = Math.floor(Date.now() / 1000) + secs;
      return null;
    },
    walletlock: () => { s.unlockedUntil = 0; return null; },
    walletpassphrasechange: () => null,
  };

  return async (route) => {
    const req = route.request();
    if (req.method() !== 'POST') return route.continue();
    let body;
    try { body = JSON.parse(req.postData() || ''); } catch (e) { return route.continue(); }
    if (Array.isArray(body) || !MOCK_METHODS.has(body.method)) return route.continue();
    let reply;
    try {
      reply = { jsonrpc: '2.0', id: body.id, result: handlers[body.method](body.params || []) };
    } catch (e) {
      reply = { jsonrpc: '2.0', id: body.id, error: { code: e.code ?? -4, message: e.message ?? String(e) } };
    }
    // Amounts go out as JSON numbers with 8 decimals, as the node writes them.
    const text = JSON.stringify(reply).replace(/"(-?\d+\.\d{8})"/g, '$1');
    return route.fulfill({ status: 200, contentType: 'application/json', body: text });
  };
}
