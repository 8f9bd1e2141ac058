#include "daemon/net/peer_manager.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "daemon/net/bootstrap.hpp"
#include "util/log.hpp"

namespace cheese {

namespace {

constexpr std::string_view kUserAgent = "/cheesed:0.1.0/";

}  // namespace

void KnownInventory::insert(const Hash256& h) {
  if (!set_.insert(h).second) return;
  order_.push_back(h);
  if (order_.size() > kMaxKnownInventory) {
    set_.erase(order_.front());
    order_.pop_front();
  }
}

PeerManager::PeerManager(Chainstate& chain, const Mempool& mempool, AddressBook& addresses, ChainServices& services,
                         MessageSink& sink, const Clock& clock, Options options)
    : chain_(chain),
      mempool_(mempool),
      addresses_(addresses),
      services_(services),
      sink_(sink),
      clock_(clock),
      options_(options),
      rng_(std::random_device{}()),
      headers_(chain, options_.minimum_chain_work) {
  last_tip_change_ = clock_.steady_now();
}

PeerState* PeerManager::find(PeerId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

const PeerState* PeerManager::peer(PeerId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

// ---- connection events

void PeerManager::on_connected(const ConnectionInfo& info) {
  PeerState& p = peers_[info.id];
  p.id = info.id;
  p.inbound = info.inbound;
  p.type = info.kind();
  p.address = info.address;
  p.connected = clock_.steady_now();
  p.ping_sent = p.connected;
  if (!p.inbound) send_version(p);
}

void PeerManager::on_closed(PeerId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  peers_.erase(it);
  downloads_.remove_peer(id);
  // Transactions asked of this peer are asked of the next peer that announced them.
  send_tx_requests(tx_requests_.remove_peer(id, clock_.steady_now()));
  download_blocks();
}

void PeerManager::eviction_hints(EvictionCandidate& c) const {
  const PeerState* p = peer(c.id);
  if (!p) return;
  c.min_ping = p->min_ping_seconds;
  c.last_block = p->last_block;
  c.last_tx = p->last_tx;
  c.handshake_done = p->handshake_done;
  c.blocks_in_flight = downloads_.in_flight(c.id);
}

void PeerManager::on_tick() {
  const auto now = clock_.steady_now();
  for (auto& [id, p] : peers_) {
    if (p.disconnecting) continue;
    check_timeouts(p, now);
    const bool due = p.next_self_announce != std::chrono::steady_clock::time_point{} && now >= p.next_self_announce;
    if (due && !p.disconnecting) announce_self(p, now);
  }
  for (const auto& [id, hash] : downloads_.stalled(now, options_.stall_timeout)) {
    // Slow, not malicious: disconnect so another peer can serve the block; no discouragement.
    if (PeerState* p = find(id); p && !p->disconnecting) {
      p->disconnecting = true;
      sink_.disconnect(id, fmt::format("stalled on block {}", hash.to_display_hex()));
    }
  }
  send_tx_requests(tx_requests_.expire(now));
  request_deferred_txs();
  for (auto& [id, p] : peers_) {
    p.inv_budget = kMaxInvTxPerTick;
    if (!p.disconnecting) announce_queued_txs(p);
  }
  download_blocks();
  check_stale_tip(now);
  check_initial_sync();
}

void PeerManager::check_initial_sync() {
  if (initial_sync_done_) return;
  const std::int64_t recent = clock_.unix_now() - kInitialSyncTipAgeBlocks * chain_.params().target_spacing;
  if (chain_.tip()->header.time < recent) return;
  initial_sync_done_ = true;
  sink_.initial_sync_done();
}

void PeerManager::check_stale_tip(std::chrono::steady_clock::time_point now) {
  if (stale_tip_ || now - last_tip_change_ <= kStaleTipAge) return;
  const bool has_peers = std::any_of(peers_.begin(), peers_.end(),
                                     [](const auto& e) { return e.second.handshake_done; });
  if (!has_peers) return;
  stale_tip_ = true;
  log_info("No new block for {} s: the tip may be stale; looking for one more peer", kStaleTipAge.count());
  sink_.stale_tip(true);
}

void PeerManager::check_timeouts(PeerState& p, std::chrono::steady_clock::time_point now) {
  if (p.type == ConnectionType::kAddrFetch && !p.inbound && now - p.connected > kAddrFetchTimeout) {
    p.disconnecting = true;
    sink_.disconnect(p.id, "addr-fetch connection: no addresses in time");
    return;
  }
  if (!p.handshake_done) {
    if (now - p.connected > options_.handshake_timeout) {
      p.disconnecting = true;
      sink_.disconnect(p.id, "handshake timeout");
    }
    return;
  }
  if (p.ping_nonce != 0 && now - p.ping_sent > options_.ping_timeout) {
    p.disconnecting = true;
    sink_.disconnect(p.id, "ping timeout");
    return;
  }
  if (p.ping_nonce == 0 && now - p.ping_sent > options_.ping_interval) send_ping(p);
}

// ---- helpers

void PeerManager::misbehaving(PeerState& p, std::string_view reason) {
  log_info("Peer {} ({}) misbehaved: {}; disconnecting and discouraging it for {} h", p.id, p.address.to_string(),
           reason, kDiscourageDuration.count() / 3600);
  p.disconnecting = true;
  sink_.discourage(p.id, p.address, fmt::format("misbehaving: {}", reason));
}

void PeerManager::send_version(PeerState& p) {
  net::VersionMsg v;
  v.protocol_version = net::kProtocolVersion;
  v.services = net::kServiceNetwork;
  v.timestamp = clock_.unix_now();
  v.network = chain_.params().name;
  v.best_height = chain_.height();
  v.listen_port = options_.listen ? listen_port_ : 0;
  v.nonce = options_.local_nonce;
  v.user_agent = std::string(kUserAgent);
  v.relay = p.full_relay();  // block-relay-only and feelers: "send me no transactions"
  // Where we ask to be dialled; not to a peer whose version predates the field (it would refuse
  // the message): an inbound peer told us its version already.
  const bool old_peer = p.version && p.version->protocol_version < net::kAddrFromProtocolVersion;
  if (auto self = our_address_for(p); self && !old_peer) {
    v.addr_from = net::NetAddress{};
    v.addr_from->ip = self->ip;
    v.addr_from->port = self->port;
  }
  sink_.send(p.id, v);
}

void PeerManager::send_ping(PeerState& p) {
  std::uniform_int_distribution<std::uint64_t> any(1, UINT64_MAX);
  p.ping_nonce = any(rng_);
  p.ping_sent = clock_.steady_now();
  sink_.send(p.id, net::PingMsg{p.ping_nonce});
}

void PeerManager::request_headers(PeerState& p, const Hash256& stop) { sink_.send(p.id, headers_.request(stop)); }

void PeerManager::complete_handshake(PeerState& p) {
  p.handshake_done = true;
  if (p.full_relay()) tx_requests_.add_peer(p.id);
  log_info("Connected to peer {} ({} {}, {}, height {})", p.id, to_string(p.type), p.address.to_string(),
           p.version->user_agent, p.version->best_height);
  const std::int64_t now = clock_.unix_now();
  if (!p.inbound) {
    // A peer we dialed (-addnode, -connect, onetry, the book) goes into the address book, so a
    // restarted node finds it again from peers.json alone.
    addresses_.add(p.address, "outbound", now);
    addresses_.mark_success(p.address, now);
    if (p.type == ConnectionType::kFeeler) {
      // The address works: that is all a feeler wanted to know.
      p.disconnecting = true;
      sink_.disconnect(p.id, "feeler connection: address tested");
      return;
    }
    // Addresses are asked of full-relay peers only (never on a block-relay-only connection).
    if (p.full_relay()) {
      sink_.send(p.id, net::GetAddrMsg{});
      p.getaddr_pending = true;
      announce_self(p, clock_.steady_now());
    }
  } else if (p.advertised) {
    net::NetAddress listen = *p.advertised;
    listen.time = now;
    // -onlynet: an inbound peer of another network is served, but its address is not kept.
    if (options_.reachable.contains(listen)) addresses_.add(listen, "inbound", now);
    if (acceptable_address(listen)) relay_address(listen, p.id);
  }
  send_ping(p);
  request_headers(p);
}

void PeerManager::relay_address(const net::NetAddress& a, PeerId source) {
  std::vector<PeerId> targets;
  for (const auto& [id, p] : peers_) {
    if (id != source && p.handshake_done && !p.disconnecting && p.wants_relay()) targets.push_back(id);
  }
  std::shuffle(targets.begin(), targets.end(), rng_);
  if (targets.size() > kAddrRelayFanout) targets.resize(kAddrRelayFanout);
  for (PeerId id : targets) sink_.send(id, net::AddrMsg{{a}});
}

void PeerManager::download_blocks() {
  const auto now = clock_.steady_now();
  // Queued in the node, or held back by a peer while the queue was full: not asked for again.
  std::unordered_set<Hash256, Hash256Hasher> held_back;
  for (const auto& [id, p] : peers_) {
    if (p.waiting_block) held_back.insert(p.waiting_block->hash());
  }
  const auto queued = [this, &held_back](const Hash256& h) {
    return held_back.contains(h) || services_.block_queued(h);
  };
  for (auto& [id, p] : peers_) {
    if (!p.handshake_done || p.disconnecting || !p.best_known) continue;
    if (p.best_known->chain_work < headers_.minimum_chain_work()) continue;  // not worth a block yet
    net::GetDataMsg req;
    for (const auto& hash : downloads_.next_requests(id, p.best_known, chain_, queued, now)) {
      req.items.push_back({net::InvType::kBlock, hash});
    }
    if (!req.items.empty()) sink_.send(id, req);
  }
}

void PeerManager::send_tx_requests(const std::vector<TxRequestTracker::Request>& requests) {
  for (const auto& r : requests) {
    log_debug("net", "asking peer {} for tx {} (the first announcer did not deliver)", r.peer,
              r.txid.to_display_hex());
    sink_.send(r.peer, net::GetDataMsg{{{net::InvType::kTx, r.txid}}});
  }
}

void PeerManager::remember_reject(const Hash256& h) {
  if (!recent_rejects_.insert(h).second) return;
  recent_rejects_order_.push_back(h);
  if (recent_rejects_order_.size() > kMaxRecentRejects) {
    recent_rejects_.erase(recent_rejects_order_.front());
    recent_rejects_order_.pop_front();
  }
}

// ---- notifications from the node

void PeerManager::chain_changed(const ProcessBlockResult& r, PeerId /*source*/) {
  if (r.tip_changed) {
    last_tip_change_ = clock_.steady_now();
    if (stale_tip_) sink_.stale_tip(false);
    stale_tip_ = false;
  }
  if (!r.connected.empty()) {
    // A transaction rejected against the old tip may be valid now.
    recent_rejects_.clear();
    recent_rejects_order_.clear();
    for (auto& [id, p] : peers_) {
      if (!p.handshake_done || p.disconnecting) continue;
      net::InvMsg inv;
      for (const auto& b : r.connected) {
        const Hash256 h = b.hash();
        if (p.known.contains(h)) continue;
        inv.items.push_back({net::InvType::kBlock, h});
        p.known.insert(h);
        if (inv.items.size() == net::kMaxInvItems) break;
      }
      if (!inv.items.empty()) sink_.send(id, inv);
    }
  }
  // Transfers a reorg put back into the mempool are announced again (peers that know them skip).
  for (const auto& b : r.disconnected) {
    for (const auto& tx : b.txs) {
      if (tx.is_coinbase()) continue;
      if (const Hash256 id = txid(tx); mempool_.contains(id)) transaction_accepted(id, 0);
    }
  }
}

void PeerManager::transaction_accepted(const Hash256& id, PeerId source) {
  for (auto& [pid, p] : peers_) {
    if (!p.handshake_done || p.disconnecting || pid == source || !p.wants_relay() || p.known.contains(id)) continue;
    p.known.insert(id);
    if (p.tx_to_announce.empty() && p.inv_budget > 0) {
      --p.inv_budget;
      sink_.send(pid, net::InvMsg{{{net::InvType::kTx, id}}});
    } else if (p.tx_to_announce.size() < kMaxTxToAnnounce) {
      p.tx_to_announce.push_back(id);
    }
  }
}

void PeerManager::announce_queued_txs(PeerState& p) {
  net::InvMsg inv;
  // Entries mined or dropped meanwhile are skipped, at most a few budgets' worth per tick, so a
  // queue emptied by a block costs bounded time per peer and tick.
  for (std::size_t looked = 0; !p.tx_to_announce.empty() && p.inv_budget > 0 && looked < 4 * kMaxInvTxPerTick;
       ++looked) {
    const Hash256 id = p.tx_to_announce.front();
    p.tx_to_announce.pop_front();
    if (!mempool_.contains(id)) continue;  // mined or dropped meanwhile
    inv.items.push_back({net::InvType::kTx, id});
    --p.inv_budget;
  }
  if (!inv.items.empty()) sink_.send(p.id, inv);
}

void PeerManager::request_deferred_txs() {
  const auto wanted = [this](const Hash256& id) { return !mempool_.contains(id) && !recent_rejects_.contains(id); };
  const auto requests = tx_requests_.next_deferred(clock_.steady_now(), wanted);
  std::map<PeerId, net::GetDataMsg> by_peer;
  for (const auto& r : requests) by_peer[r.peer].items.push_back({net::InvType::kTx, r.txid});
  for (const auto& [peer, m] : by_peer) sink_.send(peer, m);
}

void PeerManager::block_queue_room() {
  for (auto& [id, p] : peers_) {
    if (!p.waiting_block || p.disconnecting) continue;
    auto block = std::move(p.waiting_block);
    p.waiting_block.reset();
    queue_block(p, std::move(block));
    if (p.waiting_block) return;  // full again: the rest wait for the next room
  }
}

}  // namespace cheese
