#include "daemon/net/net_manager.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "util/log.hpp"
#include "daemon/node/block_processor.hpp"
#include "daemon/node/context.hpp"

namespace cheese {

namespace {

constexpr std::string_view kUserAgent = "/cheesed:0.1.0/";
//! Entries an `addr` may carry when it is not the reply to our `getaddr`.
constexpr std::size_t kMaxUnsolicitedAddr = 10;

net::NetAddress to_net_address(const tcp::endpoint& ep) {
  net::NetAddress a;
  if (ep.address().is_v4()) {
    a = net::NetAddress::from_ipv4(ep.address().to_v4().to_bytes(), ep.port());
  } else {
    const auto v6 = ep.address().to_v6();
    if (v6.is_v4_mapped()) {
      a = net::NetAddress::from_ipv4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes(), ep.port());
    } else {
      a.ip = v6.to_bytes();
      a.port = ep.port();
    }
  }
  return a;
}

tcp::endpoint to_endpoint(const net::NetAddress& a) {
  if (a.is_ipv4()) {
    return {asio::ip::address_v4({a.ip[12], a.ip[13], a.ip[14], a.ip[15]}), a.port};
  }
  return {asio::ip::address_v6(a.ip), a.port};
}

template <typename F>
void spawn(asio::io_context& io, asio::awaitable<void> work, F&& on_error) {
  asio::co_spawn(io, std::move(work), [on_error = std::forward<F>(on_error)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      on_error(ex.what());
    }
  });
}

}  // namespace

// ---------------------------------------------------------------- AddressBook

void AddressBook::add(const net::NetAddress& a, std::string_view source, std::int64_t now) {
  if (a.port == 0 || a.is_unspecified()) return;
  const std::string key = a.to_string();
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.addr.time = std::max(it->second.addr.time, a.time ? a.time : now);
    return;
  }
  if (entries_.size() >= kMaxAddrBookEntries) {
    // Forget the entry that failed most (or the oldest) to make room.
    auto worst = std::max_element(entries_.begin(), entries_.end(), [](const auto& x, const auto& y) {
      return std::tie(x.second.failures, y.second.addr.time) < std::tie(y.second.failures, x.second.addr.time);
    });
    entries_.erase(worst);
  }
  Entry e;
  e.addr = a;
  if (e.addr.time == 0) e.addr.time = now;
  e.source = std::string(source);
  entries_.emplace(key, e);
}

void AddressBook::mark_attempt(const net::NetAddress& a, std::int64_t now) {
  if (auto it = entries_.find(a.to_string()); it != entries_.end()) {
    it->second.last_try = now;
    it->second.failures += 1;
  }
}

void AddressBook::mark_success(const net::NetAddress& a, std::int64_t now) {
  if (auto it = entries_.find(a.to_string()); it != entries_.end()) {
    it->second.last_success = now;
    it->second.failures = 0;
    it->second.addr.time = now;
  }
}

void AddressBook::remove(const net::NetAddress& a) { entries_.erase(a.to_string()); }

std::optional<net::NetAddress> AddressBook::select(const std::set<std::string>& exclude, std::int64_t now,
                                                   std::mt19937_64& rng) const {
  std::vector<const Entry*> ready;
  for (const auto& [key, e] : entries_) {
    if (exclude.contains(key)) continue;
    // Exponential backoff: 2, 4, 8 ... seconds after each failure, at most 10 minutes.
    const std::int64_t backoff = e.failures == 0 ? 0 : std::min<std::int64_t>(600, std::int64_t{1} << std::min(e.failures, 10));
    if (now - e.last_try < backoff) continue;
    ready.push_back(&e);
  }
  if (ready.empty()) return std::nullopt;
  return ready[std::uniform_int_distribution<std::size_t>(0, ready.size() - 1)(rng)]->addr;
}

std::vector<net::NetAddress> AddressBook::sample(std::size_t max, std::mt19937_64& rng) const {
  std::vector<net::NetAddress> all;
  for (const auto& [k, e] : entries_) all.push_back(e.addr);
  std::shuffle(all.begin(), all.end(), rng);
  if (all.size() > max) all.resize(max);
  return all;
}

void AddressBook::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(ss.str(), ec);
  if (ec || !v.is_array()) {
    log_info("Address book {} is unreadable; starting with an empty one", file.string());
    return;
  }
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    const auto* addr = o.if_contains("addr");
    if (!addr || !addr->is_string()) continue;
    auto parsed = net::NetAddress::parse_endpoint(std::string_view(addr->as_string()), 0);
    if (!parsed || parsed->port == 0) continue;
    Entry entry;
    entry.addr = *parsed;
    if (const auto* t = o.if_contains("time"); t && t->is_int64()) entry.addr.time = t->as_int64();
    if (const auto* t = o.if_contains("last_success"); t && t->is_int64()) entry.last_success = t->as_int64();
    if (const auto* s = o.if_contains("source"); s && s->is_string()) entry.source = std::string(s->as_string());
    entries_.emplace(entry.addr.to_string(), entry);
    if (entries_.size() >= kMaxAddrBookEntries) break;
  }
}

