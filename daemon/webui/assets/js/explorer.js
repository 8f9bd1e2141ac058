// The chain explorer: latest blocks and the mempool (live), block, transaction and address
// pages, and search.
import { batchAll, rpc, RpcError } from './rpc.js';
import { chz, chzNum } from './amount.js';
import {
  addressLink, ago, blockLink, busy, card, clear, copyButton, debounce, describeError, fields, fmtTime, h, messageSlot,
  short, table, txLink,
} from './ui.js';

const LATEST_BLOCKS = 12;
const MEMPOOL_ROWS = 50;

// ---- home -----------------------------------------------------------------------------------

export async function renderHome(el, ctx) {
  const blocksBox = h('div', { id: 'latest-blocks' }, h('p', { class: 'muted' }, 'Loading…'));
  const poolBox = h('div', { id: 'mempool' }, h('p', { class: 'muted' }, 'Loading…'));
  const poolTitle = h('h2', {}, 'Open transactions (mempool)');
  const blocksSlot = messageSlot();
  const poolSlot = messageSlot();
  clear(el,
    h('h1', {}, 'Explorer'),
    h('div', { class: 'grid wide' },
      h('section', { class: 'card' }, h('h2', {}, 'Latest blocks'), blocksBox, blocksSlot),
      h('section', { class: 'card' }, poolTitle, poolBox, poolSlot)));
  const seen = new Set();
  let firstPool = true;

  async function loadBlocks() {
    await busy(null, blocksSlot, async () => {
      const height = await rpc('getblockcount');
      const heights = [];
      for (let i = height; i >= 0 && heights.length < LATEST_BLOCKS; i -= 1) heights.push(i);
      const hashes = await batchAll(heights.map((x) => ['getblockhash', [x]]));
      const headers = await batchAll(hashes.map((x) => ['getblock', [x, 1]]));
      const rows = headers.map((b) => h('tr', { dataset: { height: b.height } },
        h('td', {}, blockLink(b.hash, String(b.height))),
        h('td', {}, blockLink(b.hash)),
        h('td', { class: 'num' }, String(b.nTx)),
        h('td', { class: 'num hide-narrow' }, `${b.size} B`),
        h('td', { title: fmtTime(b.time) }, ago(b.time))));
      clear(blocksBox, table(['Height', 'Hash', { text: 'Txs', attrs: { class: 'num' } },
        { text: 'Size', attrs: { class: 'num hide-narrow' } }, 'Time'], rows));
    });
  }

  async function loadPool() {
    await busy(null, poolSlot, async () => {
      const [pool, info] = await batchAll([['getrawmempool', [true]], ['getmempoolinfo', []]]);
      const entries = Object.entries(pool).sort((a, b) => Number(b[1].time) - Number(a[1].time));
      poolTitle.textContent = `Open transactions (mempool): ${info.size}`;
      const rows = entries.slice(0, MEMPOOL_ROWS).map(([txid, e]) => {
        const fresh = !firstPool && !seen.has(txid);
        return h('tr', { class: fresh ? 'fresh' : null, dataset: { txid } },
          h('td', {}, txLink(txid)),
          h('td', {}, addressLink(e.from), ' → ', addressLink(e.to)),
          h('td', { class: 'num' }, chzNum(e.amount)),
          h('td', { class: 'num hide-narrow' }, chzNum(e.fee)),
          h('td', { class: 'hide-narrow' }, ago(e.time)));
      });
      for (const [txid] of entries) seen.add(txid);
      firstPool = false;
      clear(poolBox, table(['Txid', 'From → to', { text: 'Amount (CHZ)', attrs: { class: 'num' } },
        { text: 'Fee', attrs: { class: 'num hide-narrow' } }, { text: 'Seen', attrs: { class: 'hide-narrow' } }], rows, 'The mempool is empty: every transaction is in a block.'));
    });
  }

  const refreshBlocks = debounce(loadBlocks, 200);
  const refreshPool = debounce(loadPool, 200);
  ctx.onLive((ev) => {
    if (ev.type === 'tip' || ev.type === 'reconnected') { refreshBlocks(); refreshPool(); }
    if (ev.type === 'tx' || ev.type === 'mempool') refreshPool();
  });
  ctx.every(30000, () => loadBlocks());  // keeps the "x min ago" fresh
  await Promise.all([loadBlocks(), loadPool()]);
}

