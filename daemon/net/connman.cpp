#include "daemon/net/connman.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "daemon/net/anchors.hpp"
#include "daemon/net/eviction.hpp"
#include "io/accept_loop.hpp"
#include "io/io_watchdog.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

namespace {

net::NetAddress to_net_address(const tcp::endpoint& ep) {
  net::NetAddress a;
  if (ep.address().is_v4()) return net::NetAddress::from_ipv4(ep.address().to_v4().to_bytes(), ep.port());
  const auto v6 = ep.address().to_v6();
  if (v6.is_v4_mapped()) {
    return net::NetAddress::from_ipv4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes(), ep.port());
  }
  a.ip = v6.to_bytes();
  a.port = ep.port();
  return a;
}

tcp::endpoint to_endpoint(const net::NetAddress& a) {
  if (a.is_ipv4()) return {asio::ip::address_v4({a.ip[12], a.ip[13], a.ip[14], a.ip[15]}), a.port};
  return {asio::ip::address_v6(a.ip), a.port};
}

//! The counter of `counts` that a connection of kind `t` takes (manual ones take full-relay slots).
std::size_t& slot(OutboundCounts& counts, ConnectionType t) {
  if (t == ConnectionType::kBlockRelayOnly) return counts.block_relay;
  if (t == ConnectionType::kFeeler) return counts.feelers;
  return counts.full_relay;
}

std::filesystem::path anchors_file(const std::filesystem::path& datadir) { return datadir / "anchors.json"; }

}  // namespace

ConnManager::ConnManager(asio::io_context& io, const ChainParams& params, Options options)
    : io_(io),
      params_(params),
      options_(std::move(options)),
      tasks_(io.get_executor(),
             [](std::string_view name, std::string_view what) { log_debug("net", "{} ended: {}", name, what); }),
      listeners_(io),
      local_(options_.reachable, params.network == Network::kRegtest),
      feelers_(std::chrono::steady_clock::now(), options_.feeler_interval),
      extra_block_relay_(options_.extra_block_relay_interval) {
  std::random_device rd;
  local_nonce_ = (std::uint64_t{rd()} << 32) | rd();
  rng_.seed((std::uint64_t{rd()} << 32) | rd());
  addresses_.set_group_per_address(params_.network == Network::kRegtest);
  addresses_.load(options_.datadir / "peers.json");
  added_nodes_ = options_.addnode;
  bootstrap_ = BootstrapPlan(bootstrap_config());
  if (options_.connect.empty()) addr_fetches_ = options_.seednodes;
}

ConnManager::~ConnManager() = default;

std::int64_t ConnManager::now() const { return unix_now(); }

void ConnManager::start() {
  if (options_.listen) {
    listeners_.open(options_.binds, options_.port);
    for (const auto& a : listeners_.addresses()) log_info("P2P listening on {}", a.to_string());
    for (const auto& a : listeners_.acceptors()) {
      tasks_.spawn("P2P accept loop", io::accept_loop(*a, [this](tcp::socket s) { on_accept(std::move(s)); }));
    }
    // What we advertise: -externalip; without it, the specific addresses we are bound to (as
    // bitcoind: LOCAL_MANUAL, else LOCAL_BIND), later what a tracker sees.
    for (const auto& a : options_.external_ips) local_.add(a, kLocalManual);
    if (options_.external_ips.empty()) {
      for (const auto& a : listeners_.addresses()) local_.add(a, kLocalBind);
    }
  }
  // Anchors (the block-relay-only peers of the last run) are dialled first; the file is read once
  // and deleted. With -connect the node dials nothing else, and leaves the file alone.
  if (options_.connect.empty()) {
    anchors_ = read_anchors(anchors_file(options_.datadir));
    if (!anchors_.empty()) log_info("{} anchor connection(s) to restore from anchors.json", anchors_.size());
  }
  tick_timer_ = std::make_unique<asio::steady_timer>(io_);
  tasks_.spawn("P2P connection loop", tick_loop());
}