void AddressBook::save(const std::filesystem::path& file) const {
  boost::json::array arr;
  for (const auto& [key, e] : entries_) {
    arr.push_back(boost::json::object{{"addr", key},
                                      {"time", e.addr.time},
                                      {"last_success", e.last_success},
                                      {"source", e.source}});
  }
  const std::string text = boost::json::serialize(arr);
  const auto tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) {
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
  }
}

// ---------------------------------------------------------------- NetManager

NetManager::NetManager(asio::io_context& io, Chainstate& chain, Mempool& mempool, BlockProcessor& blocks, Options options)
    : io_(io), chain_(chain), mempool_(mempool), blocks_(blocks), options_(std::move(options)) {
  std::random_device rd;
  local_nonce_ = (std::uint64_t{rd()} << 32) | rd();
  rng_.seed((std::uint64_t{rd()} << 32) | rd());
  addresses_.load(options_.datadir / "peers.json");
  added_nodes_ = options_.addnode;
}

NetManager::~NetManager() = default;

const NetworkMagic& NetManager::magic() const { return chain_.params().magic; }
std::int64_t NetManager::now() const { return unix_now(); }

void NetManager::start() {
  if (options_.listen) {
    acceptor_ = std::make_shared<tcp::acceptor>(io_);
    boost::system::error_code ec;
    const tcp::endpoint ep(asio::ip::address_v4::any(), options_.port);
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("cannot listen for peers on port {}: {} (use -port=<n> or -listen=0)", options_.port, ec.message()));
    }
    log_info("P2P listening on port {}", listen_port());
    spawn(io_, accept_loop(), [](const std::string& e) { log_info("P2P accept loop ended: {}", e); });
  }
  spawn(io_, connection_loop(), [](const std::string& e) { log_info("P2P connection loop ended: {}", e); });
}

std::uint16_t NetManager::listen_port() const {
  if (!acceptor_) return 0;
  boost::system::error_code ec;
  auto ep = acceptor_->local_endpoint(ec);
  return ec ? options_.port : ep.port();
}

void NetManager::stop() {
  stopping_ = true;
  if (acceptor_) {
    boost::system::error_code ec;
    acceptor_->close(ec);
  }
  if (loop_timer_) loop_timer_->cancel();
  auto copy = peers_;
  for (auto& [id, p] : copy) p->disconnect("shutting down");
  addresses_.save(options_.datadir / "peers.json");
}

asio::awaitable<void> NetManager::accept_loop() {
  auto acceptor = acceptor_;
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) co_return;
      asio::steady_timer t(io_, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    if (rec) continue;
    const auto addr = to_net_address(remote);
    if (is_banned(addr)) {
      log_debug("net", "refused inbound connection from banned {}", addr.to_string());
      continue;
    }
    const std::size_t inbound = peers_.size() - outbound_count();
    const std::size_t max_inbound =
        static_cast<std::size_t>(std::max(0, options_.max_connections)) > wanted_outbound()
            ? static_cast<std::size_t>(options_.max_connections) - wanted_outbound()
            : 0;
    if (inbound >= max_inbound) {
      log_debug("net", "refused inbound connection from {}: {} inbound slots full", addr.to_string(), max_inbound);
      continue;
    }
    start_peer(std::move(socket), true, addr);
  }
}

std::size_t NetManager::outbound_count() const {
  std::size_t n = 0;
  for (const auto& [id, p] : peers_) if (!p->inbound) ++n;
  return n;
}

std::size_t NetManager::wanted_outbound() const {
  return std::min<std::size_t>(kMaxOutboundPeers, static_cast<std::size_t>(std::max(0, options_.max_connections)));
}

std::set<std::string> NetManager::connected_endpoints() const {
  std::set<std::string> out(pending_connects_.begin(), pending_connects_.end());
  for (const auto& [id, p] : peers_) {
    out.insert(p->address.to_string());
    if (p->version && p->version->listen_port != 0) {
      net::NetAddress listen = p->address;
      listen.port = p->version->listen_port;
      out.insert(listen.to_string());
    }
  }
  return out;
}

