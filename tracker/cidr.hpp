#pragma once

// An IP range "a.b.c.d/n" or "v6::/n" (a bare address is /32 or /128), for -trustedproxy.

#include <optional>
#include <string>
#include <string_view>

#include "net/address.hpp"

namespace cheese::tracker {

struct Cidr {
  net::IpBytes base{};  //!< in the 16-byte form (IPv4 mapped), host bits cleared
  unsigned bits = 128;  //!< prefix length in that form (an IPv4 /n is 96 + n)
  std::string text;     //!< as given, for logs

  //! Parses "10.0.0.0/8", "2001:db8::/32", "192.0.2.7"; nothing when malformed.
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const net::IpBytes& ip) const;
};

}  // namespace cheese::tracker
