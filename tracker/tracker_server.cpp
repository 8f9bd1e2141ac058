#include "tracker_server.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "io/accept_loop.hpp"
#include "io/frame_reader.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

namespace cheese::tracker {

using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::array<Network, 3> kNetworks = {Network::kMain, Network::kTest, Network::kRegtest};

net::NetAddress to_net_address(const tcp::endpoint& ep) {
  net::NetAddress a;
  auto ip = ep.address();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped()) ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  if (ip.is_v4()) return net::NetAddress::from_ipv4(ip.to_v4().to_bytes(), ep.port());
  a.ip = ip.to_v6().to_bytes();
  a.port = ep.port();
  return a;
}

std::string hex_id(std::uint64_t id) { return fmt::format("{:016x}", id); }

}  // namespace

// ---------------------------------------------------------------- connection

struct Tracker::Connection {
  Connection(tcp::socket s, std::uint64_t connection_id, net::NetAddress addr)
      : socket(std::move(s)), id(connection_id), remote(addr), timer(socket.get_executor()) {}

  tcp::socket socket;
  const std::uint64_t id;
  net::NetAddress remote;      //!< source ip:port (from PROXY when trusted)
  net::IpBytes counted_ip{};   //!< the ip counted in connections_per_ip_ (the socket's)
  asio::steady_timer timer;    //!< the watchdog's; close() cancels it
  Clock::time_point deadline;  //!< the watchdog closes the connection after this
  std::uint64_t node_id = 0;   //!< registration made on this connection (0: none)
  std::uint64_t nonce = 0;
  bool closed = false;
  //! The reply being written is a `trackererror`: close once it is sent.
  std::optional<std::string> close_after_reply;
  std::string close_reason;
};

// ---------------------------------------------------------------- tracker

Tracker::Tracker(asio::io_context& io, TrackerOptions options, LogSink log)
    : io_(io),
      options_(std::move(options)),
      log_(std::move(log)),
      registry_(Registry::Limits{options_.max_entries, options_.max_per_ip, options_.max_per_group},
                std::random_device{}()),
      tasks_(io.get_executor(), [this](std::string_view name, std::string_view what) {
        // Connections end through close(); an exception escaping one is worth a line in debug only.
        if (!name.starts_with("connection") || options_.debug) logf("{} ended: {}", name, what);
      }) {}

Tracker::~Tracker() = default;

void Tracker::log(std::string_view line) const {
  if (log_) log_(line);
}

std::int64_t Tracker::unix_now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Tracker::start() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options_.bind, ec);
  if (ec) throw std::runtime_error(fmt::format("invalid bind address {}", options_.bind));
  const tcp::endpoint ep(address, options_.port);
  acceptor_ = std::make_shared<tcp::acceptor>(io_);
  acceptor_->open(ep.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && address.is_v6()) acceptor_->set_option(asio::ip::v6_only(false), ec);
  if (!ec) acceptor_->bind(ep, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot listen on {}:{}: {} (use -port=<n> or -bind=<addr>)", options_.bind,
                                         options_.port, ec.message()));
  }
  const auto bound = local_endpoint();
  logf(
      "cheese-tracker listening on {}:{} (protocol {}, heartbeat every {} s, timeout {} s, idle timeout {} s, max {} "
      "nodes, {} per IP, {} per group in an answer, connect-back every {} s, {} trusted prox{})",
      bound.address().to_string(), bound.port(), net::kTrackerProtocolVersion, options_.heartbeat_interval().count(),
      options_.heartbeat_timeout.count(), options_.idle_timeout.count(), options_.max_entries, options_.max_per_ip,
      options_.max_per_group, options_.recheck_interval.count(), options_.trusted_proxies.size(),
      options_.trusted_proxies.size() == 1 ? "y" : "ies");
  tasks_.spawn("accept loop", accept_loop());
  tasks_.spawn("expiry loop", sweep_loop());
  tasks_.spawn("connect-back loop", check_loop());
}

void Tracker::stop() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  if (sweep_timer_) sweep_timer_->cancel();
  if (check_timer_) check_timer_->cancel();
  auto copy = connections_;
  for (auto& [id, c] : copy) close(*c, "shutting down");
  tasks_.close();
  log("cheese-tracker stopping");
}

tcp::endpoint Tracker::local_endpoint() const {
  boost::system::error_code ec;
  if (!acceptor_) return {};
  auto ep = acceptor_->local_endpoint(ec);
  return ec ? tcp::endpoint{} : ep;
}

