// cheese-tracker in-process on 127.0.0.1 (ephemeral port), driven by plain blocking sockets that
// speak frames. Every wait is bounded by a deadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "consensus/params.hpp"
#include "net/protocol.hpp"
#include "tracker_registry.hpp"
#include "tracker_server.hpp"

using namespace cheese;
using namespace cheese::tracker;
using namespace std::chrono_literals;

namespace {

const NetworkMagic& regtest_magic() { return chain_params(Network::kRegtest).magic; }
const NetworkMagic& main_magic() { return chain_params(Network::kMain).magic; }

using SteadyClock = std::chrono::steady_clock;

//! Options for tests whose clients all come from 127.0.0.1 (one IP, one /16): room for many.
TrackerOptions loopback_options() {
  TrackerOptions o;
  o.max_per_ip = 64;
  o.max_per_group = net::kMaxTrackerPeers;
  return o;
}

//! A tracker on its own io thread, logging into a vector.
class TrackerFixture {
 public:
  explicit TrackerFixture(TrackerOptions o = loopback_options()) {
    o.bind = "127.0.0.1";
    o.port = 0;
    tracker_ = std::make_unique<Tracker>(io_, o, [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
    tracker_->start();
    port = tracker_->local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TrackerFixture() {
    asio::post(io_, [this] { tracker_->stop(); });
    thread_.join();
  }
  TrackerFixture(const TrackerFixture&) = delete;
  TrackerFixture& operator=(const TrackerFixture&) = delete;

  bool log_contains(std::string_view needle) {
    std::lock_guard lock(mutex_);
    return std::any_of(lines_.begin(), lines_.end(),
                       [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  }

  std::uint16_t port = 0;

 private:
  asio::io_context io_{1};
  std::unique_ptr<Tracker> tracker_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

//! A node's P2P port as the tracker's connect-back sees it: on 127.0.0.1 (ephemeral port), it
//! answers each connection's `version` with its own `version` (its nonce, its network), or, when
//! `answers` is false, accepts and says nothing. Its thread polls in 50 ms steps until destroyed.
class FakeNode {
 public:
  explicit FakeNode(std::uint64_t nonce, Network network = Network::kRegtest, bool answers = true)
      : nonce_(nonce), network_(network), answers_(answers) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeNode() { stop(); }
  FakeNode(const FakeNode&) = delete;
  FakeNode& operator=(const FakeNode&) = delete;

  //! Stops listening (the port then refuses connections).
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::uint64_t nonce() const { return nonce_; }
  std::uint16_t port = 0;
  std::atomic<int> handshakes{0};

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      // The tracker's version arrives first; answer once its header is in (bounded wait).
      std::array<std::uint8_t, 512> buf{};
      pollfd q{c, POLLIN, 0};
      if (::poll(&q, 1, 2000) > 0 && ::recv(c, buf.data(), buf.size(), 0) > 0 && answers_) {
        net::VersionMsg v;
        v.network = std::string(chain_params(network_).name);
        v.nonce = nonce_;
        v.user_agent = "/fake/";
        const auto frame = net::encode_frame(chain_params(network_).magic, v);
        (void)::send(c, frame.data(), frame.size(), MSG_NOSIGNAL);
        ++handshakes;
      }
      if (!answers_) ::poll(&q, 1, 200);
      ::close(c);
    }
  }

  std::uint64_t nonce_;
  Network network_;
  bool answers_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

//! A blocking TCP client speaking frames; reads wait at most the given time.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void send_bytes(ByteSpan bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the tracker closed: a later read reports it
      off += static_cast<std::size_t>(n);
    }
  }
  void send_text(std::string_view s) {
    send_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  void send(const net::Message& m, const NetworkMagic& magic = regtest_magic()) {
    send_bytes(net::encode_frame(magic, m));
  }

  //! Reads exactly n bytes; false on close, error or timeout.
  bool read_exact(std::uint8_t* out, std::size_t n, std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    std::size_t got = 0;
    while (got < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      const auto r = ::recv(fd_, out + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }

  //! The next message (any magic), or nullopt on close/timeout.
  std::optional<net::Message> recv(std::chrono::milliseconds timeout = 3000ms) {
    std::array<std::uint8_t, net::kFrameHeaderSize> h{};
    if (!read_exact(h.data(), h.size(), timeout)) return std::nullopt;
    const auto magics = net::all_network_magics();
    auto header = net::decode_frame_header(h, std::span<const NetworkMagic>(magics));
    REQUIRE(header);
    Bytes payload(header->length);
    if (header->length > 0 && !read_exact(payload.data(), payload.size(), timeout)) return std::nullopt;
    REQUIRE(net::checksum_matches(*header, payload));
    auto msg = net::decode_message(header->command, payload);
    REQUIRE(msg);
    return std::move(*msg);
  }

  template <typename T>
  T expect(std::chrono::milliseconds timeout = 3000ms) {
    auto m = recv(timeout);
    REQUIRE(m);
    REQUIRE(std::holds_alternative<T>(*m));
    return std::get<T>(*m);
  }

  //! True when the tracker closes the connection within `timeout` (data before the close is skipped).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    std::array<std::uint8_t, 4096> buf{};
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
      const auto r = ::recv(fd_, buf.data(), buf.size(), 0);
      if (r <= 0) return true;
    }
  }

  //! Everything until the tracker closes (for HTTP), bounded by `timeout`.
  std::string read_all(std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = SteadyClock::now() + timeout;
    std::string out;
    std::array<char, 4096> buf{};
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
      if (left <= 0) return out;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return out;
      const auto r = ::recv(fd_, buf.data(), buf.size(), 0);
      if (r <= 0) return out;
      out.append(buf.data(), static_cast<std::size_t>(r));
    }
  }

  //! register -> registered (a node with 54 free inbound slots).
  net::RegisteredMsg register_node(std::uint16_t listen_port, std::uint64_t nonce,
                                   const NetworkMagic& magic = regtest_magic()) {
    send(net::RegisterMsg{net::kTrackerProtocolVersion, listen_port, nonce, 0, 54}, magic);
    return expect<net::RegisteredMsg>();
  }
  //! Registers the fake node's port and nonce.
  net::RegisteredMsg register_node(const FakeNode& n, const NetworkMagic& magic = regtest_magic()) {
    return register_node(n.port, n.nonce(), magic);
  }
  //! register refused: the tracker's trackererror, then the close.
  net::TrackerErrorMsg register_refused(std::uint16_t listen_port, std::uint64_t nonce) {
    send(net::RegisterMsg{net::kTrackerProtocolVersion, listen_port, nonce, 0, 54});
    auto e = expect<net::TrackerErrorMsg>();
    CHECK(closed_within(3000ms));
    return e;
  }
  void heartbeat(const net::RegisteredMsg& r, std::uint16_t inbound = 0) {
    send(net::HeartbeatMsg{r.node_id, r.secret, inbound, 54});
  }
  std::vector<net::NetAddress> get_peers(const NetworkMagic& magic = regtest_magic()) {
    send(net::GetPeersMsg{}, magic);
    return expect<net::PeersMsg>().peers;
  }

 private:
  int fd_ = -1;
};

std::map<std::string, std::uint32_t> get_status(std::uint16_t port) {
  Client c(port);
  c.send(net::GetStatusMsg{});
  std::map<std::string, std::uint32_t> out;
  for (const auto& n : c.expect<net::StatusMsg>().networks) out[n.network] = n.peers;
  return out;
}

//! Polls until the tracker counts `want` nodes of `network`; bounded by `timeout`.
bool wait_for_count(std::uint16_t port, const std::string& network, std::uint32_t want,
                    std::chrono::milliseconds timeout = 5000ms) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (get_status(port)[network] == want) return true;
    std::this_thread::sleep_for(50ms);
  }
  return get_status(port)[network] == want;
}

//! Listed (connect-back passed) registrations, all networks, from GET /status.
std::uint32_t listed_total(std::uint16_t port) {
  Client http(port);
  http.send_text("GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string reply = http.read_all();
  const auto at = reply.find("\"listed\":{");
  if (at == std::string::npos) return 0;
  std::uint32_t sum = 0;
  const auto end = reply.find('}', at);
  for (auto colon = reply.find(':', at + 10); colon < end; colon = reply.find(':', colon + 1)) {
    sum += static_cast<std::uint32_t>(std::stoul(reply.substr(colon + 1)));
  }
  return sum;
}

//! Polls until `want` registrations are listed; bounded by `timeout`.
bool wait_listed(std::uint16_t port, std::uint32_t want, std::chrono::milliseconds timeout = 8000ms) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (listed_total(port) == want) return true;
    std::this_thread::sleep_for(50ms);
  }
  return listed_total(port) == want;
}

