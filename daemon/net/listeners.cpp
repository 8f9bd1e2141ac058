#include "daemon/net/listeners.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "util/log.hpp"

namespace cheese {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint endpoint_of(const net::NetAddress& a) {
  if (a.is_ipv4()) return {asio::ip::address_v4({a.ip[12], a.ip[13], a.ip[14], a.ip[15]}), a.port};
  return {asio::ip::address_v6(a.ip), a.port};
}

net::NetAddress address_of(const tcp::endpoint& ep) {
  if (ep.address().is_v4()) return net::NetAddress::from_ipv4(ep.address().to_v4().to_bytes(), ep.port());
  const auto v6 = ep.address().to_v6();
  if (v6.is_v4_mapped()) {
    return net::NetAddress::from_ipv4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes(), ep.port());
  }
  net::NetAddress a;
  a.ip = v6.to_bytes();
  a.port = ep.port();
  return a;
}

}  // namespace

boost::system::error_code Listeners::bind(const tcp::endpoint& ep) {
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  boost::system::error_code ec;
  acceptor->open(ep.protocol(), ec);
  // An IPv6 socket takes IPv6 only, as bitcoind's: IPv4 has its own socket (or -bind), and a
  // wildcard [::] does not collide with 0.0.0.0 on the same port.
  if (!ec && ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptors_.push_back(std::move(acceptor));
  return ec;
}

void Listeners::open(const std::vector<net::NetAddress>& binds, std::uint16_t port) {
  for (const auto& b : binds) {
    if (auto ec = bind(endpoint_of(b))) {
      close();
      throw std::runtime_error(fmt::format("cannot listen for peers on {} (-bind): {}", b.to_string(), ec.message()));
    }
  }
  if (!binds.empty()) return;
  const auto v6 = bind({asio::ip::address_v6::any(), port});
  if (v6) log_info("P2P: not listening on [::]:{} (IPv6): {}", port, v6.message());
  const auto v4 = bind({asio::ip::address_v4::any(), acceptors_.empty() ? port : this->port()});
  if (v4 && v6) {
    throw std::runtime_error(fmt::format(
        "cannot listen for peers on port {}: {} (use -port=<n>, -bind=<addr> or -listen=0)", port, v4.message()));
  }
  if (v4) log_info("P2P: not listening on 0.0.0.0:{} (IPv4): {}", this->port(), v4.message());
}

std::vector<tcp::endpoint> Listeners::endpoints() const {
  std::vector<tcp::endpoint> out;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    const auto ep = a->local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

std::vector<net::NetAddress> Listeners::addresses() const {
  std::vector<net::NetAddress> out;
  for (const auto& ep : endpoints()) out.push_back(address_of(ep));
  return out;
}

std::uint16_t Listeners::port() const {
  const auto eps = endpoints();
  return eps.empty() ? 0 : eps.front().port();
}

void Listeners::close() {
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
}

}  // namespace cheese