void ConnManager::stop() {
  stopping_ = true;
  listeners_.close();
  if (tick_timer_) tick_timer_->cancel();
  save_anchors();
  auto copy = connections_;
  for (auto& [id, c] : copy) c->disconnect("shutting down");
  tasks_.close();
  addresses_.save(options_.datadir / "peers.json");
}

// ---- slots and connections

std::size_t ConnManager::outbound_count() const {
  std::size_t n = 0;
  for (const auto& [id, c] : connections_) {
    if (!c->info().inbound) ++n;
  }
  return n;
}

std::size_t ConnManager::wanted_full_relay() const {
  return std::min({kMaxOutboundPeers, options_.full_relay_outbound,
                   static_cast<std::size_t>(std::max(0, options_.max_connections))});
}

std::size_t ConnManager::wanted_block_relay() const {
  // As Bitcoin Core: what -maxconnections leaves after the full-relay ones; none with -connect.
  if (!options_.connect.empty()) return 0;
  const std::size_t max_connections = static_cast<std::size_t>(std::max(0, options_.max_connections));
  return std::min(kBlockRelayOnlyConnections, max_connections - wanted_full_relay());
}

std::size_t ConnManager::max_inbound() const {
  const std::size_t max_connections = static_cast<std::size_t>(std::max(0, options_.max_connections));
  return max_connections > wanted_outbound() ? max_connections - wanted_outbound() : 0;
}

bool ConnManager::accept_slot_free(const net::NetAddress& addr) const {
  const std::size_t inbound = static_cast<std::size_t>(std::count_if(
      connections_.begin(), connections_.end(), [](const auto& e) { return e.second->info().inbound; }));
  const std::size_t max_inbound = this->max_inbound();
  if (inbound < max_inbound) return true;
  log_debug("net", "refused inbound connection from {}: {} inbound slots full", addr.to_string(), max_inbound);
  return false;
}

void ConnManager::on_accept(tcp::socket socket) {
  if (stopping_) return;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;
  const auto addr = to_net_address(remote);
  if (bans_.is_banned(addr, now())) {
    log_debug("net", "refused inbound connection from banned {}", addr.to_string());
    return;
  }
  if (inbound_unfinished_handshakes() >= kMaxInboundUnfinishedHandshakes) {
    log_debug("net", "refused inbound connection from {}: {} handshakes unfinished", addr.to_string(),
              kMaxInboundUnfinishedHandshakes);
    return;
  }
  // Off regtest at most kMaxInboundPerGroup from one network group: refused before any eviction.
  std::vector<net::NetAddress> inbound;
  for (const auto& [id, c] : connections_) {
    if (c->info().inbound) inbound.push_back(c->info().address);
  }
  if (!inbound_group_allowed(addr, inbound, params_.network == Network::kRegtest)) {
    log_debug("net", "refused inbound connection from {}: {} inbound from its network group {}", addr.to_string(),
              kMaxInboundPerGroup, network_group(addr));
    return;
  }
  if (!accept_slot_free(addr) && !evict_inbound()) return;
  start_connection(std::move(socket), ConnectionType::kInbound, addr);
}

std::size_t ConnManager::inbound_unfinished_handshakes() const {
  std::size_t n = 0;
  for (const auto& [id, c] : connections_) {
    if (!c->info().inbound || !c->connected()) continue;
    EvictionCandidate e;
    e.id = id;
    if (events_) events_->eviction_hints(e);
    if (!e.handshake_done) ++n;
  }
  return n;
}

bool ConnManager::evict_inbound() {
  std::vector<EvictionCandidate> candidates;
  for (const auto& [id, c] : connections_) {
    if (!c->info().inbound || !c->connected()) continue;
    EvictionCandidate e;
    e.id = id;
    e.group = network_group(c->info().address);
    e.connected = c->stats().connected_since;
    if (events_) events_->eviction_hints(e);
    candidates.push_back(std::move(e));
  }
  const auto victim = select_inbound_to_evict(std::move(candidates));
  if (!victim) return false;
  log_debug("net", "inbound slots full: evicting peer {} for a new connection", *victim);
  connections_.at(*victim)->disconnect("evicted to make room for a new inbound connection");
  return true;
}