std::set<std::uint16_t> ports_of(const std::vector<net::NetAddress>& peers) {
  std::set<std::uint16_t> out;
  for (const auto& p : peers) out.insert(p.port);
  return out;
}

}  // namespace

TEST_CASE("registered: node id, secret, heartbeat interval and the observed address", "[tracker]") {
  TrackerOptions o = loopback_options();
  o.heartbeat_timeout = 90s;
  TrackerFixture t(o);
  Client c(t.port);
  const auto r = c.register_node(28433, 42);
  CHECK(r.node_id != 0);
  CHECK(r.secret != net::TrackerSecret{});
  CHECK(r.heartbeat_interval == 30);
  CHECK(r.observed.ip_string() == "127.0.0.1");
  CHECK(r.observed.port != 0);
  CHECK(t.log_contains("join regtest 127.0.0.1:28433 id "));
  // A valid heartbeat has no reply and keeps the connection open.
  c.heartbeat(r);
  CHECK_FALSE(c.recv(300ms));
  CHECK(get_status(t.port)["regtest"] == 1);
  // Secrets differ between registrations.
  Client d(t.port);
  CHECK(d.register_node(28434, 43).secret != r.secret);
}

TEST_CASE("12 registrations: getpeers gives at most 10 distinct random peers, never the asker", "[tracker]") {
  TrackerFixture t;
  std::vector<std::unique_ptr<FakeNode>> nodes;
  std::vector<std::unique_ptr<Client>> clients;
  std::set<std::uint16_t> all;
  for (std::uint16_t i = 0; i < 12; ++i) {
    nodes.push_back(std::make_unique<FakeNode>(1000 + i));
    all.insert(nodes.back()->port);
    clients.push_back(std::make_unique<Client>(t.port));
    clients.back()->register_node(*nodes.back());
  }
  REQUIRE(wait_listed(t.port, 12));
  std::set<std::uint16_t> seen_by_first;
  for (int round = 0; round < 5; ++round) {
    for (std::uint16_t i = 0; i < 12; ++i) {
      const auto peers = clients[i]->get_peers();
      CHECK(peers.size() == net::kMaxTrackerPeers);
      const auto ports = ports_of(peers);
      CHECK(ports.size() == peers.size());  // distinct
      CHECK_FALSE(ports.contains(nodes[i]->port));
      for (const auto& p : peers) {
        CHECK(p.ip_string() == "127.0.0.1");
        CHECK(all.contains(p.port));
        CHECK(p.time > 0);
      }
      if (i == 0) seen_by_first.insert(ports.begin(), ports.end());
    }
  }
  // Random choice: over 5 rounds the first node sees (almost surely) all 11 others.
  CHECK(seen_by_first.size() >= 10);
}

