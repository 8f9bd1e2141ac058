// Mining: a number of blocks now, or continuous mining with its live hash rate.
import { rpc } from './rpc.js';
import { blockLink, busy, card, clear, fields, fmtHashrate, h, messageSlot } from './ui.js';

export async function render(el, ctx) {
  const count = h('input', { id: 'mine-count', type: 'number', min: 1, max: 10000, value: '1', inputmode: 'numeric' });
  const address = h('input', { id: 'mine-address', type: 'text', spellcheck: 'false', autocomplete: 'off', placeholder: 'default: the loaded wallet\'s address' });
  const mineButton = h('button', { type: 'submit', id: 'mine-button' }, 'Mine');
  const mineSlot = messageSlot();
  mineSlot.id = 'mine-message';
  const mineForm = h('form', { id: 'mine-form' },
    h('div', { class: 'inline-form' },
      h('div', {}, h('label', { for: 'mine-count' }, 'Blocks'), count),
      h('div', {}, h('label', { for: 'mine-address' }, 'Reward address (optional with a wallet)'), address),
      h('div', {}, mineButton)),
    mineSlot);
  mineForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const n = Number(count.value);
    busy(mineButton, mineSlot, async () => {
      if (!Number.isInteger(n) || n < 1 || n > 10000) throw new Error('Blocks: a whole number from 1 to 10000.');
      const addr = address.value.trim();
      mineButton.textContent = 'Mining…';
      try {
        const hashes = await rpc('mine', addr ? [n, addr] : [n]);
        if (hashes.length === 0) mineSlot.warn('No block found within the tries allowed.');
        else mineSlot.ok(`Mined ${hashes.length} block${hashes.length === 1 ? '' : 's'}; the last is `, blockLink(hashes[hashes.length - 1]), '.');
        await refresh();
      } finally {
        mineButton.textContent = 'Mine';
      }
    });
  });

  const threads = h('input', { id: 'gen-threads', type: 'number', min: 0, max: 1024, placeholder: 'default', inputmode: 'numeric' });
  const startButton = h('button', { type: 'button', id: 'gen-start' }, 'Start mining');
  const stopButton = h('button', { type: 'button', id: 'gen-stop', class: 'danger' }, 'Stop mining');
  const genSlot = messageSlot();
  genSlot.id = 'gen-message';
  startButton.addEventListener('click', () => busy(startButton, genSlot, async () => {
    const t = threads.value.trim();
    const params = [true, t === '' ? null : Number(t)];
    const addr = address.value.trim();
    if (addr) params.push(addr);
    await rpc('setgenerate', params);
    genSlot.ok('Mining continuously. New blocks appear in the explorer as they are found.');
    await refresh();
  }));
  stopButton.addEventListener('click', () => busy(stopButton, genSlot, async () => {
    await rpc('setgenerate', [false]);
    genSlot.ok('Mining stopped.');
    await refresh();
  }));

  const rate = h('div', { class: 'hashrate', id: 'hashrate' }, '—');
  const state = h('div', { id: 'gen-state', class: 'muted' }, '');
  const stats = h('div', {});
  const statsSlot = messageSlot();

  clear(el, h('h1', {}, 'Mining'),
    h('div', { class: 'grid' },
      card('Mine blocks now', h('p', { class: 'muted' }, 'On regtest a block takes a moment; on the main network this may take very long.'), mineForm),
      card('Continuous mining',
        rate, state,
        h('div', { class: 'inline-form' }, h('div', {}, h('label', { for: 'gen-threads' }, 'Threads (0 = one per core)'), threads)),
        h('div', { class: 'form-actions' }, startButton, stopButton), genSlot),
      card('Chain', stats, statsSlot)));

  async function refresh() {
    await busy(null, statsSlot, async () => {
      const info = await rpc('getmininginfo');
      rate.textContent = fmtHashrate(info.localhashps);
      state.textContent = info.generate ? `Mining on ${info.genproclimit} thread${info.genproclimit === 1 ? '' : 's'}` : 'Not mining';
      startButton.hidden = !!info.generate;
      stopButton.hidden = !info.generate;
      clear(stats, fields([
        ['Height', String(info.blocks)],
        ['Difficulty', String(info.difficulty)],
        ['Network hash rate', fmtHashrate(info.networkhashps)],
        ['Transactions waiting', String(info.pooledtx)],
        ['Chain', info.chain],
      ]));
    });
  }
  ctx.every(1000, refresh);
  await refresh();
}