void ConnManager::start_connection(tcp::socket socket, ConnectionType type, net::NetAddress addr) {
  if (!configure_peer_socket(socket)) log_debug("net", "keepalive options refused for {}", addr.to_string());
  const bool inbound = type == ConnectionType::kInbound;
  ConnectionInfo info{next_id_++, inbound, addr, type};
  auto c = std::make_shared<Connection>(*this, std::move(socket), info, now());
  connections_.emplace(info.id, c);
  log_debug("net", "peer {} connected: {} {} ({})", info.id, inbound ? "inbound from" : "outbound to",
            addr.to_string(), to_string(type));
  if (events_) events_->on_connected(info);
  tasks_.spawn(fmt::format("peer {}", info.id), c->run());
}

void ConnManager::connection_closed(const std::shared_ptr<Connection>& c) {
  connections_.erase(c->id());
  if (!c->disconnect_reason().empty()) {
    log_debug("net", "peer {} ({}) gone: {}", c->id(), c->info().address.to_string(), c->disconnect_reason());
  }
  if (events_) events_->on_closed(c->id());
}

void ConnManager::deliver(PeerId peer, net::Message message) {
  const auto named = io::IoWatchdog::scope_here("p2p", net::command_of(message));  // the io watchdog's name
  if (events_) events_->on_message(peer, std::move(message));
}