TEST_CASE("fewer than 10 live peers: all the others - non-listening nodes are never handed out", "[tracker]") {
  TrackerFixture t;
  std::vector<std::unique_ptr<FakeNode>> nodes;
  std::vector<std::unique_ptr<Client>> clients;
  std::set<std::uint16_t> all;
  for (std::uint16_t i = 0; i < 4; ++i) {
    nodes.push_back(std::make_unique<FakeNode>(2000 + i));
    all.insert(nodes.back()->port);
    clients.push_back(std::make_unique<Client>(t.port));
    clients.back()->register_node(*nodes.back());
  }
  Client silent(t.port);
  silent.register_node(0, 2999);  // not listening
  REQUIRE(wait_listed(t.port, 4));
  for (std::uint16_t i = 0; i < 4; ++i) {
    auto want = all;
    want.erase(nodes[i]->port);
    CHECK(ports_of(clients[i]->get_peers()) == want);
  }
  CHECK(ports_of(silent.get_peers()).size() == 4);
  // An unregistered asker gets every listening node.
  Client anonymous(t.port);
  CHECK(ports_of(anonymous.get_peers()) == all);
  CHECK(get_status(t.port)["regtest"] == 5);
}

TEST_CASE("networks are separate", "[tracker]") {
  TrackerFixture t;
  FakeNode n1(1), n2(2), n3(3, Network::kMain), n4(4, Network::kMain), n5(5, Network::kMain);
  Client r1(t.port), r2(t.port), m1(t.port), m2(t.port), m3(t.port);
  r1.register_node(n1);
  r2.register_node(n2);
  m1.register_node(n3, main_magic());
  m2.register_node(n4, main_magic());
  m3.register_node(n5, main_magic());
  REQUIRE(wait_listed(t.port, 5));
  CHECK(ports_of(r1.get_peers()) == std::set<std::uint16_t>{n2.port});
  CHECK(ports_of(m1.get_peers(main_magic())) == std::set<std::uint16_t>{n4.port, n5.port});
  // The frame's magic picks the network of the answer.
  Client anon(t.port);
  CHECK(ports_of(anon.get_peers(main_magic())) == std::set<std::uint16_t>{n3.port, n4.port, n5.port});
  CHECK(ports_of(anon.get_peers(chain_params(Network::kTest).magic)).empty());
  const auto status = get_status(t.port);
  CHECK(status.at("regtest") == 2);
  CHECK(status.at("main") == 3);
  CHECK(status.at("test") == 0);
  // The same ip:port on two networks is two registrations (never listed on the wrong one).
  Client r3(t.port);
  r3.register_node(n3.port, 6);
  CHECK(get_status(t.port).at("main") == 3);
  CHECK(get_status(t.port).at("regtest") == 3);
}

TEST_CASE("an entry disappears when its connection closes", "[tracker]") {
  TrackerFixture t;
  FakeNode n1(1), n2(2), n3(3);
  Client a(t.port);
  auto b = std::make_unique<Client>(t.port);
  Client c(t.port);
  a.register_node(n1);
  b->register_node(n2);
  c.register_node(n3);
  REQUIRE(get_status(t.port)["regtest"] == 3);
  REQUIRE(wait_listed(t.port, 3));
  b.reset();
  CHECK(wait_for_count(t.port, "regtest", 2));
  CHECK(ports_of(a.get_peers()) == std::set<std::uint16_t>{n3.port});
  CHECK(t.log_contains(fmt::format("leave regtest 127.0.0.1:{}", n2.port)));
  CHECK(t.log_contains("(closed"));
}

