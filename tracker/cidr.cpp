#include "cidr.hpp"

#include <charconv>

namespace cheese::tracker {

namespace {

void clear_host_bits(net::IpBytes& ip, unsigned bits) {
  for (unsigned i = 0; i < ip.size(); ++i) {
    const unsigned first = i * 8;
    if (first >= bits) {
      ip[i] = 0;
    } else if (bits - first < 8) {
      ip[i] = static_cast<std::uint8_t>(ip[i] & (0xff << (8 - (bits - first))));
    }
  }
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto ip_text = text.substr(0, slash);
  auto ip = net::NetAddress::parse_ip(ip_text, 0);
  if (!ip) return std::nullopt;
  const unsigned width = ip->is_ipv4() ? 32 : 128;
  unsigned prefix = width;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix > width) {
      return std::nullopt;
    }
  }
  Cidr c;
  c.bits = ip->is_ipv4() ? 96 + prefix : prefix;
  c.base = ip->ip;
  clear_host_bits(c.base, c.bits);
  c.text = std::string(text);
  return c;
}

bool Cidr::contains(const net::IpBytes& ip) const {
  net::IpBytes masked = ip;
  clear_host_bits(masked, bits);
  return masked == base;
}

}  // namespace cheese::tracker
