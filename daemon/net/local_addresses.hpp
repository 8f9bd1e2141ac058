#pragma once

// Which networks the node dials (-onlynet) and which of its own addresses it advertises
// (-externalip, -bind, what a tracker saw): Bitcoin Core's g_reachable_nets and mapLocalHost.
// docs/protocol.md 7.6.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "net/address.hpp"

namespace cheese {

//! The IP networks cheesechain speaks (Bitcoin Core's NET_IPV4, NET_IPV6; no Tor, I2P or CJDNS).
enum class IpNetwork { kIpv4, kIpv6 };
inline constexpr IpNetwork kAllIpNetworks[] = {IpNetwork::kIpv4, IpNetwork::kIpv6};

//! "ipv4" or "ipv6" (the names of -onlynet and getnetworkinfo).
std::string_view to_string(IpNetwork n);
//! "ipv4" or "ipv6" (case-insensitive); nullopt for anything else.
std::optional<IpNetwork> parse_ip_network(std::string_view name);
//! IPv4 for an IPv4-mapped address, else IPv6.
IpNetwork network_of(const net::NetAddress& a);

//! The networks automatic outbound connections may use: all by default; with -onlynet only those
//! named. Addresses of the others are neither stored (from addr or a tracker) nor dialled from the
//! address book; inbound and manual (-connect, -addnode, onetry) connections are not limited.
class ReachableNetworks {
 public:
  ReachableNetworks() = default;
  //! Only `only` (all when empty).
  explicit ReachableNetworks(const std::vector<IpNetwork>& only);
  bool contains(IpNetwork n) const { return n == IpNetwork::kIpv4 ? ipv4_ : ipv6_; }
  bool contains(const net::NetAddress& a) const { return contains(network_of(a)); }

 private:
  bool ipv4_ = true;
  bool ipv6_ = true;
};

//! How a local address was learned; a higher score wins when several could be advertised
//! (Bitcoin Core's LOCAL_IF .. LOCAL_MANUAL).
enum LocalScore : int {
  kLocalDiscovered = 1,  //!< a tracker saw our connection come from it (`registered.observed_ip`)
  kLocalBind = 2,        //!< a specific address given to -bind
  kLocalManual = 4,      //!< -externalip
};

//! Local addresses kept at most; more are not added (a tracker reporting a new address on every
//! registration cannot grow the list).
inline constexpr std::size_t kMaxLocalAddresses = 16;

//! One address the node may advertise, with its score.
struct LocalAddress {
  net::NetAddress address;  //!< ip and port (time and services unset)
  int score = 0;
};

//! The node's own addresses, as peers should dial them: sent in `version` (addr_from), in the
//! `addr` the node announces itself with, and shown by getnetworkinfo (`localaddresses`).
class LocalAddresses {
 public:
  explicit LocalAddresses(ReachableNetworks reachable = {}, bool regtest = false)
      : reachable_(reachable), regtest_(regtest) {}

  //! Adds `a` learned with `score`; an address known already takes the higher score plus one
  //! (Bitcoin Core's AddLocal). Refused (false): port 0, unspecified, on a network that is not
  //! reachable, not routable off regtest (regtest also takes loopback and private addresses:
  //! tests), or a new address beyond kMaxLocalAddresses.
  bool add(const net::NetAddress& a, int score);
  //! What to advertise to a peer at `peer`: the best-scored address of the peer's network, else
  //! the best of the others; nullopt when there is none.
  std::optional<net::NetAddress> best_for(const net::NetAddress& peer) const;
  bool contains(const net::NetAddress& a) const;
  const std::vector<LocalAddress>& all() const { return entries_; }
  const ReachableNetworks& reachable() const { return reachable_; }

 private:
  ReachableNetworks reachable_;
  bool regtest_ = false;
  std::vector<LocalAddress> entries_;  //!< in the order learned (ties go to the first)
};

}  // namespace cheese
