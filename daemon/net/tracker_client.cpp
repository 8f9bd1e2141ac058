#include "daemon/net/tracker_client.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "daemon/net/connection.hpp"
#include "daemon/net/connman.hpp"
#include "io/frame_reader.hpp"
#include "util/log.hpp"
#include "util/time.hpp"

namespace cheese {

using namespace boost::asio::experimental::awaitable_operators;
using SteadyClock = std::chrono::steady_clock;

namespace {
constexpr std::size_t kMaxSeenPeers = 10'000;
}  // namespace

namespace {

tcp::endpoint to_endpoint(const net::NetAddress& a) {
  if (a.is_ipv4()) return {asio::ip::address_v4({a.ip[12], a.ip[13], a.ip[14], a.ip[15]}), a.port};
  return {asio::ip::address_v6(a.ip), a.port};
}

//! "host:port", "[v6]:port", "host" (default port) -> host and port text for the resolver.
std::pair<std::string, std::string> split_host_port(const std::string& target) {
  if (target.starts_with('[')) {
    const auto close = target.find(']');
    if (close != std::string::npos) {
      const std::string host = target.substr(1, close - 1);
      if (close + 1 < target.size() && target[close + 1] == ':') return {host, target.substr(close + 2)};
      return {host, std::to_string(net::kDefaultTrackerPort)};
    }
  }
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || target.find(':') != colon) {
    return {target, std::to_string(net::kDefaultTrackerPort)};
  }
  return {target.substr(0, colon), target.substr(colon + 1)};
}

}  // namespace

struct TrackerClient::Session {
  Session(asio::io_context& io, std::string target)
      : socket(io), resolver(io), tick(io), backoff_timer(io), connect_deadline(io) {
    st.address = std::move(target);
  }

  TrackerStatus st;
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer tick;  //!< the driver's wait; end() and replies cancel it
  asio::steady_timer backoff_timer;
  asio::steady_timer connect_deadline;

  // The current conversation.
  bool closed = true;
  std::string end_reason;
  bool reached = false;         //!< registered during this conversation
  net::TrackerSecret secret{};  //!< of the current registration
  SteadyClock::time_point register_sent;
  SteadyClock::time_point last_heartbeat;
  std::uint16_t reported_inbound = 0;  //!< in the last register or heartbeat
  SteadyClock::time_point last_recv;
  SteadyClock::time_point last_peer_check;
  std::optional<SteadyClock::time_point> getpeers_sent;
  std::optional<SteadyClock::time_point> probe_sent;
  bool want_peer_check = false;
  std::chrono::seconds peer_check_interval = kTrackerPeerCheckInterval;
  std::set<std::string> seen_peers;  //!< addresses this tracker gave (bounded by kMaxSeenPeers)

  // Across conversations.
  bool outage = false;  //!< "unreachable" was logged; "reachable again" is due
  //! The last registration's id and secret: deregistered first on the next connection, in case
  //! the tracker has not yet noticed the old connection end (it refuses our nonce while live).
  std::uint64_t last_id = 0;
  net::TrackerSecret last_secret{};
};

bool heartbeat_due(std::chrono::steady_clock::duration since_last, std::chrono::seconds interval,
                   std::uint16_t reported_inbound, std::uint16_t inbound) {
  if (since_last >= interval) return true;
  const int moved = std::abs(int{inbound} - int{reported_inbound});
  return moved >= kHeartbeatInboundChange && since_last >= kMinHeartbeatGap;
}

TrackerClient::TrackerClient(asio::io_context& io, const ChainParams& params, ConnManager& net,
                             std::vector<std::string> trackers)
    : io_(io),
      params_(params),
      net_(net),
      tasks_(io.get_executor(),
             [](std::string_view name, std::string_view what) { log_info("{} session ended: {}", name, what); }) {
  for (auto& t : trackers) {
    if (t.empty()) continue;  // `-tracker=` (empty) names no tracker
    sessions_.push_back(std::make_shared<Session>(io_, std::move(t)));
  }
}

TrackerClient::~TrackerClient() = default;

void TrackerClient::start() {
  if (started_) return;
  started_ = true;
  for (auto& s : sessions_) {
    log_info("Using tracker {}", s->st.address);
    tasks_.spawn("tracker " + s->st.address, run(s));
  }
}

