#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cheese::net {

//! 16 bytes of an IPv6 address in network order; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d).
using IpBytes = std::array<std::uint8_t, 16>;

//! One address entry of `addr` and `peers` (docs/protocol.md 4.5): where a node listens, when it
//! was last seen and what it serves. Equality compares every field; same_endpoint() only ip:port.
struct NetAddress {
  std::int64_t time = 0;       //!< unix seconds, last seen alive
  std::uint64_t services = 0;  //!< bit field as in `version`
  IpBytes ip{};
  std::uint16_t port = 0;

  //! An IPv4 address a.b.c.d (stored IPv4-mapped).
  static NetAddress from_ipv4(std::array<std::uint8_t, 4> a, std::uint16_t port);
  //! Numeric IPv4 ("1.2.3.4") or IPv6 ("::1", "2001:db8::7", "::ffff:1.2.3.4") text, no
  //! brackets, no host names; nullopt on anything else.
  static std::optional<NetAddress> parse_ip(std::string_view text, std::uint16_t port);
  //! "1.2.3.4", "1.2.3.4:8433", "::1", "[::1]", "[::1]:8433"; a missing port is default_port.
  //! nullopt on anything else (host names are resolved by the caller, not here).
  static std::optional<NetAddress> parse_endpoint(std::string_view text, std::uint16_t default_port);

  //! True for an IPv4-mapped address (::ffff:0:0/96).
  bool is_ipv4() const;
  //! 127.0.0.0/8 or ::1.
  bool is_loopback() const;
  //! 0.0.0.0 or ::.
  bool is_unspecified() const;
  //! Reachable over the public internet: not unspecified, loopback, private (RFC 1918, fc00::/7),
  //! shared (100.64/10), link-local, multicast, reserved, documentation or benchmarking ranges.
  bool is_routable() const;
  //! The IP as text: "1.2.3.4" for IPv4-mapped, else RFC 5952 IPv6 ("2001:db8::1").
  std::string ip_string() const;
  //! "1.2.3.4:8433" or "[::1]:8433".
  std::string to_string() const;
  bool same_endpoint(const NetAddress& o) const { return ip == o.ip && port == o.port; }
  //! The address range one party usually holds: "a.b" (the /16) for IPv4, "hhhh:hhhh" (the /32)
  //! for IPv6, loopback included. The daemon's network_group() adds its loopback exception.
  std::string ip_group() const;

  friend bool operator==(const NetAddress&, const NetAddress&) = default;
};

}  // namespace cheese::net