// ---- block ----------------------------------------------------------------------------------

export async function renderBlock(el, ctx, id) {
  clear(el, h('p', { class: 'muted' }, 'Loading…'));
  let hash = id;
  if (/^\d+$/.test(id)) hash = await rpc('getblockhash', [Number(id)]);
  const b = await rpc('getblock', [hash, 2]);
  const rows = b.tx.map((t) => h('tr', {},
    h('td', {}, txLink(t.txid)),
    h('td', {}, h('span', { class: 'pill' }, t.kind)),
    h('td', {}, addressLink(t.from), ' → ', addressLink(t.to)),
    h('td', { class: 'num' }, chzNum(t.amount)),
    h('td', { class: 'num hide-narrow' }, chzNum(t.fee))));
  const confirmations = h('span', {}, b.confirmations < 0 ? 'not on the active chain' : String(b.confirmations));
  clear(el,
    h('h1', {}, `Block ${b.height}`),
    h('div', { class: 'row spread' },
      h('div', {}, b.previousblockhash ? blockLink(b.previousblockhash, `← ${b.height - 1}`) : h('span', { class: 'muted' }, 'genesis')),
      h('div', {}, b.nextblockhash ? blockLink(b.nextblockhash, `${b.height + 1} →`) : h('span', { class: 'muted' }, 'tip'))),
    card(null, fields([
      ['Hash', h('span', {}, h('span', { class: 'mono', id: 'block-hash' }, b.hash), ' ', copyButton(b.hash))],
      ['Confirmations', confirmations],
      ['Time', `${fmtTime(b.time)} (${ago(b.time)})`],
      ['Transactions', String(b.nTx)],
      ['Size', `${b.size} bytes`],
      ['Difficulty', String(b.difficulty)],
      ['Bits', h('span', { class: 'mono' }, b.bits)],
      ['Nonce', String(b.nonce)],
      ['Merkle root', h('span', { class: 'mono' }, b.merkleroot)],
      ['Chain work', h('span', { class: 'mono' }, b.chainwork)],
    ])),
    card('Transactions', table(['Txid', 'Kind', 'From → to', { text: 'Amount (CHZ)', attrs: { class: 'num' } },
      { text: 'Fee', attrs: { class: 'num hide-narrow' } }], rows)));
  ctx.onLive(async (ev) => {
    if (ev.type !== 'tip') return;
    try {
      const hdr = await rpc('getblockheader', [b.hash]);
      confirmations.textContent = hdr.confirmations < 0 ? 'not on the active chain' : String(hdr.confirmations);
    } catch (e) { /* the page stays as it was */ }
  });
}

// ---- transaction ----------------------------------------------------------------------------

export async function renderTx(el, ctx, txid) {
  clear(el, h('p', { class: 'muted' }, 'Loading…'));
  async function draw() {
    const t = await rpc('getrawtransaction', [txid, true]);
    const status = t.in_mempool
      ? h('span', { class: 'pill', id: 'tx-status' }, 'in the mempool, waiting for a block')
      : h('span', { id: 'tx-status' }, `confirmed in block `, blockLink(t.blockhash, String(t.blockheight)),
        ` (${t.confirmations} confirmation${t.confirmations === 1 ? '' : 's'})`);
    clear(el,
      h('h1', {}, t.kind === 'coinbase' ? 'Coinbase transaction' : 'Transaction'),
      card(null, fields([
        ['Txid', h('span', {}, h('span', { class: 'mono' }, t.txid), ' ', copyButton(t.txid))],
        ['Status', status],
        ['From', t.from ? h('span', {}, addressLink(t.from, t.from), ' ', copyButton(t.from)) : h('span', { class: 'muted' }, `new coins (block reward for height ${t.height})`)],
        ['To', h('span', {}, addressLink(t.to, t.to), ' ', copyButton(t.to))],
        ['Amount', chz(t.amount)],
        ['Fee', chz(t.fee)],
        ['Nonce', t.nonce === undefined ? undefined : String(t.nonce)],
        ['Size', `${t.size} bytes`],
        [t.in_mempool ? 'Seen' : 'Block time', fmtTime(t.in_mempool ? t.time : t.blocktime)],
      ])),
      h('details', {}, h('summary', {}, 'Raw transaction (hex)'), h('p', { class: 'mono' }, t.hex)));
    return t;
  }
  const t = await draw();
  if (t.in_mempool || t.confirmations < 100) {
    ctx.onLive(async (ev) => {
      if (ev.type !== 'tip') return;
      try { await draw(); } catch (e) { /* keep what is shown */ }
    });
  }
}