void TrackerClient::stop() {
  stopping_ = true;
  for (auto& s : sessions_) {
    end(*s, "shutting down");
    s->resolver.cancel();
    s->backoff_timer.cancel();
    s->connect_deadline.cancel();
  }
  tasks_.close();
}

std::vector<TrackerStatus> TrackerClient::status() const {
  std::vector<TrackerStatus> out;
  for (const auto& s : sessions_) out.push_back(s->st);
  return out;
}

void TrackerClient::end(Session& s, std::string reason) {
  if (s.closed) return;
  s.closed = true;
  s.end_reason = std::move(reason);
  boost::system::error_code ec;
  s.socket.shutdown(tcp::socket::shutdown_both, ec);
  s.socket.close(ec);
  s.tick.cancel();
}

asio::awaitable<void> TrackerClient::run(std::shared_ptr<Session> s) {
  std::minstd_rand rng(std::random_device{}());  // jitter only; small, so the coroutine frame stays small
  auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kTrackerMinBackoff);
  while (!stopping_) {
    std::string why;
    try {
      why = co_await converse(s);
    } catch (const std::exception& e) {
      why = e.what();
      end(*s, why);
    }
    s->st.connected = false;
    s->st.registered = false;
    s->st.node_id = 0;
    if (stopping_) break;
    s->st.last_error = why;
    if (s->reached) backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kTrackerMinBackoff);
    // Up to 20% jitter, so that nodes dropped together by a tracker restart do not return together.
    const auto wait = backoff + std::chrono::milliseconds(
                                    std::uniform_int_distribution<std::int64_t>(0, backoff.count() / 5)(rng));
    if (!s->outage) {
      s->outage = true;
      log_info("tracker {} unreachable; retrying with backoff ({})", s->st.address, why);
    } else {
      log_debug("tracker", "tracker {} still unreachable ({}); next try in {} ms", s->st.address, why, wait.count());
    }
    s->backoff_timer.expires_after(wait);
    co_await s->backoff_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kTrackerMaxBackoff));
  }
}

