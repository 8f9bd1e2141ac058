// PeerManager's message handlers, one per message type (dispatched by std::visit in
// PeerManager::on_message once the handshake is done).
#include <fmt/format.h>

#include <algorithm>

#include "consensus/pow.hpp"
#include "daemon/net/peer_manager.hpp"
#include "util/log.hpp"

namespace cheese {

bool PeerManager::acceptable_address(const net::NetAddress& a) const {
  if (a.is_routable()) return true;
  return chain_.params().network == Network::kRegtest && !a.is_unspecified();
}

template <typename TrackerMsg>
void PeerManager::handle(PeerState& p, TrackerMsg) {
  log_debug("net", "peer {} sent {} (ignored)", p.id, TrackerMsg::kCommand);
}

void PeerManager::handle(PeerState& p, net::VersionMsg m) {
  if (p.version) {
    misbehaving(p, "duplicate version");
    return;
  }
  if (m.nonce == options_.local_nonce) {
    log_debug("net", "connected to myself at {}; dropping it", p.address.to_string());
    // The dialing side of this self-connection used our own listen address: never dial it again.
    net::NetAddress self = p.address;
    if (p.inbound) self.port = listen_port_;
    addresses_.remove(self);
    sink_.own_address(self);
    p.disconnecting = true;
    sink_.disconnect(p.id, "connected to self");
    return;
  }
  if (m.network != chain_.params().name) {
    p.disconnecting = true;
    sink_.disconnect(p.id, fmt::format("peer is on network '{}'", m.network));
    return;
  }
  if (m.protocol_version < net::kMinProtocolVersion) {
    p.disconnecting = true;
    sink_.disconnect(p.id, fmt::format("protocol version {} too old", m.protocol_version));
    return;
  }
  if (m.listen_port != 0) {
    net::NetAddress listen = p.address;
    listen.port = m.listen_port;
    if (p.inbound) p.advertised = listen = inbound_listen_address(p, m);
    sink_.listen_address(p.id, listen);
  }
  p.version = std::move(m);
  if (p.inbound) {
    send_version(p);
    send_slots(p);
  }
  sink_.send(p.id, net::VerackMsg{});
}

void PeerManager::send_slots(PeerState& p) {
  if (!options_.listen || options_.max_inbound == 0 || p.version->protocol_version < net::kSlotsProtocolVersion)
    return;
  const auto inbound = static_cast<std::size_t>(
      std::count_if(peers_.begin(), peers_.end(), [](const auto& e) { return e.second.inbound; }));
  const auto clamp = [](std::size_t n) { return static_cast<std::uint16_t>(std::min<std::size_t>(n, 0xffff)); };
  const std::uint16_t max_inbound = clamp(options_.max_inbound);
  sink_.send(p.id, net::SlotsMsg{std::min(clamp(inbound), max_inbound), max_inbound});
}

void PeerManager::slots_received(PeerState& p, const net::SlotsMsg& m) {
  if (p.inbound || p.slots) {
    misbehaving(p, p.inbound ? "slots from the dialling side" : "duplicate slots");
    return;
  }
  p.slots = m;
  const bool crowded = std::uint64_t{m.inbound} * 100 >= std::uint64_t{m.max_inbound} * kCrowdedInboundPercent;
  const bool ours = p.type == ConnectionType::kOutboundFullRelay || p.type == ConnectionType::kBlockRelayOnly;
  if (!crowded || !ours) return;
  const auto others = static_cast<std::size_t>(std::count_if(peers_.begin(), peers_.end(), [&p](const auto& e) {
    const PeerState& o = e.second;
    const bool stays = o.type == ConnectionType::kOutboundFullRelay || o.type == ConnectionType::kBlockRelayOnly ||
                       o.type == ConnectionType::kManual;
    return o.id != p.id && !o.inbound && stays && o.handshake_done && !o.disconnecting;
  }));
  if (others < kMinOutboundToLeaveCrowded) return;
  // It answered as a node should: a working address (never a failure), not dialled for a while.
  const std::int64_t now = clock_.unix_now();
  addresses_.mark_success(p.address, now);
  addresses_.mark_crowded(p.address, now);
  p.disconnecting = true;
  sink_.disconnect(p.id, fmt::format("its inbound slots are crowded ({} of {}): trying a node with room", m.inbound,
                                     m.max_inbound));
}

void PeerManager::handle(PeerState& p, net::SlotsMsg) { misbehaving(p, "slots after verack"); }

void PeerManager::handle(PeerState& p, net::VerackMsg) { misbehaving(p, "duplicate verack"); }

void PeerManager::handle(PeerState& p, net::PingMsg m) { sink_.send(p.id, net::PongMsg{m.nonce}); }

void PeerManager::handle(PeerState& p, net::PongMsg m) {
  if (p.ping_nonce != 0 && m.nonce == p.ping_nonce) {
    p.ping_seconds = std::chrono::duration<double>(clock_.steady_now() - p.ping_sent).count();
    p.min_ping_seconds = std::min(p.min_ping_seconds.value_or(*p.ping_seconds), *p.ping_seconds);
    p.ping_nonce = 0;
  }
}

void PeerManager::handle(PeerState& p, net::InvMsg m) {
  net::GetDataMsg want;
  bool unknown_block = false;
  Hash256 last_unknown;
  const auto now = clock_.steady_now();
  std::size_t ignored_txs = 0;
  for (const auto& item : m.items) {
    if (item.type == net::InvType::kTx && !p.full_relay()) {
      ++ignored_txs;  // we asked for no transactions on this connection: nothing is remembered
      continue;
    }
    p.known.insert(item.hash);
    if (item.type == net::InvType::kTx) {
      if (mempool_.contains(item.hash) || recent_rejects_.contains(item.hash)) continue;
      if (tx_requests_.announced(p.id, item.hash, now)) want.items.push_back(item);
    } else if (const BlockIndex* idx = chain_.lookup(item.hash); !idx) {
      unknown_block = true;
      last_unknown = item.hash;
    } else if (!p.best_known || idx->chain_work > p.best_known->chain_work) {
      p.best_known = idx;
    }
  }
  if (ignored_txs > 0)
    log_debug("net", "peer {} ({}) announced {} transactions (ignored)", p.id, to_string(p.type), ignored_txs);
  if (!want.items.empty()) sink_.send(p.id, want);
  if (unknown_block) request_headers(p, last_unknown);
  download_blocks();
}

void PeerManager::handle(PeerState& p, net::GetDataMsg m) {
  p.getdata_backlog.insert(p.getdata_backlog.end(), m.items.begin(), m.items.end());
  serve_getdata(p);
}

void PeerManager::on_send_drained(PeerId id) {
  if (PeerState* p = find(id); p && !p->disconnecting && !p->getdata_backlog.empty()) serve_getdata(*p);
}

void PeerManager::update_pause(PeerState& p) {
  sink_.pause_reading(p.id, p.tx_checking || p.waiting_block || !p.getdata_backlog.empty());
}

void PeerManager::serve_getdata(PeerState& p) {
  net::NotFoundMsg missing;
  while (!p.getdata_backlog.empty() && sink_.send_queue_bytes(p.id) < kMaxGetDataBacklogBytes) {
    if (p.disconnecting) return;  // e.g. its send queue overflowed
    const net::InvItem item = p.getdata_backlog.front();
    p.getdata_backlog.pop_front();
    if (item.type == net::InvType::kTx) {
      // No transaction is served where none is announced (a block-relay-only connection).
      if (const auto* e = p.wants_relay() ? mempool_.find(item.hash) : nullptr) {
        sink_.send(p.id, net::TxMsg{e->tx});
        p.known.insert(item.hash);
      } else {
        missing.items.push_back(item);
      }
      continue;
    }
    const BlockIndex* idx = chain_.lookup(item.hash);
    std::optional<Block> block;
    if (idx && idx->have_data() && !idx->failed()) block = chain_.read_block(item.hash);
    if (block) {
      sink_.send(p.id, net::BlockMsg{std::move(*block)});
      p.known.insert(item.hash);
    } else {
      missing.items.push_back(item);
    }
  }
  if (!missing.items.empty()) sink_.send(p.id, missing);
  update_pause(p);
}

void PeerManager::handle(PeerState& p, net::NotFoundMsg m) {
  const auto now = clock_.steady_now();
  for (const auto& item : m.items) {
    if (item.type == net::InvType::kBlock) {
      downloads_.not_found(p.id, item.hash);
    } else if (auto next = tx_requests_.not_found(p.id, item.hash, now)) {
      send_tx_requests({{*next, item.hash}});
    }
  }
  request_deferred_txs();
  download_blocks();
}

void PeerManager::handle(PeerState& p, net::GetHeadersMsg m) { sink_.send(p.id, headers_.answer(m)); }

void PeerManager::handle(PeerState& p, net::HeadersMsg m) {
  if (p.presync) {
    if (m.headers.empty() || m.headers.front().prev_hash == p.presync->last_hash()) {
      continue_presync(p, m);
      return;
    }
    // Not the continuation: the peer's chain moved (or this answers another request). The
    // presync ends with nothing stored; the message is taken as any other.
    log_debug("net", "peer {}: headers presync abandoned (the peer's chain moved)", p.id);
    p.presync.reset();
  }
  if (m.headers.empty()) return;
  HeaderSync::Outcome r = headers_.process(m, clock_.unix_now());
  if (r.unknown_start) {
    request_headers(p);
    return;
  }
  if (r.low_work) {
    low_work_headers(p, m);
    return;
  }
  headers_stored(p, r);
  if (r.misbehavior) {
    misbehaving(p, *r.misbehavior);
    return;
  }
  if (r.accepted.size() < m.headers.size()) {
    log_debug("net", "peer {}: {} of {} headers not accepted yet", p.id, m.headers.size() - r.accepted.size(),
              m.headers.size());
  }
  if (r.more) sink_.send(p.id, *r.more);
  download_blocks();
}

void PeerManager::headers_stored(PeerState& p, const HeaderSync::Outcome& r) {
  for (const auto& h : r.accepted) p.known.insert(h);
  if (r.last && (!p.best_known || r.last->chain_work > p.best_known->chain_work)) p.best_known = r.last;
}

void PeerManager::low_work_headers(PeerState& p, const net::HeadersMsg& m) {
  if (m.headers.size() < net::kMaxHeadersPerMessage) {
    // The whole branch is here and it has too little work: nothing of it is stored. Not an
    // offence (a peer on a short side branch sends it honestly).
    log_debug("net", "peer {}: ignored {} headers of a branch with too little work", p.id, m.headers.size());
    return;
  }
  const BlockIndex* start = chain_.lookup(m.headers.front().prev_hash);
  p.presync = std::make_shared<HeadersPresync>(chain_, start, headers_.anti_dos_threshold(), clock_.unix_now());
  log_info("Peer {}: presyncing headers from height {} (their work is not yet enough to store them)", p.id,
           start->height);
  continue_presync(p, m);
}

void PeerManager::continue_presync(PeerState& p, const net::HeadersMsg& m) {
  const std::int64_t now = clock_.unix_now();
  HeadersPresync::Result r = p.presync->process(m.headers, m.headers.size() == net::kMaxHeadersPerMessage, now);
  if (!r.release.empty()) {
    const HeaderSync::Outcome stored = headers_.store(r.release, now);
    headers_stored(p, stored);
    if (stored.misbehavior) {
      p.presync.reset();
      misbehaving(p, *stored.misbehavior);
      return;
    }
  }
  if (r.finished) {
    p.presync.reset();
    if (r.misbehavior) {
      misbehaving(p, fmt::format("headers presync: {}", r.failure));
      return;
    }
    if (!r.failure.empty()) {
      log_info("Peer {}: headers presync ended, nothing stored: {}", p.id, r.failure);
    } else {
      log_info("Peer {}: headers presync done; its chain has enough work and is stored", p.id);
      request_headers(p);  // the rest of its chain, the usual way
    }
  } else if (r.request) {
    sink_.send(p.id, *r.request);
  }
  download_blocks();
}

void PeerManager::handle(PeerState& p, net::BlockMsg m) {
  auto block = std::make_shared<const Block>(std::move(m.block));
  const Hash256 hash = block->hash();
  p.known.insert(hash);
  const bool requested = downloads_.received(p.id, hash);
  if (!requested && !chain_.lookup(hash) && !chain_.lookup(block->header.prev_hash)) {
    // A block on a branch we never heard of: its headers first (not an offence, it may be ahead).
    request_headers(p);
    return;
  }
  if (!requested && !worth_unrequested(*block)) {
    // Work before cost: a block nobody asked for that would not give us more work than our tip
    // (a low-work side branch, a branch we never heard of) is not stored or checked.
    log_debug("net", "peer {} sent unrequested block {} without more work than our tip (ignored)", p.id,
              hash.to_display_hex());
    return;
  }
  queue_block(p, std::move(block));
  download_blocks();
}

bool PeerManager::worth_unrequested(const Block& block) const {
  std::uint64_t height = 0;
  U256 work;
  if (const BlockIndex* known = chain_.lookup(block.hash())) {
    height = known->height;  // a header we have: its own work counts
    work = known->chain_work;
  } else if (const BlockIndex* parent = chain_.lookup(block.header.prev_hash)) {
    height = parent->height + 1;
    work = parent->chain_work + block_work(block.header.bits);
  } else {
    return false;
  }
  return work > chain_.tip()->chain_work && work >= headers_.minimum_chain_work() &&
         height <= chain_.height() + kMaxUnrequestedBlocksAhead;
}

void PeerManager::queue_block(PeerState& p, std::shared_ptr<const Block> block) {
  const Hash256 hash = block->hash();
  auto done = [this, id = p.id, address = p.address, hash](const ProcessBlockResult& r) {
    block_processed(id, address, hash, r);
  };
  // The node's queue is full: this peer's next message waits until there is room.
  if (!services_.try_queue_block(block, p.id, std::move(done))) p.waiting_block = std::move(block);
  update_pause(p);
}

void PeerManager::block_processed(PeerId id, const net::NetAddress& address, const Hash256& hash,
                                  const ProcessBlockResult& r) {
  PeerState* p = find(id);
  const Verdict v = r.verdict;
  if (!v && v.reason != Reject::kBlockUnknownParent && is_misbehavior(v.reason)) {
    const std::string reason = fmt::format("invalid block {}: {}", hash.to_display_hex(), to_string(v.reason));
    if (p) {
      misbehaving(*p, reason);
    } else {  // gone meanwhile: still discouraged
      sink_.discourage(id, address, fmt::format("misbehaving: {}", reason));
    }
  } else if (p && !v) {
    if (v.reason == Reject::kBlockUnknownParent) {
      if (!p->disconnecting) request_headers(*p);
    } else {
      log_debug("net", "block {} from peer {} not accepted: {}", hash.to_display_hex(), id, to_string(v.reason));
    }
  } else if (p) {
    if (!r.duplicate) p->last_block = clock_.steady_now();  // a new valid block: a useful peer
    if (const BlockIndex* idx = chain_.lookup(hash);
        idx && (!p->best_known || idx->chain_work > p->best_known->chain_work)) {
      p->best_known = idx;
    }
  }
  download_blocks();
}

void PeerManager::handle(PeerState& p, net::TxMsg m) {
  if (!p.full_relay()) {
    // We asked for no transactions on this connection: not checked, not remembered.
    log_debug("net", "peer {} ({}) sent a transaction (ignored)", p.id, to_string(p.type));
    return;
  }
  const Hash256 id = txid(m.tx);
  p.known.insert(id);
  tx_requests_.received(id);
  request_deferred_txs();  // a request fewer in flight: room for a deferred announcement
  if (mempool_.contains(id) || recent_rejects_.contains(id)) return;
  // One transaction checked at a time per peer: its next message waits for the outcome.
  p.tx_checking = true;
  update_pause(p);
  auto done = [this, peer = p.id, address = p.address, id](const MempoolAccept& r) {
    tx_processed(peer, address, id, r);
  };
  services_.submit_transaction(std::move(m.tx), p.id, std::move(done));
}

void PeerManager::tx_processed(PeerId peer, const net::NetAddress& address, const Hash256& id,
                               const MempoolAccept& r) {
  PeerState* p = find(peer);
  if (p) {
    p->tx_checking = false;
    update_pause(*p);
  }
  if (r.ok() && p) p->last_tx = clock_.steady_now();  // a new valid transaction: a useful peer
  if (r.ok() || r.reason == MempoolReject::kAlreadyKnown) return;
  remember_reject(id);
  if (r.reason == MempoolReject::kConsensus && is_misbehavior(r.consensus)) {
    const std::string reason = fmt::format("invalid transaction {}: {}", id.to_display_hex(), to_string(r.consensus));
    if (p) {
      misbehaving(*p, reason);
    } else {
      sink_.discourage(peer, address, fmt::format("misbehaving: {}", reason));
    }
  } else {
    log_debug("mempool", "tx {} from peer {} not accepted: {}", id.to_display_hex(), peer,
              r.reason == MempoolReject::kConsensus ? to_string(r.consensus) : to_string(r.reason));
  }
}

void PeerManager::handle(PeerState& p, net::GetAddrMsg) {
  if (!p.inbound || p.getaddr_answered) return;  // answered once per connection, to inbound peers
  p.getaddr_answered = true;
  net::AddrMsg reply;
  // Never the asker itself (its connection or listening address) nor addresses known dead.
  net::NetAddress asker = p.advertised.value_or(p.address);
  reply.addresses = addresses_.sample_for(asker, net::kMaxAddrPerMessage, kAddrDeadFailures, clock_.unix_now(), rng_);
  if (!reply.addresses.empty()) sink_.send(p.id, reply);
}

void PeerManager::handle(PeerState& p, net::AddrMsg m) {
  if (!p.full_relay()) {
    // No address relay on block-relay-only connections (and feelers): nothing is taken or counted.
    log_debug("net", "peer {} ({}) sent {} addresses (ignored)", p.id, to_string(p.type), m.addresses.size());
    return;
  }
  // docs/protocol.md 7.3: more than kMaxUnsolicitedAddr entries only as the one reply to getaddr.
  // The first addr after our getaddr is its reply, whatever its size (taken whole, once).
  const bool reply = p.getaddr_pending;
  if (m.addresses.size() > kMaxUnsolicitedAddr && !reply) {
    log_debug("net", "peer {} sent an unsolicited addr of {} entries (ignored)", p.id, m.addresses.size());
    return;
  }
  p.getaddr_pending = false;
  // Unsolicited addresses are rate-limited per peer (a token bucket); the getaddr reply is not.
  const auto steady = clock_.steady_now();
  if (p.addr_tokens_at == std::chrono::steady_clock::time_point{}) p.addr_tokens_at = p.connected;
  const double elapsed = std::chrono::duration<double>(steady - p.addr_tokens_at).count();
  p.addr_tokens = std::min(kMaxAddrTokens, p.addr_tokens + elapsed * kAddrRatePerSecond);
  p.addr_tokens_at = steady;
  const std::int64_t t = clock_.unix_now();
  for (const auto& a : m.addresses) {
    if (a.port == 0 || a.is_unspecified() || !acceptable_address(a)) continue;
    if (!options_.reachable.contains(a)) continue;  // -onlynet: not stored (and costs no token)
    if (!reply) {
      if (p.addr_tokens < 1) continue;
      p.addr_tokens -= 1;
    }
    // The book buckets it by this peer's network group and clamps a time from the future.
    addresses_.add(a, "gossip", p.address, t);
  }
  log_debug("net", "peer {} sent {} addresses (book has {})", p.id, m.addresses.size(), addresses_.size());
  if (reply && p.type == ConnectionType::kAddrFetch && !p.inbound) {
    // -seednode: the addresses were all this connection was for.
    p.disconnecting = true;
    sink_.disconnect(p.id, "addr-fetch connection: addresses received");
  }
}

void PeerManager::on_message(PeerId id, net::Message message) {
  PeerState* p = find(id);
  if (!p || p->disconnecting) return;
  if (!p->version) {
    if (auto* v = std::get_if<net::VersionMsg>(&message)) {
      handle(*p, std::move(*v));
    } else {
      misbehaving(*p, fmt::format("{} before version", net::command_of(message)));
    }
    return;
  }
  if (!p->handshake_done) {
    if (std::holds_alternative<net::VerackMsg>(message)) {
      complete_handshake(*p);
    } else if (const auto* slots = std::get_if<net::SlotsMsg>(&message)) {
      slots_received(*p, *slots);
    } else if (std::holds_alternative<net::VersionMsg>(message)) {
      misbehaving(*p, "duplicate version");
    } else {
      misbehaving(*p, fmt::format("{} before verack", net::command_of(message)));
    }
    return;
  }
  std::visit([this, p](auto&& m) { handle(*p, std::move(m)); }, std::move(message));
}

}  // namespace cheese