// ---- address --------------------------------------------------------------------------------

export async function renderAddress(el, ctx, address) {
  clear(el, h('p', { class: 'muted' }, 'Loading…'));
  async function draw() {
    const [a, pool] = await batchAll([['getaccount', [address]], ['getrawmempool', [true]]]);
    const pending = Object.entries(pool).filter(([, e]) => e.from === a.address || e.to === a.address);
    const rows = pending.map(([txid, e]) => h('tr', {},
      h('td', {}, txLink(txid)),
      h('td', {}, e.from === a.address ? h('span', { class: 'pill send' }, 'out') : h('span', { class: 'pill receive' }, 'in')),
      h('td', {}, addressLink(e.from), ' → ', addressLink(e.to)),
      h('td', { class: 'num' }, chzNum(e.amount))));
    clear(el,
      h('h1', {}, 'Address'),
      h('p', {}, h('span', { class: 'mono', id: 'address-text' }, a.address), ' ', copyButton(a.address)),
      h('div', { class: 'balances' },
        h('div', { class: 'balance main' }, h('div', { class: 'label' }, 'Balance (confirmed)'), h('div', { class: 'value', id: 'address-balance' }, chz(a.balance))),
        h('div', { class: 'balance' }, h('div', { class: 'label' }, 'Immature rewards'), h('div', { class: 'value' }, chz(a.immature))),
        h('div', { class: 'balance' }, h('div', { class: 'label' }, 'Pending spend'), h('div', { class: 'value' }, chz(a.pending_spend))),
        h('div', { class: 'balance' }, h('div', { class: 'label' }, 'Transactions sent'), h('div', { class: 'value' }, String(a.nonce)))),
      card('In the mempool', table(['Txid', '', 'From → to', { text: 'Amount (CHZ)', attrs: { class: 'num' } }], rows,
        'No open transaction for this address.')));
  }
  await draw();
  const refresh = debounce(() => draw().catch(() => {}), 200);
  ctx.onLive((ev) => { if (['tip', 'tx', 'mempool', 'reconnected'].includes(ev.type)) refresh(); });
}

// ---- search ---------------------------------------------------------------------------------

// Height, block hash, txid or address: goes to the page of what it is, or says it found nothing.
export async function renderSearch(el, ctx, query) {
  const q = query.trim();
  clear(el, h('p', { class: 'muted' }, `Searching for ${q}…`));
  const notFound = (why) => clear(el, h('h1', {}, 'Search'),
    h('div', { class: 'message error', role: 'alert', id: 'search-error' }, why));
  if (/^\d+$/.test(q)) {
    try {
      const hash = await rpc('getblockhash', [Number(q)]);
      location.replace(`#/block/${hash}`);
    } catch (e) {
      notFound(`There is no block at height ${q}: ${describeError(e)}`);
    }
    return;
  }
  if (/^[0-9a-fA-F]{64}$/.test(q)) {
    const id = q.toLowerCase();
    try {
      await rpc('getblockheader', [id]);
      location.replace(`#/block/${id}`);
      return;
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
    }
    try {
      await rpc('getrawtransaction', [id]);
      location.replace(`#/tx/${id}`);
      return;
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
    }
    notFound(`No block or transaction ${short(id)} is known to this node (transactions are found in the mempool and the active chain).`);
    return;
  }
  const v = await rpc('validateaddress', [q]);
  if (v.isvalid) {
    location.replace(`#/address/${v.address}`);
    return;
  }
  notFound(`"${q}" is not a height, a block hash, a txid or an address of this network (${v.error}).`);
}