asio::awaitable<std::string> TrackerClient::converse(std::shared_ptr<Session> s) {
  s->closed = false;
  s->end_reason.clear();
  s->reached = false;
  s->getpeers_sent.reset();
  s->probe_sent.reset();

  std::vector<tcp::endpoint> endpoints;
  if (auto parsed = net::NetAddress::parse_endpoint(s->st.address, net::kDefaultTrackerPort)) {
    endpoints.push_back(to_endpoint(*parsed));
  } else {
    const auto [host, port] = split_host_port(s->st.address);
    auto [ec, results] = co_await s->resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
    if (ec || results.empty()) {
      s->closed = true;
      co_return fmt::format("cannot resolve {}: {}", host, ec ? ec.message() : "no address");
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  if (stopping_ || s->closed) co_return "shutting down";

  s->socket = tcp::socket(io_);
  // The deadline closes the socket; `attempt` keeps an expiry that races the connect's completion
  // from closing the connection that follows.
  auto attempt = std::make_shared<bool>(true);
  auto timed_out = std::make_shared<bool>(false);
  s->connect_deadline.expires_after(kTrackerConnectTimeout);
  s->connect_deadline.async_wait([s, attempt, timed_out](const boost::system::error_code& ec) {
    if (ec || !*attempt) return;
    *timed_out = true;
    boost::system::error_code ignored;
    s->socket.close(ignored);
  });
  auto [cec, ep] = co_await asio::async_connect(s->socket, endpoints, asio::as_tuple(asio::use_awaitable));
  (void)ep;
  *attempt = false;
  s->connect_deadline.cancel();
  if (stopping_ || s->closed) co_return "shutting down";
  if (cec) {
    s->closed = true;
    boost::system::error_code ignored;
    s->socket.close(ignored);
    co_return *timed_out ? std::string("connect timeout") : cec.message();
  }
  boost::system::error_code ignored;
  s->socket.set_option(tcp::no_delay(true), ignored);
  s->st.connected = true;
  log_debug("tracker", "connected to tracker {}", s->st.address);

  co_await (reader(s) && driver(s));
  co_return s->end_reason.empty() ? std::string("closed") : s->end_reason;
}

asio::awaitable<bool> TrackerClient::send(std::shared_ptr<Session> s, const std::vector<std::uint8_t>& frame) {
  auto [ec, n] = co_await asio::async_write(s->socket, asio::buffer(frame), asio::as_tuple(asio::use_awaitable));
  (void)n;
  if (ec) {
    end(*s, ec.message());
    co_return false;
  }
  co_return true;
}

std::pair<std::uint16_t, std::uint16_t> TrackerClient::inbound_slots() const {
  std::size_t inbound = 0;
  for (const auto& c : net_.connections()) inbound += c->info().inbound ? 1U : 0U;
  const std::size_t max_inbound = net_.max_inbound();
  const auto clamp = [](std::size_t n) { return static_cast<std::uint16_t>(std::min<std::size_t>(n, 0xffff)); };
  return {clamp(inbound), clamp(max_inbound)};
}

asio::awaitable<void> TrackerClient::driver(std::shared_ptr<Session> s) {
  const auto& magic = params_.magic;
  if (s->last_id != 0) {
    net::DeregisterMsg old{s->last_id, s->last_secret};
    s->last_id = 0;
    if (!co_await send(s, net::encode_frame(magic, old))) co_return;
  }
  net::RegisterMsg reg;
  reg.listen_port = net_.listen_port();
  reg.node_nonce = net_.local_nonce();
  std::tie(reg.inbound, reg.max_inbound) = inbound_slots();
  s->reported_inbound = reg.inbound;
  s->register_sent = s->last_recv = SteadyClock::now();
  if (!co_await send(s, net::encode_frame(magic, reg))) co_return;
  log_debug("tracker", "tracker {} <- register (listen port {})", s->st.address, reg.listen_port);

  while (!s->closed) {
    const auto now = SteadyClock::now();
    if (!s->st.registered) {
      if (now - s->register_sent > kTrackerReplyTimeout) {
        end(*s, "no reply to register");
        co_return;
      }
    } else {
      const auto interval = std::chrono::seconds(s->st.heartbeat_interval);
      const auto [inbound, max_inbound] = inbound_slots();
      if (heartbeat_due(now - s->last_heartbeat, interval, s->reported_inbound, inbound)) {
        s->last_heartbeat = now;
        s->reported_inbound = inbound;
        net::HeartbeatMsg hb{s->st.node_id, s->secret, inbound, max_inbound};
        if (!co_await send(s, net::encode_frame(magic, hb))) co_return;
      }
      if (s->getpeers_sent) {
        if (now - *s->getpeers_sent > kTrackerReplyTimeout) {
          end(*s, "no reply to getpeers");
          co_return;
        }
      } else if (s->want_peer_check || now - s->last_peer_check >= s->peer_check_interval) {
        s->want_peer_check = false;
        s->last_peer_check = now;
        if (net_.outbound_count() < net_.wanted_outbound()) {
          s->getpeers_sent = now;
          if (!co_await send(s, net::encode_frame(magic, net::GetPeersMsg{}))) co_return;
        }
      }
      // Heartbeats have no reply: a tracker that said nothing for a while is probed with getstatus,
      // so that a dead tracker (or a half-open connection) is noticed and replaced.
      if (s->probe_sent) {
        if (now - *s->probe_sent > kTrackerReplyTimeout) {
          end(*s, "tracker not responding");
          co_return;
        }
      } else if (now - s->last_recv > interval * 3) {
        s->probe_sent = now;
        if (!co_await send(s, net::encode_frame(magic, net::GetStatusMsg{}))) co_return;
      }
    }
    if (s->closed) co_return;
    s->tick.expires_after(std::chrono::milliseconds(500));
    co_await s->tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

namespace {

//! Why a connection ended whose frame stream from the tracker failed.
std::string end_reason(const io::FrameReadError& e) {
  switch (e.kind) {
    case io::FrameReadError::kClosed: return "tracker closed the connection";
    case io::FrameReadError::kSocket: return e.message();
    case io::FrameReadError::kFrame: break;
  }
  if (e.frame == net::FrameError::kBadChecksum) return "bad checksum from tracker";
  if (e.frame == net::FrameError::kOversized) {
    return fmt::format("oversized frame from tracker (above {} bytes)", kMaxTrackerReplyPayload);
  }
  return fmt::format("bad frame from tracker: {}", e.frame ? net::to_string(*e.frame) : std::string_view("unknown"));
}

}  // namespace

asio::awaitable<void> TrackerClient::reader(std::shared_ptr<Session> s) {
  // Trackers answer with the node's own network magic (docs/protocol.md section 8).
  io::FrameReader frames(s->socket, params_.magic);
  frames.set_max_payload(kMaxTrackerReplyPayload);
  while (!s->closed) {
    auto frame = co_await frames.next();
    if (!frame) {
      end(*s, end_reason(frame.error()));
      co_return;
    }
    s->last_recv = SteadyClock::now();
    auto msg = net::decode_message(frame->command, frame->payload);
    if (!msg) {
      if (msg.error().kind == net::MessageError::kUnknownCommand) continue;
      end(*s, fmt::format("malformed {} from tracker: {}", frame->command, net::to_string(msg.error())));
      co_return;
    }
    on_message(*s, *msg);
  }
}

void TrackerClient::on_message(Session& s, const net::Message& msg) {
  if (const auto* r = std::get_if<net::RegisteredMsg>(&msg)) {
    on_registered(s, *r);
  } else if (const auto* p = std::get_if<net::PeersMsg>(&msg)) {
    on_peers(s, *p);
  } else if (std::holds_alternative<net::StatusMsg>(msg)) {
    s.probe_sent.reset();
  } else if (const auto* e = std::get_if<net::TrackerErrorMsg>(&msg)) {
    log_info("tracker {} refused us: {}", s.st.address, e->reason);
    end(s, fmt::format("tracker refused: {}", e->reason));
  }
  // Anything else from a tracker is ignored.
}

void TrackerClient::on_registered(Session& s, const net::RegisteredMsg& r) {
  s.st.registered = true;
  s.st.node_id = r.node_id;
  s.secret = r.secret;
  s.last_id = r.node_id;
  s.last_secret = r.secret;
  // A tracker asking for heartbeats more often than every second is not obeyed.
  s.st.heartbeat_interval = std::max<std::uint32_t>(1, r.heartbeat_interval);
  s.st.observed = r.observed.to_string();
  net_.observed_address(r.observed);  // advertised with our listen port (unless -externalip)
  s.st.registered_since = unix_now();
  s.st.registrations += 1;
  s.st.last_error.clear();
  s.last_heartbeat = SteadyClock::now();
  s.reached = true;
  s.want_peer_check = true;
  s.peer_check_interval = kTrackerPeerCheckInterval;
  if (s.outage) {
    s.outage = false;
    log_info("tracker {} reachable again; registered as id {:016x}", s.st.address, r.node_id);
  } else {
    log_info("tracker {}: registered as id {:016x}, seen as {}, heartbeat every {} s", s.st.address, r.node_id,
             s.st.observed, s.st.heartbeat_interval);
  }
  s.tick.cancel();  // ask for peers right away
}

void TrackerClient::on_peers(Session& s, const net::PeersMsg& p) {
  s.getpeers_sent.reset();
  s.st.peers_received += p.peers.size();
  std::vector<net::NetAddress> usable;
  bool news = false;
  for (const auto& a : p.peers) {
    if (a.port == 0 || a.is_unspecified()) continue;
    usable.push_back(a);
    if (s.seen_peers.size() >= kMaxSeenPeers) s.seen_peers.clear();
    news |= s.seen_peers.insert(a.to_string()).second;
  }
  // Asking again every few seconds for the same few addresses only loads the tracker. An empty
  // answer is not that: the first nodes of a network ask before any is listed, and a node with
  // inbound peers only sends no getaddr (it would stay without outbound peers for a minute).
  s.peer_check_interval = news || usable.empty() ? kTrackerPeerCheckInterval
                                                 : std::min(s.peer_check_interval * 2, kTrackerMaxPeerCheckInterval);
  log_debug("tracker", "tracker {} -> peers: {} addresses", s.st.address, usable.size());
  if (usable.empty()) return;
  // The address book buckets the addresses by their source: this tracker's address.
  boost::system::error_code ec;
  const auto remote = s.socket.remote_endpoint(ec);
  const auto tracker = ec ? std::nullopt : net::NetAddress::parse_ip(remote.address().to_string(), remote.port());
  net_.add_tracker_peers(usable, tracker.value_or(net::NetAddress{}));  // unknown: one shared group
}

}  // namespace cheese
