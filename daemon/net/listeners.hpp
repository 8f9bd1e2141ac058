#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "net/address.hpp"

namespace cheese {

//! The P2P listening sockets (Bitcoin Core's CConnman::InitBinds), docs/protocol.md 7.6.
class Listeners {
 public:
  using tcp = boost::asio::ip::tcp;

  explicit Listeners(boost::asio::io_context& io) : io_(io) {}

  //! With `binds` (-bind): listens on each, and throws naming the first that cannot be bound.
  //! Without: dual-stack on `port`, `[::]` (IPv6 only, IPV6_V6ONLY) and `0.0.0.0`; either may
  //! fail (a host without IPv6) as long as the other listens, else it throws. A port 0 is chosen by
  //! the kernel (the second wildcard socket then takes the first one's port).
  void open(const std::vector<net::NetAddress>& binds, std::uint16_t port);
  //! The listening sockets, in the order bound.
  const std::vector<std::unique_ptr<tcp::acceptor>>& acceptors() const { return acceptors_; }
  //! Where each socket listens.
  std::vector<tcp::endpoint> endpoints() const;
  //! The same as addresses (an IPv4 socket's as IPv4).
  std::vector<net::NetAddress> addresses() const;
  //! The port of the first socket (0 when none listens).
  std::uint16_t port() const;
  void close();

 private:
  //! Binds and listens on `ep`; the error, if any.
  boost::system::error_code bind(const tcp::endpoint& ep);

  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
};

}  // namespace cheese