TEST_CASE("an entry that stops heartbeating is forgotten - its stale id closes the connection", "[tracker]") {
  TrackerOptions o = loopback_options();
  o.heartbeat_timeout = 2s;  // heartbeat interval 1 s
  o.idle_timeout = 30s;
  TrackerFixture t(o);
  Client alive(t.port), silent(t.port);
  const auto ra = alive.register_node(35001, 1);
  CHECK(ra.heartbeat_interval == 1);
  const auto rs = silent.register_node(35002, 2);
  REQUIRE(get_status(t.port)["regtest"] == 2);
  const auto start = SteadyClock::now();
  bool gone = false;
  while (SteadyClock::now() - start < 6s) {
    alive.heartbeat(ra);
    if (get_status(t.port)["regtest"] == 1) {
      gone = true;
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  CHECK(gone);
  CHECK(SteadyClock::now() - start >= 1500ms);  // not before the timeout
  CHECK(t.log_contains("leave regtest 127.0.0.1:35002"));
  CHECK(t.log_contains("(timeout)"));
  CHECK(ports_of(alive.get_peers()).empty());
  // The heartbeating node is still live after several timeouts' worth of time.
  CHECK_FALSE(t.log_contains("leave regtest 127.0.0.1:35001"));
  // The silent node comes back with its old id: told so, then closed; it must re-register.
  silent.heartbeat(rs);
  CHECK(silent.expect<net::TrackerErrorMsg>().code == net::TrackerErrorCode::kUnknownId);
  CHECK(silent.closed_within(3000ms));
}

TEST_CASE("ownership: only the registering connection or the secret's holder changes a registration", "[tracker]") {
  TrackerFixture t;
  Client a(t.port);
  const auto first = a.register_node(36001, 77);
  // Same connection: replaced by its owner.
  const auto second = a.register_node(36001, 77);
  CHECK(second.node_id != first.node_id);
  CHECK(get_status(t.port)["regtest"] == 1);
  CHECK(t.log_contains("(replaced)"));
  // A third party that learned the nonce (every peer sees it in version) cannot take it over,
  // nor the ip:port.
  Client thief(t.port);
  CHECK(thief.register_refused(36002, 77).code == net::TrackerErrorCode::kNonceInUse);
  Client thief2(t.port);
  CHECK(thief2.register_refused(36001, 78).code == net::TrackerErrorCode::kAddressInUse);
  // Nor heartbeat or deregister it with a guessed secret.
  Client thief3(t.port);
  thief3.send(net::DeregisterMsg{second.node_id, net::TrackerSecret{}});
  CHECK(thief3.expect<net::TrackerErrorMsg>().code == net::TrackerErrorCode::kBadSecret);
  CHECK(thief3.closed_within(3000ms));
  Client thief4(t.port);
  thief4.send(net::HeartbeatMsg{second.node_id, first.secret, 0, 54});  // an old, replaced secret
  CHECK(thief4.expect<net::TrackerErrorMsg>().code == net::TrackerErrorCode::kBadSecret);
  CHECK(get_status(t.port)["regtest"] == 1);
  CHECK(t.log_contains("wrong secret"));
  // The owner still heartbeats fine.
  a.heartbeat(second);
  CHECK_FALSE(a.recv(300ms));
  // The owner, reconnecting before the tracker noticed its old connection end, deregisters with
  // its secret from the new connection and registers again.
  Client again(t.port);
  again.send(net::DeregisterMsg{second.node_id, second.secret});
  const auto third = again.register_node(36001, 77);
  CHECK(third.node_id != second.node_id);
  CHECK(t.log_contains("(deregistered)"));
  CHECK(get_status(t.port)["regtest"] == 1);
  // Closing the connection whose registration was deregistered removes nothing.
  a.close();
  std::this_thread::sleep_for(200ms);
  CHECK(get_status(t.port)["regtest"] == 1);
}

TEST_CASE("bad frames close the connection - the tracker keeps serving everyone else", "[tracker]") {
  TrackerFixture t;
  FakeNode n1(1), n2(2);
  Client good(t.port), other(t.port);
  const auto r = good.register_node(n1);
  other.register_node(n2);
  REQUIRE(wait_listed(t.port, 2));
  SECTION("bad magic") {
    Client bad(t.port);
    bad.send_bytes(net::encode_raw_frame(NetworkMagic{1, 2, 3, 4}, "getpeers", {}));
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("bad checksum") {
    Client bad(t.port);
    Bytes frame = net::encode_frame(regtest_magic(), net::HeartbeatMsg{r.node_id, r.secret, 0, 54});
    frame[20] ^= 0xff;
    bad.send_bytes(frame);
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("oversized length (codec limit)") {
    Client bad(t.port);
    Bytes frame = net::encode_frame(regtest_magic(), net::GetPeersMsg{});
    const std::uint32_t len = net::kMaxPayloadSize + 1;
    std::memcpy(frame.data() + 16, &len, 4);
    bad.send_bytes(frame);
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("larger than anything a tracker needs") {
    Client bad(t.port);
    bad.send_bytes(net::encode_raw_frame(regtest_magic(), "addr", Bytes(kMaxTrackerPayload + 1, 0)));
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("malformed payload") {
    Client bad(t.port);
    bad.send_bytes(net::encode_raw_frame(regtest_magic(), "register", Bytes{1, 2, 3}));
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("bad command field") {
    Client bad(t.port);
    Bytes frame = net::encode_frame(regtest_magic(), net::GetPeersMsg{});
    frame[4] = 'G';
    bad.send_bytes(frame);
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("garbage") {
    Client bad(t.port);
    bad.send_text("hello tracker, how are you today?");
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("unknown and P2P commands are ignored, not punished") {
    Client odd(t.port);
    odd.send_bytes(net::encode_raw_frame(regtest_magic(), "futurecmd", Bytes{9, 9}));
    odd.send(net::PingMsg{5});
    CHECK(ports_of(odd.get_peers()) == std::set<std::uint16_t>{n1.port, n2.port});
  }
  // Everyone else is still served.
  CHECK(ports_of(good.get_peers()) == std::set<std::uint16_t>{n2.port});
  good.heartbeat(r);
  CHECK(get_status(t.port)["regtest"] == 2);
}

TEST_CASE("registration limits: per IP and in total", "[tracker]") {
  SECTION("per IP, at the default bound") {
    TrackerOptions o = loopback_options();
    o.max_per_ip = kDefaultMaxPerIp;
    TrackerFixture t(o);
    std::vector<std::unique_ptr<Client>> ok;
    for (std::uint16_t i = 0; i < kDefaultMaxPerIp; ++i) {
      ok.push_back(std::make_unique<Client>(t.port));
      ok.back()->register_node(static_cast<std::uint16_t>(38001 + i), 10 + i);
    }
    Client refused(t.port);
    CHECK(refused.register_refused(38009, 99).code == net::TrackerErrorCode::kTooManyFromIp);
    CHECK(t.log_contains("too many registrations from this IP"));
    CHECK(get_status(t.port)["regtest"] == kDefaultMaxPerIp);
    // A slot frees up when a node leaves.
    ok.front().reset();
    REQUIRE(wait_for_count(t.port, "regtest", kDefaultMaxPerIp - 1));
    Client again(t.port);
    again.register_node(38009, 99);
    CHECK(get_status(t.port)["regtest"] == kDefaultMaxPerIp);
  }
  SECTION("in total") {
    TrackerOptions o = loopback_options();
    o.max_entries = 2;
    TrackerFixture t(o);
    Client a(t.port), b(t.port), c(t.port);
    a.register_node(38101, 1);
    b.register_node(38102, 2, main_magic());
    CHECK(c.register_refused(38103, 3).code == net::TrackerErrorCode::kFull);
    CHECK(t.log_contains("tracker full"));
    // Status queries still work when full.
    CHECK(get_status(t.port)["regtest"] == 1);
  }
}

TEST_CASE("idle connections are closed", "[tracker]") {
  TrackerOptions o;
  o.heartbeat_timeout = 3s;
  o.idle_timeout = 2s;
  TrackerFixture t(o);
  Client idle(t.port);
  const auto start = SteadyClock::now();
  CHECK(idle.closed_within(5000ms));
  CHECK(SteadyClock::now() - start >= 1500ms);
}

TEST_CASE("getstatus counts live nodes per network", "[tracker]") {
  TrackerFixture t;
  auto empty = get_status(t.port);
  CHECK(empty == std::map<std::string, std::uint32_t>{{"main", 0}, {"test", 0}, {"regtest", 0}});
  Client a(t.port), b(t.port), c(t.port);
  a.register_node(39001, 1);
  b.register_node(39002, 2);
  c.register_node(39003, 3, chain_params(Network::kTest).magic);
  const auto s = get_status(t.port);
  CHECK(s.at("regtest") == 2);
  CHECK(s.at("test") == 1);
  CHECK(s.at("main") == 0);
  // The reply carries the asker's magic.
  Client q(t.port);
  q.send(net::GetStatusMsg{}, main_magic());
  CHECK(q.expect<net::StatusMsg>().networks.size() == 3);
}

TEST_CASE("HTTP GET /status on the same port", "[tracker]") {
  TrackerFixture t;
  FakeNode n1(1);
  Client a(t.port), b(t.port);
  a.register_node(40001, 7);
  b.register_node(n1);
  REQUIRE(wait_listed(t.port, 1));
  {
    Client http(t.port);
    http.send_text("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88\r\nAccept: */*\r\n\r\n");
    const std::string reply = http.read_all();
    CHECK(reply.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(reply.find("Content-Type: application/json") != std::string::npos);
    const auto body = reply.substr(reply.find("\r\n\r\n") + 4);
    CHECK(body ==
          "{\"networks\":{\"main\":0,\"test\":0,\"regtest\":2},\"listed\":{\"main\":0,\"test\":0,\"regtest\":1},"
          "\"peers\":2}\n");
    const auto cl = reply.find("Content-Length: ");
    REQUIRE(cl != std::string::npos);
    CHECK(std::stoul(reply.substr(cl + 16)) == body.size());
  }
  {
    Client http(t.port);
    http.send_text("GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(http.read_all().starts_with("HTTP/1.1 404 Not Found\r\n"));
  }
  {
    // An endless header is cut off, not buffered.
    Client http(t.port);
    http.send_text("GET /status HTTP/1.1\r\n");
    http.send_text(std::string(kMaxHttpRequestBytes + 100, 'x'));
    CHECK(http.closed_within(3000ms));
  }
  // The binary clients were not disturbed.
  CHECK(ports_of(a.get_peers()) == std::set<std::uint16_t>{n1.port});
}

TEST_CASE("a PROXY line is accepted only from a -trustedproxy", "[tracker]") {
  SECTION("no trusted proxy (default): refused") {
    TrackerFixture t;
    Client c(t.port);
    c.send_text("PROXY TCP4 127.0.0.77 127.0.0.1 40000 9999\r\n");
    CHECK(c.closed_within(3000ms));
    CHECK(t.log_contains("not a -trustedproxy"));
  }
  SECTION("another source is trusted: refused") {
    TrackerOptions o = loopback_options();
    o.trusted_proxies.push_back(*Cidr::parse("10.0.0.0/8"));
    TrackerFixture t(o);
    Client c(t.port);
    c.send_text("PROXY TCP4 127.0.0.77 127.0.0.1 40000 9999\r\n");
    c.send(net::RegisterMsg{net::kTrackerProtocolVersion, 8433, 5, 0, 54});
    CHECK(c.closed_within(3000ms));
    CHECK(get_status(t.port)["regtest"] == 0);
  }
  SECTION("from a trusted proxy: the claimed source address is recorded") {
    TrackerOptions o = loopback_options();
    o.trusted_proxies.push_back(*Cidr::parse("127.0.0.1"));
    TrackerFixture t(o);
    FakeNode n(5);  // on 127.0.0.1: the claimed address must stay on loopback (the tracker dials it)
    Client c(t.port);
    c.send_text("PROXY TCP4 127.0.0.1 127.0.0.1 40000 9999\r\n");
    const auto r = c.register_node(n);
    CHECK(r.observed.to_string() == "127.0.0.1:40000");
    CHECK(t.log_contains(fmt::format("join regtest 127.0.0.1:{}", n.port)));
    CHECK(wait_listed(t.port, 1));
  }
}

TEST_CASE("CIDR ranges of -trustedproxy", "[tracker]") {
  const auto ip = [](const char* text) { return net::NetAddress::parse_ip(text, 0)->ip; };
  auto v4 = Cidr::parse("10.1.0.0/16");
  REQUIRE(v4);
  CHECK(v4->contains(ip("10.1.255.3")));
  CHECK_FALSE(v4->contains(ip("10.2.0.1")));
  auto host = Cidr::parse("192.0.2.7");
  REQUIRE(host);
  CHECK(host->contains(ip("192.0.2.7")));
  CHECK_FALSE(host->contains(ip("192.0.2.8")));
  auto v6 = Cidr::parse("2001:db8::/32");
  REQUIRE(v6);
  CHECK(v6->contains(ip("2001:db8:1::5")));
  CHECK_FALSE(v6->contains(ip("2001:db9::5")));
  CHECK(Cidr::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "host.example", "::/129"}) {
    CHECK_FALSE(Cidr::parse(bad));
  }
}

//! Registers and lists (as a passed connect-back does) a node at `a` with nonce `nonce`.
std::uint64_t add_listed(Registry& reg, const net::NetAddress& a, std::uint64_t nonce, Clock::time_point now,
                         std::uint16_t inbound = 0, std::uint16_t max_inbound = 54) {
  auto r = reg.register_node({Network::kMain, a, nonce, nonce, inbound, max_inbound}, now, 1000);
  REQUIRE(r.entry);
  REQUIRE(reg.mark_checked(r.entry->node_id, true, now + 600s) == false);
  return r.entry->node_id;
}

TEST_CASE("registry: sampling, exclusion and expiry", "[tracker]") {
  Registry reg(Registry::Limits{100, 100, 10}, 7);
  const auto now = Clock::now();
  std::vector<std::uint64_t> ids;
  std::vector<net::TrackerSecret> secrets;
  for (std::uint16_t i = 0; i < 30; ++i) {
    auto a = net::NetAddress::from_ipv4({10, static_cast<std::uint8_t>(i + 1), 0, 1}, 8433);
    ids.push_back(add_listed(reg, a, 100 + i, now));
    secrets.push_back(reg.find(ids.back())->secret);
  }
  CHECK(std::set<std::uint64_t>(ids.begin(), ids.end()).size() == 30);
  std::set<std::uint64_t> seen;
  for (int round = 0; round < 200; ++round) {
    const auto s = reg.sample(Network::kMain, 10, ids[0], 101);  // excludes entries 0 and 1
    REQUIRE(s.size() == 10);
    for (const auto& e : s) {
      CHECK(e.node_id != ids[0]);
      CHECK(e.nonce != 101);
      seen.insert(e.node_id);
    }
  }
  CHECK(seen.size() == 28);
  CHECK(reg.sample(Network::kTest, 10, 0, 0).empty());
  // Expiry: refresh half of them, then move time past the timeout.
  for (std::size_t i = 0; i < 15; ++i)
    CHECK(reg.heartbeat(ids[i], secrets[i], 0, 54, now + 50s, 1050) == OwnerCheck::kOk);
  const auto gone = reg.expire(now + 100s, 60s);
  CHECK(gone.size() == 15);
  CHECK(reg.size() == 15);
  CHECK(reg.count(Network::kMain) == 15);
  CHECK(reg.heartbeat(ids[20], secrets[20], 0, 54, now + 100s, 1100) == OwnerCheck::kUnknownId);
  CHECK(reg.count_ip(net::NetAddress::from_ipv4({10, 1, 0, 1}, 0).ip) == 1);
  CHECK(reg.count_ip(net::NetAddress::from_ipv4({10, 30, 0, 1}, 0).ip) == 0);
}

TEST_CASE("registry: only entries whose connect-back passed are handed out; a failed re-check unlists", "[tracker]") {
  Registry reg(Registry::Limits{100, 100, 10}, 7);
  const auto now = Clock::now();
  auto r = reg.register_node({Network::kMain, net::NetAddress::from_ipv4({10, 0, 0, 1}, 8433), 5, 1, 0, 54}, now,
                             1000);
  REQUIRE(r.entry);
  auto quiet = reg.register_node({Network::kMain, net::NetAddress::from_ipv4({10, 0, 0, 2}, 0), 6, 2, 0, 54}, now,
                                 1000);
  REQUIRE(quiet.entry);
  const auto id = r.entry->node_id;
  CHECK(reg.sample(Network::kMain, 10, 0, 0).empty());  // registered, not yet checked
  auto due = reg.take_due_checks(now, 16);
  REQUIRE(due.size() == 1);  // the non-listening one is never checked
  CHECK(due[0].node_id == id);
  CHECK(reg.take_due_checks(now, 16).empty());  // already being checked
  CHECK(reg.mark_checked(id, true, now + 600s) == false);
  CHECK(reg.sample(Network::kMain, 10, 0, 0).size() == 1);
  CHECK(reg.count_listed(Network::kMain) == 1);
  CHECK(reg.take_due_checks(now + 599s, 16).empty());
  REQUIRE(reg.take_due_checks(now + 600s, 16).size() == 1);  // the periodic re-check
  CHECK(reg.mark_checked(id, false, now + 1200s) == true);
  CHECK(reg.sample(Network::kMain, 10, 0, 0).empty());
  CHECK(reg.count_listed(Network::kMain) == 0);
  CHECK_FALSE(reg.mark_checked(0x1234, true, now));  // unknown ids are ignored
}

TEST_CASE("registry: ownership - another connection cannot replace, heartbeat or deregister", "[tracker]") {
  Registry reg(Registry::Limits{100, 100, 10}, 7);
  const auto now = Clock::now();
  const auto a = net::NetAddress::from_ipv4({10, 0, 0, 1}, 8433);
  auto victim = reg.register_node({Network::kMain, a, 77, 1, 0, 54}, now, 1000);
  REQUIRE(victim.entry);
  const auto from_elsewhere = net::NetAddress::from_ipv4({192, 0, 2, 9}, 8433);
  auto hijack = reg.register_node({Network::kMain, from_elsewhere, 77, 2, 0, 54}, now, 1000);
  CHECK(hijack.error == RegisterError::kNonceInUse);
  CHECK(hijack.replaced.empty());
  auto squat = reg.register_node({Network::kMain, a, 78, 3, 0, 54}, now, 1000);
  CHECK(squat.error == RegisterError::kAddressInUse);
  // Another network is another namespace.
  CHECK(reg.register_node({Network::kTest, from_elsewhere, 77, 4, 0, 54}, now, 1000).entry);
  net::TrackerSecret wrong = victim.entry->secret;
  wrong[0] ^= 1;
  CHECK(reg.heartbeat(victim.entry->node_id, wrong, 0, 54, now, 1000) == OwnerCheck::kBadSecret);
  CHECK(reg.deregister(victim.entry->node_id, wrong) == OwnerCheck::kBadSecret);
  REQUIRE(reg.find(victim.entry->node_id));
  CHECK(reg.find(victim.entry->node_id)->nonce == 77);
  CHECK(reg.deregister(victim.entry->node_id, victim.entry->secret) == OwnerCheck::kOk);
  CHECK_FALSE(reg.find(victim.entry->node_id));
  // Once it is gone, the nonce is free again.
  CHECK(reg.register_node({Network::kMain, from_elsewhere, 77, 2, 0, 54}, now, 1000).entry);
}

TEST_CASE("registry: at most max_per_group entries of one /16 or /32 in one answer", "[tracker]") {
  Registry reg(Registry::Limits{1000, 100, kDefaultMaxPerGroup}, 11);
  const auto now = Clock::now();
  // 40 nodes in 10.1/16 (an attacker's range), 3 in 10.2/16, 1 each in 5 other /16s, 6 in one IPv6 /32.
  for (std::uint8_t i = 0; i < 40; ++i)
    add_listed(reg, net::NetAddress::from_ipv4({10, 1, i, 1}, 8433), 1000 + i, now);
  for (std::uint8_t i = 0; i < 3; ++i)
    add_listed(reg, net::NetAddress::from_ipv4({10, 2, i, 1}, 8433), 2000 + i, now);
  for (std::uint8_t i = 0; i < 5; ++i) {
    add_listed(reg, net::NetAddress::from_ipv4({static_cast<std::uint8_t>(20 + i), 0, 0, 1}, 8433), 3000 + i, now);
  }
  for (std::uint8_t i = 0; i < 6; ++i) {
    add_listed(reg, *net::NetAddress::parse_ip(fmt::format("2001:db8:{}::1", i + 1), 8433), 4000 + i, now);
  }
  for (int round = 0; round < 100; ++round) {
    const auto s = reg.sample(Network::kMain, net::kMaxTrackerPeers, 0, 0);
    CHECK(s.size() == net::kMaxTrackerPeers);  // 2 + 2 + 5 + 2 groups' worth: 11 >= 10
    std::map<std::string, std::size_t> groups;
    for (const auto& e : s) ++groups[e.address.ip_group()];
    for (const auto& [g, n] : groups) {
      CAPTURE(g);
      CHECK(n <= kDefaultMaxPerGroup);
    }
  }
}

TEST_CASE("registry: answers favour nodes with free inbound slots", "[tracker]") {
  Registry reg(Registry::Limits{1000, 100, 10}, 13);
  const auto now = Clock::now();
  std::set<std::uint64_t> busy;
  for (std::uint8_t i = 0; i < 20; ++i) {
    busy.insert(add_listed(reg, net::NetAddress::from_ipv4({10, i, 0, 1}, 8433), 100 + i, now, 50, 54));
  }
  for (std::uint8_t i = 0; i < 20; ++i)
    add_listed(reg, net::NetAddress::from_ipv4({11, i, 0, 1}, 8433), 200 + i, now, 2, 54);
  std::size_t busy_picks = 0;
  for (int round = 0; round < 100; ++round) {
    for (const auto& e : reg.sample(Network::kMain, 10, 0, 0)) busy_picks += busy.contains(e.node_id) ? 1U : 0U;
  }
  // 48 free slots against 4: each busy node weighs 2^-22 of a free one; uniform would give ~500.
  CHECK(busy_picks <= 5);
  // With only busy nodes left, they are still handed out (a full node may evict).
  Registry only_busy(Registry::Limits{1000, 100, 10}, 13);
  for (std::uint8_t i = 0; i < 3; ++i)
    add_listed(only_busy, net::NetAddress::from_ipv4({10, i, 0, 1}, 8433), 1 + i, now, 54, 54);
  CHECK(only_busy.sample(Network::kMain, 10, 0, 0).size() == 3);
}

TEST_CASE("registry: a node claiming more free slots than kMaxWeightedFreeSlots is not favoured", "[tracker]") {
  Registry reg(Registry::Limits{1000, 100, 10}, 17);
  const auto now = Clock::now();
  const auto liar = add_listed(reg, net::NetAddress::from_ipv4({10, 0, 0, 1}, 8433), 1, now, 0, 0xffff);
  for (std::uint8_t i = 0; i < 20; ++i) {
    add_listed(reg, net::NetAddress::from_ipv4({11, i, 0, 1}, 8433), 100 + i, now, 0, kMaxWeightedFreeSlots);
  }
  int with_liar = 0;
  for (int round = 0; round < 200; ++round) {
    const auto s = reg.sample(Network::kMain, 10, 0, 0);
    with_liar += std::any_of(s.begin(), s.end(), [&](const Entry& e) { return e.node_id == liar; }) ? 1 : 0;
  }
  // Equal weights: in about 10 of 21 answers (95 of 200); uncapped it would be in all 200.
  CHECK(with_liar < 160);
}

TEST_CASE("options: defaults, values and errors", "[tracker]") {
  auto parse = [](std::vector<const char*> argv, TrackerOptions& o) {
    argv.insert(argv.begin(), "cheese-tracker");
    bool help = false;
    return parse_tracker_options(static_cast<int>(argv.size()), argv.data(), o, help);
  };
  TrackerOptions d;
  REQUIRE_FALSE(parse({}, d));
  CHECK(d.port == 9999);
  CHECK(d.bind == "0.0.0.0");
  CHECK(d.heartbeat_timeout == 90s);
  CHECK(d.heartbeat_interval() == 30s);
  CHECK(d.idle_timeout == 120s);
  CHECK(d.max_entries == 10000);
  CHECK(d.max_per_ip == 4);
  CHECK(d.max_per_group == 2);
  CHECK(d.recheck_interval == 600s);
  CHECK(d.trusted_proxies.empty());
  CHECK(d.print_to_console);

  TrackerOptions o;
  REQUIRE_FALSE(parse({"-port=12345", "-bind=127.0.0.1", "-heartbeattimeout=6", "-idletimeout=10", "-maxentries=5",
                       "-maxperip=2", "-maxpergroup=3", "-recheckinterval=5", "-trustedproxy=10.0.0.5",
                       "-trustedproxy=2001:db8::/32", "-printtoconsole=0"},
                      o));
  CHECK(o.port == 12345);
  CHECK(o.bind == "127.0.0.1");
  CHECK(o.heartbeat_interval() == 2s);
  CHECK(o.max_entries == 5);
  CHECK(o.max_per_ip == 2);
  CHECK(o.max_per_group == 3);
  CHECK(o.recheck_interval == 5s);
  REQUIRE(o.trusted_proxies.size() == 2);
  CHECK(o.trusted_proxies[1].text == "2001:db8::/32");
  CHECK_FALSE(o.print_to_console);

  TrackerOptions e;
  CHECK(parse({"-port=70000"}, e));
  CHECK(parse({"-bind=localhost"}, e));
  CHECK(parse({"-heartbeattimeout=0"}, e));
  CHECK(parse({"-heartbeattimeout=90", "-idletimeout=30"}, e));  // idle must exceed the interval
  CHECK(parse({"-maxperip=0"}, e));
  CHECK(parse({"-nosuchoption"}, e));
  CHECK(parse({"-maxpergroup=0"}, e));
  CHECK(parse({"-maxpergroup=11"}, e));
  CHECK(parse({"-recheckinterval=0"}, e));
  CHECK(parse({"-trustedproxy=10.0.0.0/40"}, e));
  // -trustclaimedaddr trusted anyone: now an error that names its replacement.
  const auto removed = parse({"-trustclaimedaddr"}, e);
  REQUIRE(removed);
  CHECK(removed->find("-trustedproxy") != std::string::npos);
}