Connection* ConnManager::find(PeerId id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

std::vector<std::shared_ptr<const Connection>> ConnManager::connections() const {
  std::vector<std::shared_ptr<const Connection>> out;
  for (const auto& [id, c] : connections_) out.push_back(c);
  return out;
}

// ---- MessageSink

void ConnManager::send(PeerId peer, const net::Message& m) {
  if (Connection* c = find(peer)) c->send(m);
}

void ConnManager::disconnect(PeerId peer, std::string_view reason) {
  if (Connection* c = find(peer)) c->disconnect(reason);
}

void ConnManager::discourage(PeerId peer, const net::NetAddress& address, std::string_view reason) {
  bans_.ban(BanList::key_of(address), now() + kDiscourageDuration.count());
  disconnect(peer, reason);
}

std::size_t ConnManager::send_queue_bytes(PeerId peer) const {
  auto it = connections_.find(peer);
  return it == connections_.end() ? 0 : it->second->stats().send_queue_bytes;
}

void ConnManager::pause_reading(PeerId peer, bool paused) {
  if (Connection* c = find(peer)) c->pause_reading(paused);
}

void ConnManager::listen_address(PeerId peer, const net::NetAddress& address) {
  if (Connection* c = find(peer)) c->set_listen_address(address);
}

void ConnManager::observed_address(const net::NetAddress& observed) {
  if (!options_.listen || !options_.external_ips.empty() || listen_port() == 0) return;
  net::NetAddress a = observed;
  a.port = listen_port();
  if (!local_.contains(a) && local_.add(a, kLocalDiscovered)) log_info("P2P: advertising {}", a.to_string());
}

void ConnManager::own_address(const net::NetAddress& address) {
  self_addresses_.insert(address.to_string());
  addresses_.remove(address);
}

// ---- dialling

std::set<std::string> ConnManager::connected_endpoints() const {
  std::set<std::string> out;
  for (const auto& [target, type] : pending_connects_) out.insert(target);
  for (const auto& [id, c] : connections_) {
    out.insert(c->info().address.to_string());
    if (c->listen_address()) out.insert(c->listen_address()->to_string());
  }
  return out;
}

asio::awaitable<void> ConnManager::tick_loop() {
  auto last_save = std::chrono::steady_clock::now();
  auto last_dial = std::chrono::steady_clock::time_point{};
  while (!stopping_) {
    {
      // Named for the io watchdog (until the wait below, not during it).
      const auto named = io::IoWatchdog::scope_here("p2p", "tick");
      const auto t = std::chrono::steady_clock::now();
      if (t - last_dial >= std::chrono::seconds(1)) {
        last_dial = t;
        dial_more(connected_endpoints());
      }
      if (events_) events_->on_tick();
      if (t - last_save > kAddrBookSaveInterval) {
        addresses_.save(options_.datadir / "peers.json");
        last_save = t;
      }
    }
    tick_timer_->expires_after(kConnManagerTick);
    co_await tick_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void ConnManager::dial_more(const std::set<std::string>& endpoints) {
  // -connect: only those; otherwise -addnode/added nodes, then anchors and the address book.
  const std::vector<std::string>& fixed = options_.connect.empty() ? added_nodes_ : options_.connect;
  for (const auto& target : fixed) {
    auto parsed = net::NetAddress::parse_endpoint(target, params_.default_p2p_port);
    const std::string key = parsed ? parsed->to_string() : target;
    if (endpoints.contains(key) || pending_connects_.contains(target)) continue;
    tasks_.spawn("connect " + target, connect_to(target, ConnectionType::kManual));
  }
  if (!options_.connect.empty()) return;
  DialRound r = dial_round(endpoints);
  bootstrap_round();
  dial_anchors(r);
  dial_from_book(r, ConnectionType::kOutboundFullRelay, wanted_full_relay(), false);
  // A stale tip: one full-relay connection more, to a network group none of our outbound peers is
  // in (off regtest), and the outbound peers rotate until the tip moves.
  rotate_stale_outbound(r);
  if (stale_tip_) {
    dial_from_book(r, ConnectionType::kOutboundFullRelay, wanted_full_relay() + 1,
                   params_.network != Network::kRegtest);
  }
  dial_from_book(r, ConnectionType::kBlockRelayOnly, wanted_block_relay(), false);
  evict_extra_block_relay(r);
  // Taking the probe consumes its schedule: only when this round may still dial (pacing).
  if (r.book_dials < kMaxOutboundDialsPerRound &&
      extra_block_relay_.take(std::chrono::steady_clock::now(), r.counts.block_relay, wanted_block_relay(), rng_)) {
    log_debug("net", "probing with an extra block-relay-only connection");
    dial_from_book(r, ConnectionType::kBlockRelayOnly, wanted_block_relay() + 1, false);
  }
  const OutboundCounts want{wanted_full_relay(), wanted_block_relay(), 0};
  if (options_.feelers && feelers_.take(std::chrono::steady_clock::now(), r.counts, want)) {
    dial_from_book(r, ConnectionType::kFeeler, 1, false);
  }
}

void ConnManager::rotate_stale_outbound(const DialRound& r) {
  const auto t = std::chrono::steady_clock::now();
  if (!stale_tip_ || r.counts.full_relay <= wanted_full_relay() || !events_) {
    stale_extra_since_ = {};
    return;
  }
  if (stale_extra_since_ == std::chrono::steady_clock::time_point{}) stale_extra_since_ = t;
  if (t - stale_extra_since_ < kStaleTipRotation) return;
  stale_extra_since_ = {};
  std::optional<EvictionCandidate> oldest;
  for (const auto& [id, c] : connections_) {
    if (c->info().inbound || c->info().type != ConnectionType::kOutboundFullRelay) continue;
    EvictionCandidate e;
    e.id = id;
    events_->eviction_hints(e);
    if (!oldest || e.last_block < oldest->last_block) oldest = e;
  }
  if (oldest) disconnect(oldest->id, "the tip is stale: trying another outbound peer");
}

void ConnManager::initial_sync_done() { extra_block_relay_.start(std::chrono::steady_clock::now(), rng_); }

void ConnManager::evict_extra_block_relay(const DialRound& r) {
  if (r.counts.block_relay <= wanted_block_relay() || !events_) return;
  std::vector<EvictionCandidate> peers;
  for (const auto& [id, c] : connections_) {
    if (c->info().inbound || c->info().type != ConnectionType::kBlockRelayOnly || !c->connected()) continue;
    EvictionCandidate e;
    e.id = id;
    e.connected = c->stats().connected_since;
    events_->eviction_hints(e);
    if (e.handshake_done) peers.push_back(e);
  }
  if (auto id = ExtraBlockRelay::select_to_evict(peers, wanted_block_relay(), std::chrono::steady_clock::now())) {
    disconnect(*id, "one block-relay-only connection too many: keeping the one that gave us a block last");
  }
}

ConnManager::DialRound ConnManager::dial_round(const std::set<std::string>& endpoints) const {
  DialRound r;
  r.exclude = endpoints;
  r.exclude.insert(self_addresses_.begin(), self_addresses_.end());
  for (const auto& l : local_.all()) r.exclude.insert(l.address.to_string());
  r.now = now();
  // Outbound peers in distinct network groups (off regtest); feelers do not stay, so they neither
  // count nor take a group.
  for (const auto& [id, c] : connections_) {
    if (c->info().inbound || c->info().type == ConnectionType::kAddrFetch) continue;
    ++slot(r.counts, c->info().type);
    if (c->info().type != ConnectionType::kFeeler) r.groups.insert(network_group(c->info().address));
  }
  for (const auto& [target, type] : pending_connects_) {
    if (type == ConnectionType::kAddrFetch) continue;
    ++slot(r.counts, type);
    if (type == ConnectionType::kFeeler) continue;
    if (auto a = net::NetAddress::parse_endpoint(target, params_.default_p2p_port))
      r.groups.insert(network_group(*a));
  }
  count_sources(r);
  return r;
}

void ConnManager::dial_anchors(DialRound& r) {
  const bool regtest = params_.network == Network::kRegtest;
  while (!anchors_.empty() && r.counts.block_relay < wanted_block_relay()) {
    const net::NetAddress a = anchors_.front();
    anchors_.erase(anchors_.begin());
    if (r.exclude.contains(a.to_string()) || bans_.is_banned(a, r.now)) continue;
    if (!options_.reachable.contains(a) || !outbound_group_allowed(a, r.groups, regtest)) continue;
    log_info("Reconnecting to anchor {} (block-relay-only)", a.to_string());
    dial(r, a, ConnectionType::kBlockRelayOnly);
  }
}

void ConnManager::dial_from_book(DialRound& r, ConnectionType type, std::size_t wanted, bool new_group_only) {
  const bool regtest = params_.network == Network::kRegtest;
  const bool paced = type != ConnectionType::kFeeler;
  for (std::size_t tries = 0; slot(r.counts, type) < wanted && tries < 8; ++tries) {
    if (paced && r.book_dials >= kMaxOutboundDialsPerRound) break;
    // A feeler tests an address not yet tried: one from the book's new table. Full-relay peers
    // come from several sources (bootstrap.hpp: kMaxOutboundFromOneSource).
    const bool mixed = type == ConnectionType::kOutboundFullRelay;
    const bool one_source_ok = std::chrono::steady_clock::now() - started_ >= kOneSourceGrace;
    auto candidate = mixed ? select_full_relay(addresses_, r.exclude, r.sources, one_source_ok, r.now, rng_)
                           : addresses_.select(r.exclude, r.now, rng_, type == ConnectionType::kFeeler);
    if (!candidate) break;
    r.exclude.insert(candidate->to_string());
    if (bans_.is_banned(*candidate, r.now) || !options_.reachable.contains(*candidate)) continue;  // -onlynet
    // A feeler may test an address of a group we have a peer in: it does not stay.
    if (type != ConnectionType::kFeeler && !outbound_group_allowed(*candidate, r.groups, regtest)) continue;
    if (new_group_only && r.groups.contains(network_group(*candidate))) continue;
    dial(r, *candidate, type);
    r.book_dials += paced;
  }
}

void ConnManager::dial(DialRound& r, const net::NetAddress& a, ConnectionType type) {
  r.exclude.insert(a.to_string());
  if (type != ConnectionType::kFeeler) r.groups.insert(network_group(a));
  if (type == ConnectionType::kOutboundFullRelay) count_source(r, a);
  ++slot(r.counts, type);
  log_debug("net", "dialling {} ({})", a.to_string(), to_string(type));
  tasks_.spawn("connect " + a.to_string(), connect_to(a.to_string(), type));
}

void ConnManager::save_anchors() {
  if (!options_.connect.empty()) return;
  std::vector<net::NetAddress> anchors;
  for (const auto& [id, c] : connections_) {
    if (c->info().kind() != ConnectionType::kBlockRelayOnly || !c->connected()) continue;
    EvictionCandidate e;
    e.id = id;
    if (events_) events_->eviction_hints(e);
    if (!e.handshake_done) continue;
    anchors.push_back(c->info().address);
    if (anchors.size() == kMaxAnchors) break;
  }
  if (!write_anchors(anchors_file(options_.datadir), anchors)) {
    log_info("Cannot write {}", anchors_file(options_.datadir).string());
  } else if (!anchors.empty()) {
    log_info("Saved {} block-relay-only peer(s) to anchors.json", anchors.size());
  }
}

asio::awaitable<std::optional<net::NetAddress>> ConnManager::resolve(const std::string& target) {
  auto addr = net::NetAddress::parse_endpoint(target, params_.default_p2p_port);
  if (addr) co_return addr;
  // A host name: resolved asynchronously, on the io thread's resolver service.
  const auto colon = target.rfind(':');
  const std::string host = colon == std::string::npos ? target : target.substr(0, colon);
  const std::string port = colon == std::string::npos ? std::to_string(params_.default_p2p_port)
                                                      : target.substr(colon + 1);
  tcp::resolver resolver(io_);
  auto [ec, results] = co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
  if (ec || results.empty()) {
    log_debug("net", "cannot resolve {}: {}", target, ec.message());
    co_return std::nullopt;
  }
  co_return to_net_address(results.begin()->endpoint());
}

asio::awaitable<void> ConnManager::connect_to(std::string target, ConnectionType type) {
  pending_connects_.emplace(target, type);
  struct Done {
    ConnManager* self;
    std::string key;
    ~Done() { self->pending_connects_.erase(key); }
  } done{this, target};
  const std::optional<net::NetAddress> addr = co_await resolve(target);
  if (addr && type == ConnectionType::kManual) resolved_targets_.insert_or_assign(target, *addr);
  if (!addr || bans_.is_banned(*addr, now())) co_return;
  addresses_.mark_attempt(*addr, now());
  tcp::socket socket(io_);
  asio::steady_timer timeout(io_, kConnectTimeout);
  timeout.async_wait([&socket](const boost::system::error_code& ec) {
    if (ec) return;
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  auto [ec] = co_await socket.async_connect(to_endpoint(*addr), asio::as_tuple(asio::use_awaitable));
  timeout.cancel();
  if (ec || stopping_) {
    log_debug("net", "cannot connect to {}: {}", addr->to_string(), ec ? ec.message() : "shutting down");
    co_return;
  }
  start_connection(std::move(socket), type, *addr);
}

// ---- RPC

std::string ConnManager::addnode(const std::string& target, const std::string& command) {
  if (command == "add") {
    if (std::find(added_nodes_.begin(), added_nodes_.end(), target) != added_nodes_.end())
      return "Node already added";
    added_nodes_.push_back(target);
    return "";
  }
  if (command == "remove") {
    auto it = std::find(added_nodes_.begin(), added_nodes_.end(), target);
    if (it == added_nodes_.end()) return "Node has not been added";
    added_nodes_.erase(it);
    return "";
  }
  if (command == "onetry") {
    tasks_.spawn("connect " + target, connect_to(target, ConnectionType::kManual));
    return "";
  }
  return "command must be add, remove or onetry";
}

bool ConnManager::disconnect_node(const std::string& address, PeerId id) {
  bool found = false;
  for (auto& [pid, c] : connections_) {
    if ((id != 0 && pid == id) || (!address.empty() && c->info().address.to_string() == address)) {
      c->disconnect("disconnectnode");
      found = true;
    }
  }
  return found;
}

std::map<std::string, std::int64_t> ConnManager::banned() const { return bans_.active(now()); }

void ConnManager::ban(const std::string& key, std::int64_t until, std::string_view reason) {
  bans_.ban(key, until);
  for (auto& [id, c] : connections_) {
    const auto& a = c->info().address;
    if (a.ip_string() == key || a.to_string() == key) c->disconnect(reason);
  }
}

void ConnManager::add_tracker_peers(const std::vector<net::NetAddress>& peers, const net::NetAddress& tracker) {
  for (const auto& a : peers) {
    if (options_.reachable.contains(a)) addresses_.add(a, "tracker", tracker, now());  // -onlynet
  }
}

}  // namespace cheese
