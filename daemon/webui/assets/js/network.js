// Peers, the node's P2P state and its trackers.
import { batchAll } from './rpc.js';
import { ago, busy, card, clear, fields, h, messageSlot, table } from './ui.js';

function bytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}

export async function render(el, ctx) {
  const summary = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const peers = h('div', { id: 'peers' });
  const trackers = h('div', { id: 'trackers' });
  const slot = messageSlot();
  clear(el, h('h1', {}, 'Network'),
    h('div', { class: 'grid' }, card('This node', summary), card('Trackers', trackers)),
    h('div', { class: 'stack' }, card('Peers', peers), slot));

  async function load() {
    await busy(null, slot, async () => {
      const [net, peerList, trackerList, chain] = await batchAll([
        ['getnetworkinfo', []], ['getpeerinfo', []], ['gettrackerinfo', []], ['getblockchaininfo', []]]);
      clear(summary, fields([
        ['Network', net.network],
        ['Version', net.subversion],
        ['Listening', net.listening ? `yes, port ${net.port}` : 'no (outbound connections only)'],
        ['Connections', `${net.connections} (${net.connections_in} in, ${net.connections_out} out)`],
        ['Known addresses', String(net.addressbook)],
        ['Traffic', `${bytes(net.totalbytessent)} sent, ${bytes(net.totalbytesrecv)} received`],
        ['Chain', `height ${chain.blocks}, headers ${chain.headers}`],
      ]));
      clear(peers, table(['Address', 'Direction', 'Version', { text: 'Height', attrs: { class: 'num' } },
        { text: 'Ping', attrs: { class: 'num' } }, 'Connected', { text: 'Traffic', attrs: { class: 'hide-narrow' } }],
      peerList.map((p) => h('tr', {},
        h('td', { class: 'mono' }, p.addr),
        h('td', {}, p.inbound ? 'in' : 'out'),
        h('td', {}, p.subver || (p.handshake_done ? '' : 'handshaking')),
        h('td', { class: 'num' }, p.synced_headers >= 0 ? String(p.synced_headers) : String(p.startingheight ?? '')),
        h('td', { class: 'num' }, p.pingtime !== undefined ? `${(Number(p.pingtime) * 1000).toFixed(1)} ms` : '—'),
        h('td', {}, ago(p.conntime)),
        h('td', { class: 'hide-narrow' }, `${bytes(p.bytessent)} / ${bytes(p.bytesrecv)}`))),
      'No peers connected.'));
      clear(trackers, table(['Tracker', 'State', { text: 'Peers', attrs: { class: 'num' } }],
        trackerList.map((t) => h('tr', {},
          h('td', { class: 'mono' }, t.address),
          h('td', {}, t.registered ? `registered ${ago(t.registered_since)}` : t.connected ? 'connected' : `down${t.last_error ? `: ${t.last_error}` : ''}`),
          h('td', { class: 'num' }, String(t.peers_received)))),
        'No tracker configured (-tracker=host:port); peers come from -connect, -addnode and the address book.'));
    });
  }
  ctx.every(5000, load);
  await load();
}
