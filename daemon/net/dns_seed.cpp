#include "daemon/net/dns_seed.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>

#include "primitives/bytes.hpp"
#include "primitives/sha256.hpp"

namespace cheese {

net::NetAddress dns_seed_source(std::string_view host) {
  Sha256 h;
  h.write(as_bytes("cheesechain dns seed "));
  h.write(as_bytes(host));
  const auto d = h.finalize();
  net::NetAddress a;
  a.ip[0] = 0xfd;  // a unique local address: never a real node's, never dialled
  std::copy(d.begin(), d.begin() + 15, a.ip.begin() + 1);
  a.port = kDnsSeedSourcePort;
  return a;
}

std::vector<net::NetAddress> resolve_seed_blocking(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // A and AAAA (no AI_ADDRCONFIG: the book keeps both families)
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return {};
  std::vector<net::NetAddress> out;
  for (const addrinfo* ai = res; ai != nullptr && out.size() < kMaxDnsSeedAddresses; ai = ai->ai_next) {
    net::NetAddress a;
    if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      std::array<std::uint8_t, 4> v4{};
      std::memcpy(v4.data(), &sin->sin_addr, 4);
      a = net::NetAddress::from_ipv4(v4, port);
    } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      std::memcpy(a.ip.data(), &sin6->sin6_addr, 16);
      a.port = port;
    } else {
      continue;
    }
    if (std::none_of(out.begin(), out.end(), [&a](const net::NetAddress& o) { return o.same_endpoint(a); })) {
      out.push_back(a);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

DnsSeeder::DnsSeeder(boost::asio::io_context& io) : io_(io) {}

DnsSeeder::~DnsSeeder() {
  std::lock_guard lock(guard_->mutex);
  guard_->alive = false;
}

boost::asio::awaitable<std::vector<net::NetAddress>> DnsSeeder::lookup(std::string host, std::uint16_t port,
                                                                       std::chrono::milliseconds timeout) {
  // The answer and the timer that waits for it live on the io thread; the resolver thread only
  // posts the answer there, and only while this object (so the io_context) still exists.
  struct Answer {
    std::optional<std::vector<net::NetAddress>> addresses;
    std::weak_ptr<boost::asio::steady_timer> waiting;
  };
  auto answer = std::make_shared<Answer>();
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, timeout);
  answer->waiting = timer;
  std::thread([guard = guard_, executor = io_.get_executor(), answer, host, port] {
    auto addresses = resolve_seed_blocking(host, port);
    std::lock_guard lock(guard->mutex);
    if (!guard->alive) return;
    boost::asio::post(executor, [answer, addresses = std::move(addresses)]() mutable {
      answer->addresses = std::move(addresses);
      if (auto t = answer->waiting.lock()) t->cancel();
    });
  }).detach();
  co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return answer->addresses.value_or(std::vector<net::NetAddress>{});
}

}  // namespace cheese