net::StatusMsg Tracker::status() const {
  net::StatusMsg s;
  for (Network n : kNetworks) {
    s.networks.push_back({chain_params(n).name, static_cast<std::uint32_t>(registry_.count(n))});
  }
  return s;
}

std::string Tracker::status_json() const {
  std::string networks;
  std::string listed;
  for (Network n : kNetworks) {
    if (!networks.empty()) networks += ',';
    if (!listed.empty()) listed += ',';
    networks += fmt::format("\"{}\":{}", chain_params(n).name, registry_.count(n));
    listed += fmt::format("\"{}\":{}", chain_params(n).name, registry_.count_listed(n));
  }
  return fmt::format("{{\"networks\":{{{}}},\"listed\":{{{}}},\"peers\":{}}}", networks, listed, registry_.size());
}

asio::awaitable<void> Tracker::accept_loop() {
  auto acceptor = acceptor_;  // stays alive while the loop runs
  co_await io::accept_loop(*acceptor, [this](tcp::socket socket) { on_accept(std::move(socket)); });
}

void Tracker::on_accept(tcp::socket socket) {
  boost::system::error_code rec;
  const auto remote = socket.remote_endpoint(rec);
  if (rec) return;
  const auto addr = to_net_address(remote);
  if (connections_.size() >= options_.max_entries + kConnectionSlack) {
    if (options_.debug) logf("refused connection from {}: too many connections", addr.to_string());
    return;
  }
  if (auto it = connections_per_ip_.find(addr.ip);
      it != connections_per_ip_.end() && it->second >= options_.max_per_ip + kPerIpConnectionSlack) {
    if (options_.debug) logf("refused connection from {}: too many connections from this IP", addr.to_string());
    return;
  }
  socket.set_option(tcp::no_delay(true), rec);
  auto c = std::make_shared<Connection>(std::move(socket), next_connection_id_++, addr);
  c->counted_ip = addr.ip;
  c->deadline = Clock::now() + options_.idle_timeout;
  connections_.emplace(c->id, c);
  ++connections_per_ip_[addr.ip];
  tasks_.spawn(fmt::format("connection {}", c->id), serve(c));
}

