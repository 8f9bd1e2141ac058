#pragma once

// DNS seeds (docs/protocol.md 7.5): a seed's A and AAAA records are addresses of nodes, taken
// with the network's default port. Looked up through the system resolver (getaddrinfo, so
// /etc/resolv.conf and /etc/hosts apply) on a thread of its own per seed, never on the io thread;
// a seed that does not answer within kDnsSeedTimeout is given up and its late answer dropped.

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace cheese {

//! Longest a DNS seed lookup may take; then it is given up (the resolver thread finishes alone).
inline constexpr std::chrono::seconds kDnsSeedTimeout{10};
//! Addresses taken from one seed's answer at most (Core: 256); the rest are dropped.
inline constexpr std::size_t kMaxDnsSeedAddresses = 256;
//! Port of the pseudo address that stands for a DNS seed as an address-book source.
inline constexpr std::uint16_t kDnsSeedSourcePort = 53;

//! The address a DNS seed counts as when the book buckets what it told us (Core resolves the
//! seed's name to an "internal" address): fdXX:XXXX:... from SHA-256 of the name, so each seed is
//! a source network group of its own.
net::NetAddress dns_seed_source(std::string_view host);

//! The A/AAAA records of `host` through getaddrinfo, with `port`, duplicates removed, at most
//! kMaxDnsSeedAddresses. Blocks: call it on a worker thread. Empty on any failure.
std::vector<net::NetAddress> resolve_seed_blocking(const std::string& host, std::uint16_t port);

//! Runs DNS seed lookups on threads of their own and brings their answers back to the io thread.
//! A lookup that outlives this object (or its io_context) is dropped when it ends.
class DnsSeeder {
 public:
  explicit DnsSeeder(boost::asio::io_context& io);
  ~DnsSeeder();
  DnsSeeder(const DnsSeeder&) = delete;
  DnsSeeder& operator=(const DnsSeeder&) = delete;

  //! The seed's addresses, or nothing when it failed or took longer than `timeout`.
  boost::asio::awaitable<std::vector<net::NetAddress>> lookup(std::string host, std::uint16_t port,
                                                              std::chrono::milliseconds timeout);

 private:
  //! Whether the io_context may still be posted to (false once this object is destroyed).
  struct Guard {
    std::mutex mutex;
    bool alive = true;
  };
  boost::asio::io_context& io_;
  std::shared_ptr<Guard> guard_ = std::make_shared<Guard>();
};

}  // namespace cheese
