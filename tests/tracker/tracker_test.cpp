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

//! A tracker on its own io thread, logging into a vector.
class TrackerFixture {
 public:
  explicit TrackerFixture(TrackerOptions o = {}) {
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

  //! register -> registered.
  net::RegisteredMsg register_node(std::uint16_t listen_port, std::uint64_t nonce,
                                   const NetworkMagic& magic = regtest_magic()) {
    send(net::RegisterMsg{listen_port, nonce}, magic);
    return expect<net::RegisteredMsg>();
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

std::set<std::uint16_t> ports_of(const std::vector<net::NetAddress>& peers) {
  std::set<std::uint16_t> out;
  for (const auto& p : peers) out.insert(p.port);
  return out;
}

}  // namespace

TEST_CASE("registered: node id, heartbeat interval and the observed address", "[tracker]") {
  TrackerOptions o;
  o.heartbeat_timeout = 90s;
  TrackerFixture t(o);
  Client c(t.port);
  const auto r = c.register_node(28433, 42);
  CHECK(r.node_id != 0);
  CHECK(r.heartbeat_interval == 30);
  CHECK(r.observed.ip_string() == "127.0.0.1");
  CHECK(r.observed.port != 0);
  CHECK(t.log_contains("join regtest 127.0.0.1:28433 id "));
  // A valid heartbeat has no reply and keeps the connection open.
  c.send(net::HeartbeatMsg{r.node_id});
  CHECK_FALSE(c.recv(300ms));
  CHECK(get_status(t.port)["regtest"] == 1);
}

TEST_CASE("12 registrations: getpeers gives at most 10 distinct random peers, never the asker", "[tracker]") {
  TrackerFixture t;
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint16_t i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<Client>(t.port));
    clients.back()->register_node(static_cast<std::uint16_t>(30001 + i), 1000 + i);
  }
  std::set<std::uint16_t> seen_by_first;
  for (int round = 0; round < 5; ++round) {
    for (std::uint16_t i = 0; i < 12; ++i) {
      const auto peers = clients[i]->get_peers();
      CHECK(peers.size() == net::kMaxTrackerPeers);
      const auto ports = ports_of(peers);
      CHECK(ports.size() == peers.size());  // distinct
      CHECK_FALSE(ports.contains(static_cast<std::uint16_t>(30001 + i)));
      for (const auto& p : peers) {
        CHECK(p.ip_string() == "127.0.0.1");
        CHECK(p.port >= 30001);
        CHECK(p.port <= 30012);
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
  std::vector<std::unique_ptr<Client>> clients;
  for (std::uint16_t i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<Client>(t.port));
    clients.back()->register_node(static_cast<std::uint16_t>(31001 + i), 2000 + i);
  }
  Client silent(t.port);
  silent.register_node(0, 2999);  // not listening
  for (std::uint16_t i = 0; i < 4; ++i) {
    auto ports = ports_of(clients[i]->get_peers());
    std::set<std::uint16_t> want;
    for (std::uint16_t j = 0; j < 4; ++j) {
      if (j != i) want.insert(static_cast<std::uint16_t>(31001 + j));
    }
    CHECK(ports == want);
  }
  CHECK(ports_of(silent.get_peers()).size() == 4);
  // An unregistered asker gets every listening node.
  Client anonymous(t.port);
  CHECK(ports_of(anonymous.get_peers()) == std::set<std::uint16_t>{31001, 31002, 31003, 31004});
  CHECK(get_status(t.port)["regtest"] == 5);
}

TEST_CASE("networks are separate", "[tracker]") {
  TrackerFixture t;
  Client r1(t.port), r2(t.port), m1(t.port), m2(t.port), m3(t.port);
  r1.register_node(32001, 1);
  r2.register_node(32002, 2);
  m1.register_node(33001, 3, main_magic());
  m2.register_node(33002, 4, main_magic());
  m3.register_node(33003, 5, main_magic());
  CHECK(ports_of(r1.get_peers()) == std::set<std::uint16_t>{32002});
  CHECK(ports_of(m1.get_peers(main_magic())) == std::set<std::uint16_t>{33002, 33003});
  // The frame's magic picks the network of the answer.
  Client anon(t.port);
  CHECK(ports_of(anon.get_peers(main_magic())) == std::set<std::uint16_t>{33001, 33002, 33003});
  CHECK(ports_of(anon.get_peers(chain_params(Network::kTest).magic)).empty());
  const auto status = get_status(t.port);
  CHECK(status.at("regtest") == 2);
  CHECK(status.at("main") == 3);
  CHECK(status.at("test") == 0);
  // The same ip:port on two networks is two registrations.
  Client r3(t.port);
  r3.register_node(33001, 6);
  CHECK(get_status(t.port).at("main") == 3);
  CHECK(get_status(t.port).at("regtest") == 3);
}

TEST_CASE("an entry disappears when its connection closes", "[tracker]") {
  TrackerFixture t;
  Client a(t.port);
  auto b = std::make_unique<Client>(t.port);
  Client c(t.port);
  a.register_node(34001, 1);
  b->register_node(34002, 2);
  c.register_node(34003, 3);
  REQUIRE(get_status(t.port)["regtest"] == 3);
  b.reset();
  CHECK(wait_for_count(t.port, "regtest", 2));
  CHECK(ports_of(a.get_peers()) == std::set<std::uint16_t>{34003});
  CHECK(t.log_contains("leave regtest 127.0.0.1:34002"));
  CHECK(t.log_contains("(closed"));
}

TEST_CASE("an entry that stops heartbeating is forgotten - its stale id closes the connection", "[tracker]") {
  TrackerOptions o;
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
    alive.send(net::HeartbeatMsg{ra.node_id});
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
  // The silent node comes back with its old id: the tracker closes, the node must re-register.
  silent.send(net::HeartbeatMsg{rs.node_id});
  CHECK(silent.closed_within(3000ms));
}

TEST_CASE("re-registering replaces the old entry", "[tracker]") {
  TrackerFixture t;
  Client a(t.port);
  const auto first = a.register_node(36001, 77);
  // Same connection: replaced.
  const auto second = a.register_node(36001, 77);
  CHECK(second.node_id != first.node_id);
  CHECK(get_status(t.port)["regtest"] == 1);
  // Same nonce from another connection (the node reconnected): replaced.
  Client b(t.port);
  const auto third = b.register_node(36002, 77);
  CHECK(get_status(t.port)["regtest"] == 1);
  // Same ip and listen port with a new nonce (the node restarted): replaced.
  Client c(t.port);
  c.register_node(36002, 78);
  CHECK(get_status(t.port)["regtest"] == 1);
  CHECK(t.log_contains("(replaced)"));
  // The replaced registration's id is dead.
  b.send(net::HeartbeatMsg{third.node_id});
  CHECK(b.closed_within(3000ms));
  // Closing a connection whose registration was replaced removes nothing.
  a.close();
  std::this_thread::sleep_for(200ms);
  CHECK(get_status(t.port)["regtest"] == 1);
}

TEST_CASE("bad frames close the connection - the tracker keeps serving everyone else", "[tracker]") {
  TrackerFixture t;
  Client good(t.port), other(t.port);
  const auto r = good.register_node(37001, 1);
  other.register_node(37002, 2);

  SECTION("bad magic") {
    Client bad(t.port);
    bad.send_bytes(net::encode_raw_frame(NetworkMagic{1, 2, 3, 4}, "getpeers", {}));
    CHECK(bad.closed_within(3000ms));
  }
  SECTION("bad checksum") {
    Client bad(t.port);
    Bytes frame = net::encode_frame(regtest_magic(), net::HeartbeatMsg{r.node_id});
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
    CHECK(ports_of(odd.get_peers()) == std::set<std::uint16_t>{37001, 37002});
  }
  // Everyone else is still served.
  CHECK(ports_of(good.get_peers()) == std::set<std::uint16_t>{37002});
  good.send(net::HeartbeatMsg{r.node_id});
  CHECK(get_status(t.port)["regtest"] == 2);
}

TEST_CASE("registration limits: per IP and in total", "[tracker]") {
  SECTION("per IP") {
    TrackerOptions o;
    o.max_per_ip = 3;
    TrackerFixture t(o);
    std::vector<std::unique_ptr<Client>> ok;
    for (std::uint16_t i = 0; i < 3; ++i) {
      ok.push_back(std::make_unique<Client>(t.port));
      ok.back()->register_node(static_cast<std::uint16_t>(38001 + i), 10 + i);
    }
    Client refused(t.port);
    refused.send(net::RegisterMsg{38009, 99});
    CHECK(refused.closed_within(3000ms));
    CHECK(t.log_contains("too many registrations from this IP"));
    CHECK(get_status(t.port)["regtest"] == 3);
    // A slot frees up when a node leaves.
    ok.front().reset();
    REQUIRE(wait_for_count(t.port, "regtest", 2));
    Client again(t.port);
    again.register_node(38009, 99);
    CHECK(get_status(t.port)["regtest"] == 3);
  }
  SECTION("in total") {
    TrackerOptions o;
    o.max_entries = 2;
    TrackerFixture t(o);
    Client a(t.port), b(t.port), c(t.port);
    a.register_node(38101, 1);
    b.register_node(38102, 2, main_magic());
    c.send(net::RegisterMsg{38103, 3});
    CHECK(c.closed_within(3000ms));
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
  Client a(t.port), b(t.port);
  a.register_node(40001, 1);
  b.register_node(40002, 2);
  {
    Client http(t.port);
    http.send_text("GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88\r\nAccept: */*\r\n\r\n");
    const std::string reply = http.read_all();
    CHECK(reply.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(reply.find("Content-Type: application/json") != std::string::npos);
    const auto body = reply.substr(reply.find("\r\n\r\n") + 4);
    CHECK(body == "{\"networks\":{\"main\":0,\"test\":0,\"regtest\":2},\"peers\":2}\n");
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
  CHECK(ports_of(a.get_peers()) == std::set<std::uint16_t>{40002});
}

TEST_CASE("a PROXY line is trusted only with -trustclaimedaddr", "[tracker]") {
  SECTION("off (default): refused") {
    TrackerFixture t;
    Client c(t.port);
    c.send_text("PROXY TCP4 203.0.113.7 10.0.0.1 40000 9999\r\n");
    CHECK(c.closed_within(3000ms));
  }
  SECTION("on: the claimed source address is recorded") {
    TrackerOptions o;
    o.trust_claimed_addr = true;
    TrackerFixture t(o);
    Client c(t.port);
    c.send_text("PROXY TCP4 203.0.113.7 10.0.0.1 40000 9999\r\n");
    const auto r = c.register_node(8433, 5);
    CHECK(r.observed.to_string() == "203.0.113.7:40000");
    CHECK(t.log_contains("join regtest 203.0.113.7:8433"));
    Client other(t.port);
    const auto peers = other.get_peers();
    REQUIRE(peers.size() == 1);
    CHECK(peers[0].to_string() == "203.0.113.7:8433");
  }
}

TEST_CASE("registry: sampling, exclusion and expiry", "[tracker]") {
  Registry reg(Registry::Limits{100, 100}, 7);
  const auto now = Clock::now();
  std::vector<std::uint64_t> ids;
  for (std::uint16_t i = 0; i < 30; ++i) {
    auto a = net::NetAddress::from_ipv4({10, 0, 0, static_cast<std::uint8_t>(i + 1)}, 8433);
    auto r = reg.register_node(Network::kMain, a, 100 + i, i + 1, now, 1000);
    REQUIRE(r.entry);
    ids.push_back(r.entry->node_id);
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
  for (std::size_t i = 0; i < 15; ++i) CHECK(reg.heartbeat(ids[i], now + 50s, 1050));
  const auto gone = reg.expire(now + 100s, 60s);
  CHECK(gone.size() == 15);
  CHECK(reg.size() == 15);
  CHECK(reg.count(Network::kMain) == 15);
  CHECK_FALSE(reg.heartbeat(ids[20], now + 100s, 1100));
  CHECK(reg.count_ip(net::NetAddress::from_ipv4({10, 0, 0, 1}, 0).ip) == 1);
  CHECK(reg.count_ip(net::NetAddress::from_ipv4({10, 0, 0, 30}, 0).ip) == 0);
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
  CHECK(d.max_per_ip == 64);
  CHECK_FALSE(d.trust_claimed_addr);
  CHECK(d.print_to_console);

  TrackerOptions o;
  REQUIRE_FALSE(parse({"-port=12345", "-bind=127.0.0.1", "-heartbeattimeout=6", "-idletimeout=10", "-maxentries=5",
                       "-maxperip=2", "-trustclaimedaddr", "-printtoconsole=0"},
                      o));
  CHECK(o.port == 12345);
  CHECK(o.bind == "127.0.0.1");
  CHECK(o.heartbeat_interval() == 2s);
  CHECK(o.max_entries == 5);
  CHECK(o.max_per_ip == 2);
  CHECK(o.trust_claimed_addr);
  CHECK_FALSE(o.print_to_console);

  TrackerOptions e;
  CHECK(parse({"-port=70000"}, e));
  CHECK(parse({"-bind=localhost"}, e));
  CHECK(parse({"-heartbeattimeout=0"}, e));
  CHECK(parse({"-heartbeattimeout=90", "-idletimeout=30"}, e));  // idle must exceed the interval
  CHECK(parse({"-maxperip=0"}, e));
  CHECK(parse({"-nosuchoption"}, e));
}