asio::awaitable<void> Tracker::sweep_loop() {
  sweep_timer_ = std::make_shared<asio::steady_timer>(io_);
  auto timer = sweep_timer_;
  const auto period = std::min<Clock::duration>(std::chrono::seconds(1), options_.heartbeat_timeout / 4);
  while (!stopping_) {
    for (const auto& e : registry_.expire(Clock::now(), options_.heartbeat_timeout)) {
      logf("leave {} {} id {} (timeout)", chain_params(e.network).name, e.address.to_string(), hex_id(e.node_id));
    }
    timer->expires_after(period);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

void Tracker::close(Connection& c, std::string_view reason) {
  if (c.closed) return;
  c.closed = true;
  c.close_reason = std::string(reason);
  boost::system::error_code ec;
  c.socket.shutdown(tcp::socket::shutdown_both, ec);
  c.socket.close(ec);
  c.timer.cancel();
}

void Tracker::connection_finished(const std::shared_ptr<Connection>& c) {
  if (c->node_id != 0) {
    if (auto e = registry_.remove_connection_entry(c->node_id, c->id)) {
      logf("leave {} {} id {} (closed: {})", chain_params(e->network).name, e->address.to_string(),
           hex_id(e->node_id), c->close_reason);
    }
  }
  if (options_.debug) logf("connection {} from {} closed: {}", c->id, c->remote.to_string(), c->close_reason);
  connections_.erase(c->id);
  if (auto it = connections_per_ip_.find(c->counted_ip); it != connections_per_ip_.end() && --it->second == 0) {
    connections_per_ip_.erase(it);
  }
}

asio::awaitable<void> Tracker::serve(std::shared_ptr<Connection> c) {
  try {
    co_await (reader(c) && watchdog(c));
  } catch (const std::exception& e) {
    close(*c, e.what());
  }
  close(*c, "closed");
  connection_finished(c);
}

asio::awaitable<void> Tracker::watchdog(std::shared_ptr<Connection> c) {
  while (!c->closed) {
    c->timer.expires_after(std::chrono::milliseconds(250));
    co_await c->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (c->closed) co_return;
    if (Clock::now() > c->deadline) {
      close(*c, "idle timeout");
      co_return;
    }
  }
}

namespace {

//! The close reason of a connection whose frame stream ended.
std::string end_reason(const io::FrameReadError& e) {
  if (e.kind != io::FrameReadError::kFrame || !e.frame) return "peer closed the connection";
  if (*e.frame == net::FrameError::kBadChecksum) return "bad checksum";
  if (*e.frame == net::FrameError::kOversized) {
    return fmt::format("frame exceeds the tracker's limit of {} bytes", kMaxTrackerPayload);
  }
  return fmt::format("bad frame header: {}", net::to_string(*e.frame));
}

}  // namespace

asio::awaitable<void> Tracker::reader(std::shared_ptr<Connection> c) {
  auto fail = [this, &c](std::string_view reason) { close(*c, reason); };

  // The first 4 bytes tell HTTP ("GET "), a proxy's PROXY line, or a frame's magic apart.
  std::array<std::uint8_t, 4> first{};
  auto [ec, got] = co_await asio::async_read(c->socket, asio::buffer(first), asio::as_tuple(asio::use_awaitable));
  (void)got;
  if (ec) co_return fail("peer closed the connection");
  if (std::memcmp(first.data(), "GET ", 4) == 0) {
    co_await serve_http(c);
    co_return;
  }
  const auto magics = net::all_network_magics();
  io::FrameReader frames(c->socket, std::span<const NetworkMagic>(magics));
  frames.set_max_payload(kMaxTrackerPayload);
  if (std::memcmp(first.data(), "PROX", 4) == 0) {
    if (!trusted_proxy(c->counted_ip)) {
      logf("refused a PROXY line from {}: not a -trustedproxy", c->remote.to_string());
      co_return fail("PROXY line from a source that is not a -trustedproxy");
    }
    if (!co_await read_proxy_line(c)) co_return;
  } else {
    frames.prepend(first);
  }

  while (!c->closed) {
    auto frame = co_await frames.next();
    if (!frame) co_return fail(end_reason(frame.error()));
    c->deadline = Clock::now() + options_.idle_timeout;
    const auto network = net::network_of_magic(frame->magic);
    if (!network) co_return fail("unknown network");
    auto msg = net::decode_message(frame->command, frame->payload);
    if (!msg) {
      if (msg.error().kind == net::MessageError::kUnknownCommand) {
        if (options_.debug) logf("connection {}: unknown command '{}' ignored", c->id, frame->command);
      } else {
        co_return fail(fmt::format("malformed {}: {}", frame->command, net::to_string(msg.error())));
      }
      continue;
    }
    if (options_.debug) logf("connection {} ({}) -> {}", c->id, c->remote.to_string(), frame->command);
    const Bytes answer = handle(*c, *network, frame->magic, *msg);
    if (c->closed) co_return;
    if (!answer.empty()) {
      auto [wec, wn] = co_await asio::async_write(c->socket, asio::buffer(answer),
                                                  asio::as_tuple(asio::use_awaitable));
      (void)wn;
      if (wec) co_return fail(wec.message());
    }
    if (c->close_after_reply) co_return fail(*c->close_after_reply);
  }
}

Bytes Tracker::refuse(Connection& c, const NetworkMagic& magic, net::TrackerErrorCode code, std::string reason) {
  c.close_after_reply = reason;
  return net::encode_frame(magic, net::TrackerErrorMsg{code, std::move(reason)});
}

Bytes Tracker::on_register(Connection& c, Network network, const NetworkMagic& magic, const net::RegisterMsg& reg) {
  const std::string_view net_name = chain_params(network).name;
  net::NetAddress where = c.remote;
  where.port = reg.listen_port;
  if (reg.version < net::kTrackerProtocolVersion) {
    logf("refused registration of {} {}: tracker protocol {} (an old node)", net_name, where.to_string(),
         reg.version);
    return refuse(c, magic, net::TrackerErrorCode::kOldProtocol,
                  fmt::format("this tracker speaks tracker protocol {}; your node sent a version-{} register: "
                              "upgrade the node (docs/protocol.md section 8)",
                              net::kTrackerProtocolVersion, reg.version));
  }
  RegisterRequest req{network, where, reg.node_nonce, c.id, reg.inbound, reg.max_inbound};
  auto r = registry_.register_node(req, Clock::now(), unix_now());
  for (const auto& old : r.replaced) {
    logf("leave {} {} id {} (replaced)", chain_params(old.network).name, old.address.to_string(),
         hex_id(old.node_id));
  }
  c.node_id = 0;
  if (r.error) {
    logf("refused registration of {} {}: {}", net_name, where.to_string(), to_string(*r.error));
    return refuse(c, magic, error_code(*r.error), std::string(to_string(*r.error)));
  }
  c.node_id = r.entry->node_id;
  c.nonce = reg.node_nonce;
  logf("join {} {} id {}", net_name, where.to_string(), hex_id(c.node_id));
  if (check_timer_ && reg.listen_port != 0) check_timer_->cancel();  // connect back now
  net::RegisteredMsg out;
  out.node_id = c.node_id;
  out.secret = r.entry->secret;
  out.heartbeat_interval = static_cast<std::uint32_t>(options_.heartbeat_interval().count());
  out.observed = c.remote;
  out.observed.time = 0;
  out.observed.services = 0;
  return net::encode_frame(magic, out);
}

Bytes Tracker::handle(Connection& c, Network network, const NetworkMagic& magic, const net::Message& msg) {
  if (const auto* reg = std::get_if<net::RegisterMsg>(&msg)) return on_register(c, network, magic, *reg);
  if (const auto* hb = std::get_if<net::HeartbeatMsg>(&msg)) {
    const auto r = registry_.heartbeat(hb->node_id, hb->secret, hb->inbound, hb->max_inbound, Clock::now(),
                                       unix_now());
    if (r == OwnerCheck::kBadSecret) {
      logf("refused heartbeat for id {} from {}: wrong secret", hex_id(hb->node_id), c.remote.to_string());
      return refuse(c, magic, net::TrackerErrorCode::kBadSecret, "wrong secret for this node id");
    }
    if (r == OwnerCheck::kUnknownId) {
      // The tracker restarted or the entry expired: closing tells the node to register again.
      if (options_.debug) logf("connection {}: heartbeat for unknown id {}", c.id, hex_id(hb->node_id));
      return refuse(c, magic, net::TrackerErrorCode::kUnknownId, "heartbeat for an unknown node id");
    }
    return {};
  }
  if (const auto* dr = std::get_if<net::DeregisterMsg>(&msg)) {
    Entry gone;
    const auto r = registry_.deregister(dr->node_id, dr->secret, &gone);
    if (r == OwnerCheck::kBadSecret) {
      logf("refused deregister of id {} from {}: wrong secret", hex_id(dr->node_id), c.remote.to_string());
      return refuse(c, magic, net::TrackerErrorCode::kBadSecret, "wrong secret for this node id");
    }
    if (r == OwnerCheck::kOk) {
      if (c.node_id == gone.node_id) c.node_id = 0;
      logf("leave {} {} id {} (deregistered)", chain_params(gone.network).name, gone.address.to_string(),
           hex_id(gone.node_id));
    }
    return {};  // an unknown id is already gone: nothing to say
  }
  if (std::holds_alternative<net::GetPeersMsg>(msg)) {
    net::PeersMsg out;
    for (const auto& e : registry_.sample(network, net::kMaxTrackerPeers, c.node_id, c.nonce)) {
      net::NetAddress a = e.address;
      a.time = e.last_seen_unix;
      a.services = net::kServiceNetwork;  // every cheesed serves full blocks
      out.peers.push_back(a);
    }
    return net::encode_frame(magic, out);
  }
  if (std::holds_alternative<net::GetStatusMsg>(msg)) return net::encode_frame(magic, status());
  // P2P messages and tracker replies sent to a tracker are ignored (docs/protocol.md 4.7).
  return {};
}

bool Tracker::trusted_proxy(const net::IpBytes& ip) const {
  return std::any_of(options_.trusted_proxies.begin(), options_.trusted_proxies.end(),
                     [&ip](const Cidr& c) { return c.contains(ip); });
}

asio::awaitable<void> Tracker::check_loop() {
  check_timer_ = std::make_shared<asio::steady_timer>(io_);
  auto timer = check_timer_;
  while (!stopping_) {
    const std::size_t room = kMaxConcurrentConnectBacks - std::min(running_checks_, kMaxConcurrentConnectBacks);
    for (auto& e : registry_.take_due_checks(Clock::now(), room)) {
      ++running_checks_;
      tasks_.spawn(fmt::format("connect-back {}", hex_id(e.node_id)), check_one(std::move(e)));
    }
    timer->expires_after(kConnectBackPollInterval);
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Tracker::check_one(Entry e) {
  struct Done {  // the count stays right however the coroutine ends (cancelled at stop, too)
    std::size_t& n;
    ~Done() { --n; }
  } done{running_checks_};
  const auto r = co_await connect_back(e.network, e.address, e.nonce, kConnectBackTimeout);
  if (stopping_) co_return;
  const auto was = registry_.mark_checked(e.node_id, r.ok, Clock::now() + options_.recheck_interval);
  if (!was) co_return;  // gone meanwhile
  const std::string_view net_name = chain_params(e.network).name;
  if (r.ok && !*was) logf("listed {} {} id {} (connect-back ok)", net_name, e.address.to_string(), hex_id(e.node_id));
  if (!r.ok && *was) logf("unlisted {} {} id {} ({})", net_name, e.address.to_string(), hex_id(e.node_id), r.why);
  if (!r.ok && !*was) {
    logf("not listed {} {} id {} (connect-back failed: {})", net_name, e.address.to_string(), hex_id(e.node_id),
         r.why);
  }
  if (r.ok && *was && options_.debug)
    logf("still listed {} {} id {}", net_name, e.address.to_string(), hex_id(e.node_id));
}

asio::awaitable<bool> Tracker::read_proxy_line(std::shared_ptr<Connection> c) {
  // PROXY protocol v1: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", at most 107 bytes. Read byte
  // by byte so that not one byte of the first frame is consumed.
  std::string line = "PROX";
  while (line.size() < 107 && !line.ends_with("\r\n")) {
    char ch = 0;
    auto [ec, n] = co_await asio::async_read(c->socket, asio::buffer(&ch, 1), asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) {
      close(*c, "peer closed the connection");
      co_return false;
    }
    line += ch;
  }
  if (!line.ends_with("\r\n")) {
    close(*c, "malformed PROXY line");
    co_return false;
  }
  line.resize(line.size() - 2);
  std::vector<std::string> parts;
  for (std::size_t pos = 0; pos <= line.size();) {
    const auto space = line.find(' ', pos);
    const auto end = space == std::string::npos ? line.size() : space;
    parts.push_back(line.substr(pos, end - pos));
    pos = end + 1;
  }
  if (parts.size() >= 2 && parts[0] == "PROXY" && parts[1] == "UNKNOWN") co_return true;
  if (parts.size() != 6 || parts[0] != "PROXY" || (parts[1] != "TCP4" && parts[1] != "TCP6")) {
    close(*c, "malformed PROXY line");
    co_return false;
  }
  unsigned long port = 0;
  try {
    port = std::stoul(parts[4]);
  } catch (const std::exception&) {
    port = 70000;
  }
  auto src = port <= 65535 ? net::NetAddress::parse_ip(parts[2], static_cast<std::uint16_t>(port)) : std::nullopt;
  if (!src) {
    close(*c, "malformed PROXY line");
    co_return false;
  }
  if (options_.debug) logf("connection {} from {} is proxied for {}", c->id, c->remote.to_string(), src->to_string());
  c->remote = *src;
  co_return true;
}

asio::awaitable<void> Tracker::serve_http(std::shared_ptr<Connection> c) {
  c->deadline = Clock::now() + kHttpRequestTimeout;
  std::string request = "GET ";
  auto [ec, n] = co_await asio::async_read_until(c->socket, asio::dynamic_buffer(request, kMaxHttpRequestBytes),
                                                 "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
  (void)n;
  if (ec) {
    close(*c, ec == asio::error::not_found ? "HTTP request too large" : "HTTP request incomplete");
    co_return;
  }
  const auto line_end = request.find("\r\n");
  const std::string_view line = std::string_view(request).substr(0, line_end);
  // "GET <target> HTTP/1.x"
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 + 1);
  std::string_view target = sp2 == std::string_view::npos ? line.substr(sp1 + 1)
                                                          : line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  std::string status = "200 OK";
  std::string type = "application/json";
  std::string body;
  if (target == "/status") {
    body = status_json() + "\n";
  } else {
    status = "404 Not Found";
    type = "text/plain";
    body = "404 Not found: this tracker serves GET /status\n";
  }
  const std::string response = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: "
      "close\r\n\r\n{}",
      status, type, body.size(), body);
  auto [wec, wn] = co_await asio::async_write(c->socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
  (void)wn;
  if (options_.debug) logf("connection {}: HTTP {} -> {}", c->id, target, status);
  close(*c, wec ? wec.message() : "HTTP reply sent");
}

}  // namespace cheese::tracker