void NetManager::start_peer(tcp::socket socket, bool inbound, net::NetAddress addr) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto peer = std::make_shared<Peer>(*this, std::move(socket), inbound, next_peer_id_++, addr);
  peers_.emplace(peer->id, peer);
  log_debug("net", "peer {} connected: {} {}", peer->id, inbound ? "inbound from" : "outbound to", addr.to_string());
  if (!inbound) send_version(*peer);
  spawn(io_, peer->run(), [](const std::string& e) { log_debug("net", "peer session ended: {}", e); });
}

asio::awaitable<void> NetManager::connect_to(std::string target, bool persistent) {
  const auto key = target;
  pending_connects_.insert(key);
  struct Done {
    NetManager* self;
    std::string key;
    ~Done() { self->pending_connects_.erase(key); }
  } done{this, key};

  std::optional<net::NetAddress> addr = net::NetAddress::parse_endpoint(target, chain_.params().default_p2p_port);
  if (!addr) {
    // A host name: resolve it (asynchronously, on the io thread's resolver service).
    const auto colon = target.rfind(':');
    const std::string host = colon == std::string::npos ? target : target.substr(0, colon);
    const std::string port = colon == std::string::npos ? std::to_string(chain_.params().default_p2p_port)
                                                        : target.substr(colon + 1);
    tcp::resolver resolver(io_);
    auto [ec, results] = co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
    if (ec || results.empty()) {
      log_debug("net", "cannot resolve {}: {}", target, ec.message());
      co_return;
    }
    addr = to_net_address(results.begin()->endpoint());
  }
  if (is_banned(*addr)) co_return;
  addresses_.mark_attempt(*addr, now());
  tcp::socket socket(io_);
  asio::steady_timer timeout(io_, kConnectTimeout);
  timeout.async_wait([&socket](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  auto [ec] = co_await socket.async_connect(to_endpoint(*addr), asio::as_tuple(asio::use_awaitable));
  timeout.cancel();
  if (ec || stopping_) {
    log_debug("net", "cannot connect to {}: {}", addr->to_string(), ec ? ec.message() : "shutting down");
    co_return;
  }
  (void)persistent;
  start_peer(std::move(socket), false, *addr);
}

asio::awaitable<void> NetManager::connection_loop() {
  loop_timer_ = std::make_shared<asio::steady_timer>(io_);
  auto timer = loop_timer_;
  auto last_save = std::chrono::steady_clock::now();
  while (!stopping_) {
    const auto endpoints = connected_endpoints();
    const std::int64_t t = now();
    // -connect: only those; otherwise -addnode/added nodes, then the address book.
    std::vector<std::string> fixed = options_.connect.empty() ? added_nodes_ : options_.connect;
    for (const auto& target : fixed) {
      auto parsed = net::NetAddress::parse_endpoint(target, chain_.params().default_p2p_port);
      const std::string key = parsed ? parsed->to_string() : target;
      if (endpoints.contains(key) || pending_connects_.contains(target)) continue;
      spawn(io_, connect_to(target, true), [](const std::string& e) { log_debug("net", "connect: {}", e); });
    }
    if (options_.connect.empty()) {
      std::size_t outbound = outbound_count() + pending_connects_.size();
      auto exclude = endpoints;
    exclude.insert(self_addresses_.begin(), self_addresses_.end());
      for (std::size_t tries = 0; outbound < wanted_outbound() && tries < 8; ++tries) {
        auto candidate = addresses_.select(exclude, t, rng_);
        if (!candidate) break;
        exclude.insert(candidate->to_string());
        if (is_banned(*candidate)) continue;
        ++outbound;
        spawn(io_, connect_to(candidate->to_string(), false),
              [](const std::string& e) { log_debug("net", "connect: {}", e); });
      }
    }
    check_stalls();
    download_blocks();
    if (std::chrono::steady_clock::now() - last_save > kAddrBookSaveInterval) {
      addresses_.save(options_.datadir / "peers.json");
      last_save = std::chrono::steady_clock::now();
    }
    timer->expires_after(std::chrono::seconds(1));
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void NetManager::peer_closed(const std::shared_ptr<Peer>& peer) {
  peers_.erase(peer->id);
  for (const auto& [hash, t] : peer->blocks_in_flight) blocks_in_flight_.erase(hash);
  // Transactions asked of this peer are asked of the next peer that announced them.
  std::vector<Hash256> orphaned;
  for (const auto& [hash, r] : txs_requested_) {
    if (r.peer == peer->id) orphaned.push_back(hash);
  }
  for (const auto& hash : orphaned) retry_tx_request(hash);
  if (!peer->disconnect_reason.empty()) {
    log_debug("net", "peer {} ({}) gone: {}", peer->id, peer->address.to_string(), peer->disconnect_reason);
  }
  if (!stopping_) download_blocks();
}

void NetManager::misbehaving(Peer& peer, std::string_view reason) {
  log_info("Peer {} ({}) misbehaved: {}; disconnecting and discouraging it for {} h", peer.id,
           peer.address.to_string(), reason, kDiscourageDuration.count() / 3600);
  bans_[ban_key(peer.address)] = now() + kDiscourageDuration.count();
  peer.disconnect(fmt::format("misbehaving: {}", reason));
}

std::string NetManager::ban_key(const net::NetAddress& a) const {
  // On loopback every node shares one IP; a ban there names the exact endpoint.
  return a.is_loopback() ? a.to_string() : a.ip_string();
}

bool NetManager::is_banned(const net::NetAddress& a) const {
  const std::int64_t t = now();
  for (const auto& key : {a.ip_string(), a.to_string()}) {
    if (auto it = bans_.find(key); it != bans_.end() && it->second > t) return true;
  }
  return false;
}

void NetManager::send_version(Peer& peer) {
  net::VersionMsg v;
  v.protocol_version = net::kProtocolVersion;
  v.services = net::kServiceNetwork;
  v.timestamp = now();
  v.network = chain_.params().name;
  v.best_height = chain_.height();
  v.listen_port = options_.listen ? listen_port() : 0;
  v.nonce = local_nonce_;
  v.user_agent = std::string(kUserAgent);
  peer.send(v);
}

void NetManager::request_headers(Peer& peer, const Hash256& stop) {
  net::GetHeadersMsg m;
  // Start at the parent of our best header (as Bitcoin Core does), so that a peer with nothing
  // newer still answers with one header and we learn what it has: a node whose headers are ahead
  // of its blocks (after a restart, or after the peer that sent them left) must learn that this
  // peer can serve those blocks, and an empty `headers` would not tell it.
  const BlockIndex* from = chain_.best_header();
  if (from->prev) from = from->prev;
  m.locator = chain_.locator(from);
  if (m.locator.size() > net::kMaxLocatorHashes) m.locator.resize(net::kMaxLocatorHashes);
  m.stop_hash = stop;
  peer.send(m);
}

void NetManager::on_handshake(Peer& peer) {
  peer.handshake_done = true;
  log_info("Connected to peer {} ({} {}, {}, height {})", peer.id, peer.inbound ? "inbound" : "outbound",
           peer.address.to_string(), peer.version->user_agent, peer.version->best_height);
  if (!peer.inbound) {
    // A peer we dialed (-addnode, -connect, onetry, the book) goes into the address book, so a
    // restarted node finds it again from peers.json alone.
    addresses_.add(peer.address, "outbound", now());
    addresses_.mark_success(peer.address, now());
    peer.send(net::GetAddrMsg{});
    peer.getaddr_pending = true;
  } else if (peer.version->listen_port != 0) {
    net::NetAddress listen = peer.address;
    listen.port = peer.version->listen_port;
    listen.time = now();
    addresses_.add(listen, "inbound", now());
  }
  peer.send_ping();
  request_headers(peer);
}

asio::awaitable<void> NetManager::handle_message(std::shared_ptr<Peer> peer, net::Message msg) {
  Peer& p = *peer;
  if (!p.version) {
    if (auto* v = std::get_if<net::VersionMsg>(&msg)) {
      co_await on_version(p, std::move(*v));
    } else {
      misbehaving(p, fmt::format("{} before version", net::command_of(msg)));
    }
    co_return;
  }
  if (!p.handshake_done) {
    if (std::holds_alternative<net::VerackMsg>(msg)) {
      p.verack_received = true;
      on_handshake(p);
    } else if (std::holds_alternative<net::VersionMsg>(msg)) {
      misbehaving(p, "duplicate version");
    } else {
      misbehaving(p, fmt::format("{} before verack", net::command_of(msg)));
    }
    co_return;
  }
  if (auto* m1 = std::get_if<net::PingMsg>(&msg)) {
    p.send(net::PongMsg{m1->nonce});
  } else if (auto* m2 = std::get_if<net::PongMsg>(&msg)) {
    if (p.ping_nonce != 0 && m2->nonce == p.ping_nonce) {
      p.ping_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - p.ping_sent).count();
      p.ping_nonce = 0;
    }
  } else if (auto* m3 = std::get_if<net::InvMsg>(&msg)) {
    co_await on_inv(p, *m3);
  } else if (auto* m4 = std::get_if<net::GetDataMsg>(&msg)) {
    co_await on_getdata(p, *m4);
  } else if (auto* m5 = std::get_if<net::NotFoundMsg>(&msg)) {
    for (const auto& item : m5->items) {
      if (item.type == net::InvType::kBlock && p.blocks_in_flight.erase(item.hash)) blocks_in_flight_.erase(item.hash);
      if (item.type == net::InvType::kTx) {
        if (auto it = txs_requested_.find(item.hash); it != txs_requested_.end() && it->second.peer == p.id) {
          retry_tx_request(item.hash);
        }
      }
    }
    download_blocks();
  } else if (auto* m6 = std::get_if<net::GetHeadersMsg>(&msg)) {
    on_getheaders(p, *m6);
  } else if (auto* m7 = std::get_if<net::HeadersMsg>(&msg)) {
    co_await on_headers(p, *m7);
  } else if (auto* m8 = std::get_if<net::BlockMsg>(&msg)) {
    co_await on_block(peer, std::move(*m8));
  } else if (auto* m9 = std::get_if<net::TxMsg>(&msg)) {
    co_await on_tx(peer, std::move(*m9));
  } else if (std::holds_alternative<net::GetAddrMsg>(msg)) {
    if (!p.inbound || p.getaddr_answered) co_return;  // answered once per connection, to inbound peers
    p.getaddr_answered = true;
    net::AddrMsg reply;
    reply.addresses = addresses_.sample(net::kMaxAddrPerMessage, rng_);
    if (!reply.addresses.empty()) p.send(reply);
  } else if (auto* m10 = std::get_if<net::AddrMsg>(&msg)) {
    on_addr(p, *m10);
  } else if (std::holds_alternative<net::VersionMsg>(msg)) {
    misbehaving(p, "duplicate version");
  } else if (std::holds_alternative<net::VerackMsg>(msg)) {
    misbehaving(p, "duplicate verack");
  } else {
    // Tracker messages have no meaning between nodes; ignore them like unknown commands.
    log_debug("net", "peer {} sent {} (ignored)", p.id, net::command_of(msg));
  }
}

asio::awaitable<void> NetManager::on_version(Peer& p, net::VersionMsg m) {
  if (m.nonce == local_nonce_) {
    log_debug("net", "connected to myself at {}; dropping it", p.address.to_string());
    // The dialing side of this self-connection used our own listen address: never dial it again.
    net::NetAddress self = p.address;
    if (p.inbound) self.port = listen_port();
    self_addresses_.insert(self.to_string());
    addresses_.remove(self);
    p.disconnect("connected to self");
    co_return;
  }
  if (m.network != chain_.params().name) {
    p.disconnect(fmt::format("peer is on network '{}'", m.network));
    co_return;
  }
  if (m.protocol_version < net::kMinProtocolVersion) {
    p.disconnect(fmt::format("protocol version {} too old", m.protocol_version));
    co_return;
  }
  p.version = std::move(m);
  if (p.inbound) send_version(p);
  p.send(net::VerackMsg{});
  co_return;
}

asio::awaitable<void> NetManager::on_inv(Peer& p, const net::InvMsg& m) {
  auto& chain = chain_;
  net::GetDataMsg want;
  bool unknown_block = false;
  Hash256 last_unknown;
  for (const auto& item : m.items) {
    p.add_known(item.hash);
    if (item.type == net::InvType::kTx) {
      if (mempool_.contains(item.hash) || recent_rejects_.contains(item.hash)) continue;
      if (auto it = txs_requested_.find(item.hash); it != txs_requested_.end()) {
        // Asked of someone else already: remember this peer in case that one does not deliver.
        auto& alternatives = it->second.alternatives;
        if (it->second.peer != p.id && alternatives.size() < kMaxTxAnnouncers &&
            std::find(alternatives.begin(), alternatives.end(), p.id) == alternatives.end()) {
          alternatives.push_back(p.id);
        }
        continue;
      }
      if (p.txs_in_flight >= kMaxTxRequestsPerPeer) continue;
      txs_requested_.emplace(item.hash, TxRequest{p.id, std::chrono::steady_clock::now(), {}});
      ++p.txs_in_flight;
      want.items.push_back(item);
    } else {
      const BlockIndex* idx = chain.lookup(item.hash);
      if (!idx) {
        unknown_block = true;
        last_unknown = item.hash;
      } else if (!p.best_known || idx->chain_work > p.best_known->chain_work) {
        p.best_known = idx;
      }
    }
  }
  if (!want.items.empty()) p.send(want);
  if (unknown_block) request_headers(p, last_unknown);
  download_blocks();
  co_return;
}

asio::awaitable<void> NetManager::on_getdata(Peer& p, const net::GetDataMsg& m) {
  net::NotFoundMsg missing;
  for (const auto& item : m.items) {
    if (!p.connected()) break;
    if (item.type == net::InvType::kTx) {
      if (const auto* e = mempool_.find(item.hash)) {
        p.send(net::TxMsg{e->tx});
        p.add_known(item.hash);
      } else {
        missing.items.push_back(item);
      }
    } else {
      const BlockIndex* idx = chain_.lookup(item.hash);
      std::optional<Block> block;
      if (idx && idx->have_data() && !idx->failed()) block = chain_.read_block(item.hash);
      if (block) {
        p.send(net::BlockMsg{std::move(*block)});
        p.add_known(item.hash);
      } else {
        missing.items.push_back(item);
      }
    }
  }
  if (!missing.items.empty()) p.send(missing);
  co_return;
}

void NetManager::on_getheaders(Peer& p, const net::GetHeadersMsg& m) {
  auto& chain = chain_;
  const BlockIndex* fork = chain.find_fork(m.locator);
  net::HeadersMsg reply;
  if (!m.locator.empty() && std::find(m.locator.begin(), m.locator.end(), fork->hash) == m.locator.end()) {
    // No hash of the locator is on our chain, not even genesis: the asker is on another chain
    // (docs/protocol.md 7.2). An empty locator means genesis.
    p.send(reply);
    return;
  }
  for (std::uint64_t h = fork->height + 1; h <= chain.height() && reply.headers.size() < net::kMaxHeadersPerMessage;
       ++h) {
    const BlockIndex* idx = chain.at_height(h);
    reply.headers.push_back(idx->header);
    if (idx->hash == m.stop_hash) break;
  }
  p.send(reply);
}

asio::awaitable<void> NetManager::on_headers(Peer& p, const net::HeadersMsg& m) {
  auto& chain = chain_;
  if (m.headers.empty()) co_return;
  if (!chain.lookup(m.headers.front().prev_hash)) {
    // They are on a branch we do not know the start of: ask from our locator. Not a fault.
    request_headers(p);
    co_return;
  }
  const BlockIndex* last = nullptr;
  for (const auto& h : m.headers) {
    const BlockIndex* idx = nullptr;
    const Verdict v = chain.accept_header(h, now(), &idx);
    if (!v) {
      if (is_misbehavior(v.reason)) {
        misbehaving(p, fmt::format("invalid header {}: {}", block_hash(h).to_display_hex(), to_string(v.reason)));
      } else {
        log_debug("net", "peer {} header not accepted yet: {}", p.id, to_string(v.reason));
      }
      break;
    }
    last = idx;
    p.add_known(idx->hash);
  }
  if (last && (!p.best_known || last->chain_work > p.best_known->chain_work)) p.best_known = last;
  if (last && m.headers.size() == net::kMaxHeadersPerMessage) {
    // A whole locator from the last header (not just its hash): if the peer's chain moved
    // meanwhile, it still finds the fork point.
    net::GetHeadersMsg more;
    more.locator = chain.locator(last);
    if (more.locator.size() > net::kMaxLocatorHashes) more.locator.resize(net::kMaxLocatorHashes);
    p.send(more);
  }
  download_blocks();
  co_return;
}

void NetManager::download_blocks() {
  auto& chain = chain_;
  const std::uint64_t limit_height = chain.height() + kBlockDownloadWindow;
  for (auto& [id, peer] : peers_) {
    Peer& p = *peer;
    if (!p.handshake_done || !p.connected() || !p.best_known) continue;
    if (p.blocks_in_flight.size() >= net::kMaxBlocksInFlightPerPeer) continue;
    if (p.best_known->chain_work <= chain.tip()->chain_work && chain.is_active(p.best_known)) continue;
    // Blocks on the way from our active chain to what this peer has, lowest first.
    std::vector<const BlockIndex*> path;
    for (const BlockIndex* b = p.best_known; b && !chain.is_active(b); b = b->prev) path.push_back(b);
    std::reverse(path.begin(), path.end());
    net::GetDataMsg req;
    for (const BlockIndex* b : path) {
      if (p.blocks_in_flight.size() >= net::kMaxBlocksInFlightPerPeer) break;
      if (b->height > limit_height) break;
      if (b->have_data() || b->failed() || blocks_in_flight_.contains(b->hash) || blocks_.block_queued(b->hash)) continue;
      req.items.push_back({net::InvType::kBlock, b->hash});
      p.blocks_in_flight.emplace(b->hash, std::chrono::steady_clock::now());
      blocks_in_flight_.emplace(b->hash, p.id);
    }
    if (!req.items.empty()) p.send(req);
  }
}

void NetManager::check_stalls() {
  expire_tx_requests();
  const auto t = std::chrono::steady_clock::now();
  for (auto& [id, peer] : peers_) {
    for (const auto& [hash, since] : peer->blocks_in_flight) {
      if (t - since > options_.stall_timeout) {
        // Slow, not malicious: disconnect so another peer can serve the block; no discouragement.
        peer->disconnect(fmt::format("stalled on block {}", hash.to_display_hex()));
        break;
      }
    }
  }
}

asio::awaitable<void> NetManager::on_block(std::shared_ptr<Peer> peer, net::BlockMsg m) {
  Peer& p = *peer;
  auto block = std::make_shared<const Block>(std::move(m.block));
  const Hash256 hash = block->hash();
  p.add_known(hash);
  if (p.blocks_in_flight.erase(hash)) blocks_in_flight_.erase(hash);
  // Queued behind the blocks received before it; this peer's next message is read meanwhile, so
  // the signature checks of its next blocks overlap with connecting this one.
  std::weak_ptr<Peer> weak = peer;
  // GCC 12 destroys temporaries inside a co_await expression twice: name the callback and the
  // awaitable first.
  BlockProcessor::BlockDone done = [this, weak, hash](const BlockSubmission& s) { block_processed(weak.lock(), hash, s); };
  auto queued = blocks_.queue_block(block, p.id, std::move(done));
  co_await std::move(queued);
  download_blocks();
}

void NetManager::block_processed(const std::shared_ptr<Peer>& peer, const Hash256& hash, const BlockSubmission& s) {
  if (peer) {  // a peer that disconnected meanwhile is still discouraged for an invalid block
    Peer& p = *peer;
    const Verdict v = s.result.verdict;
    if (!v) {
      if (v.reason == Reject::kBlockUnknownParent) {
        if (p.connected()) request_headers(p);
      } else if (is_misbehavior(v.reason)) {
        misbehaving(p, fmt::format("invalid block {}: {}", hash.to_display_hex(), to_string(v.reason)));
      } else {
        log_debug("net", "block {} from peer {} not accepted: {}", hash.to_display_hex(), p.id, to_string(v.reason));
      }
    } else if (const BlockIndex* idx = chain_.lookup(hash)) {
      if (!p.best_known || idx->chain_work > p.best_known->chain_work) p.best_known = idx;
    }
  }
  download_blocks();
}

asio::awaitable<void> NetManager::on_tx(std::shared_ptr<Peer> peer, net::TxMsg m) {
  Peer& p = *peer;
  const Hash256 id = txid(m.tx);
  p.add_known(id);
  tx_request_done(id);
  if (mempool_.contains(id) || recent_rejects_.contains(id)) co_return;
  const MempoolAccept r = co_await blocks_.submit_transaction(std::move(m.tx), p.id);
  if (r.ok() || r.reason == MempoolReject::kAlreadyKnown) co_return;
  remember_reject(id);
  if (r.reason == MempoolReject::kConsensus && is_misbehavior(r.consensus)) {
    misbehaving(p, fmt::format("invalid transaction {}: {}", id.to_display_hex(), to_string(r.consensus)));
  } else {
    log_debug("mempool", "tx {} from peer {} not accepted: {}", id.to_display_hex(), p.id,
              r.reason == MempoolReject::kConsensus ? to_string(r.consensus) : to_string(r.reason));
  }
}

void NetManager::on_addr(Peer& p, const net::AddrMsg& m) {
  // docs/protocol.md 7.3: more than 10 entries only as the one reply to our getaddr.
  if (m.addresses.size() > kMaxUnsolicitedAddr) {
    if (!p.getaddr_pending) {
      log_debug("net", "peer {} sent an unsolicited addr of {} entries (ignored)", p.id, m.addresses.size());
      return;
    }
    p.getaddr_pending = false;
  }
  const std::int64_t t = now();
  for (auto a : m.addresses) {
    if (a.port == 0 || a.is_unspecified()) continue;
    // Timestamps from the future are clamped; very old ones still count as candidates.
    if (a.time > t + 600) a.time = t;
    addresses_.add(a, "gossip", t);
  }
  log_debug("net", "peer {} sent {} addresses (book has {})", p.id, m.addresses.size(), addresses_.size());
}

void NetManager::tx_request_done(const Hash256& h) {
  auto it = txs_requested_.find(h);
  if (it == txs_requested_.end()) return;
  if (auto p = peers_.find(it->second.peer); p != peers_.end() && p->second->txs_in_flight > 0) {
    --p->second->txs_in_flight;
  }
  txs_requested_.erase(it);
}

void NetManager::retry_tx_request(const Hash256& h) {
  auto it = txs_requested_.find(h);
  if (it == txs_requested_.end()) return;
  TxRequest& r = it->second;
  if (auto p = peers_.find(r.peer); p != peers_.end() && p->second->txs_in_flight > 0) --p->second->txs_in_flight;
  while (!r.alternatives.empty()) {
    const std::uint64_t next = r.alternatives.front();
    r.alternatives.erase(r.alternatives.begin());
    auto p = peers_.find(next);
    if (p == peers_.end() || !p->second->connected() || !p->second->handshake_done) continue;
    if (p->second->txs_in_flight >= kMaxTxRequestsPerPeer) continue;
    r.peer = next;
    r.since = std::chrono::steady_clock::now();
    ++p->second->txs_in_flight;
    log_debug("net", "asking peer {} for tx {} (the first announcer did not deliver)", next, h.to_display_hex());
    p->second->send(net::GetDataMsg{{{net::InvType::kTx, h}}});
    return;
  }
  txs_requested_.erase(it);
}

void NetManager::expire_tx_requests() {
  const auto limit = std::chrono::steady_clock::now() - kTxRequestTimeout;
  std::vector<Hash256> late;
  for (const auto& [hash, r] : txs_requested_) {
    if (r.since < limit) late.push_back(hash);
  }
  for (const auto& hash : late) retry_tx_request(hash);
}

void NetManager::remember_reject(const Hash256& h) {
  if (!recent_rejects_.insert(h).second) return;
  recent_rejects_order_.push_back(h);
  if (recent_rejects_order_.size() > kMaxRecentRejects) {
    recent_rejects_.erase(recent_rejects_order_.front());
    recent_rejects_order_.pop_front();
  }
}

void NetManager::blocks_connected(const std::vector<Block>& blocks, std::uint64_t /*source_peer*/) {
  if (blocks.empty()) return;
  // A transaction rejected against the old tip may be valid now.
  recent_rejects_.clear();
  recent_rejects_order_.clear();
  for (auto& [id, peer] : peers_) {
    if (!peer->handshake_done) continue;
    net::InvMsg inv;
    for (const auto& b : blocks) {
      const Hash256 h = b.hash();
      if (peer->knows(h)) continue;
      inv.items.push_back({net::InvType::kBlock, h});
      peer->add_known(h);
      if (inv.items.size() == net::kMaxInvItems) break;
    }
    if (!inv.items.empty()) peer->send(inv);
  }
}

void NetManager::chain_changed(const ProcessBlockResult& r, std::uint64_t source_peer) {
  blocks_connected(r.connected, source_peer);
  // Transfers a reorg put back into the mempool are announced again (peers that know them skip).
  for (const auto& b : r.disconnected) {
    for (const auto& tx : b.txs) {
      if (tx.is_coinbase()) continue;
      if (const Hash256 id = txid(tx); mempool_.contains(id)) transaction_accepted(id, 0);
    }
  }
}

void NetManager::transaction_accepted(const Hash256& id, std::uint64_t source_peer) {
  for (auto& [pid, peer] : peers_) {
    if (!peer->handshake_done || pid == source_peer || peer->knows(id)) continue;
    peer->add_known(id);
    peer->send(net::InvMsg{{{net::InvType::kTx, id}}});
  }
}

std::vector<std::shared_ptr<Peer>> NetManager::peers() const {
  std::vector<std::shared_ptr<Peer>> out;
  for (const auto& [id, p] : peers_) out.push_back(p);
  return out;
}

std::string NetManager::addnode(const std::string& target, const std::string& command) {
  if (command == "add") {
    if (std::find(added_nodes_.begin(), added_nodes_.end(), target) != added_nodes_.end()) {
      return "Node already added";
    }
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
    spawn(io_, connect_to(target, false), [](const std::string& e) { log_debug("net", "connect: {}", e); });
    return "";
  }
  return "command must be add, remove or onetry";
}

bool NetManager::disconnect_node(const std::string& address, std::uint64_t id) {
  bool found = false;
  for (auto& [pid, p] : peers_) {
    if ((id != 0 && pid == id) || (!address.empty() && p->address.to_string() == address)) {
      p->disconnect("disconnectnode");
      found = true;
    }
  }
  return found;
}

std::map<std::string, std::int64_t> NetManager::banned() const {
  std::map<std::string, std::int64_t> out;
  const std::int64_t t = now();
  for (const auto& [k, until] : bans_) {
    if (until > t) out.emplace(k, until);
  }
  return out;
}

void NetManager::ban(const std::string& key, std::int64_t until, std::string_view reason) {
  bans_[key] = until;
  for (auto& [id, p] : peers_) {
    if (p->address.ip_string() == key || p->address.to_string() == key) p->disconnect(reason);
  }
}

bool NetManager::unban(const std::string& key) { return bans_.erase(key) > 0; }
void NetManager::clear_bans() { bans_.clear(); }

void NetManager::add_tracker_peers(const std::vector<net::NetAddress>& peers) {
  for (const auto& a : peers) addresses_.add(a, "tracker", now());
}

}  // namespace cheese
