#include "net/address.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace cheese::net {

namespace {

constexpr std::array<std::uint8_t, 12> kIpv4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

//! A decimal number of 1..max_digits digits without leading zeros, at most max_value.
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::size_t max_digits, std::uint32_t max_value) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > max_value) return std::nullopt;
  return v;
}

//! Dotted quad "a.b.c.d", each part 0..255 without leading zeros (so "010" is not octal 8).
std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view s) {
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::size_t dot = i < 3 ? s.find('.') : s.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto part = parse_decimal(s.substr(0, dot), 3, 255);
    if (!part) return std::nullopt;
    out[i] = static_cast<std::uint8_t>(*part);
    s = i < 3 ? s.substr(dot + 1) : std::string_view{};
  }
  return out;
}

//! Colon-separated groups of 1..4 hex digits; the last may be a dotted quad (two groups) when
//! allow_ipv4_tail. An empty string is zero groups.
std::optional<std::vector<std::uint16_t>> parse_groups(std::string_view s, bool allow_ipv4_tail) {
  std::vector<std::uint16_t> out;
  if (s.empty()) return out;
  while (true) {
    const std::size_t colon = s.find(':');
    const std::string_view piece = s.substr(0, colon);
    const bool last = colon == std::string_view::npos;
    if (last && allow_ipv4_tail && piece.find('.') != std::string_view::npos) {
      auto v4 = parse_ipv4(piece);
      if (!v4) return std::nullopt;
      out.push_back(static_cast<std::uint16_t>(((*v4)[0] << 8) | (*v4)[1]));
      out.push_back(static_cast<std::uint16_t>(((*v4)[2] << 8) | (*v4)[3]));
      return out;
    }
    if (piece.empty() || piece.size() > 4) return std::nullopt;
    unsigned v = 0;
    for (char c : piece) {
      const int h = hex_value(c);
      if (h < 0) return std::nullopt;
      v = (v << 4) | static_cast<unsigned>(h);
    }
    out.push_back(static_cast<std::uint16_t>(v));
    if (out.size() > 8) return std::nullopt;
    if (last) return out;
    s = s.substr(colon + 1);
  }
}

std::optional<IpBytes> parse_ipv6(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;
  const std::size_t gap = s.find("::");
  std::vector<std::uint16_t> head;
  std::vector<std::uint16_t> tail;
  if (gap == std::string_view::npos) {
    auto all = parse_groups(s, true);
    if (!all || all->size() != 8) return std::nullopt;
    head = std::move(*all);
  } else {
    if (s.find("::", gap + 1) != std::string_view::npos) return std::nullopt;
    auto h = parse_groups(s.substr(0, gap), false);
    auto t = parse_groups(s.substr(gap + 2), true);
    if (!h || !t || h->size() + t->size() > 7) return std::nullopt;
    head = std::move(*h);
    tail = std::move(*t);
  }
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < head.size(); ++i) groups[i] = head[i];
  for (std::size_t i = 0; i < tail.size(); ++i) groups[8 - tail.size() + i] = tail[i];
  IpBytes out{};
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(groups[i]);
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  auto v = parse_decimal(s, 5, 65535);
  if (!v || *v == 0) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

}  // namespace

NetAddress NetAddress::from_ipv4(std::array<std::uint8_t, 4> a, std::uint16_t port) {
  NetAddress n;
  std::copy(kIpv4MappedPrefix.begin(), kIpv4MappedPrefix.end(), n.ip.begin());
  std::copy(a.begin(), a.end(), n.ip.begin() + 12);
  n.port = port;
  return n;
}

std::optional<NetAddress> NetAddress::parse_ip(std::string_view text, std::uint16_t port) {
  if (text.find(':') == std::string_view::npos) {
    auto v4 = parse_ipv4(text);
    if (!v4) return std::nullopt;
    return from_ipv4(*v4, port);
  }
  auto v6 = parse_ipv6(text);
  if (!v6) return std::nullopt;
  NetAddress n;
  n.ip = *v6;
  n.port = port;
  return n;
}

std::optional<NetAddress> NetAddress::parse_endpoint(std::string_view text, std::uint16_t default_port) {
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view inner = text.substr(1, close - 1);
    if (inner.find(':') == std::string_view::npos) return std::nullopt;  // brackets are for IPv6
    const std::string_view rest = text.substr(close + 1);
    std::uint16_t port = default_port;
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      auto p = parse_port(rest.substr(1));
      if (!p) return std::nullopt;
      port = *p;
    }
    return parse_ip(inner, port);
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return parse_ip(text, default_port);
  if (text.find(':', colon + 1) != std::string_view::npos) return parse_ip(text, default_port);  // bare IPv6
  auto p = parse_port(text.substr(colon + 1));
  if (!p) return std::nullopt;
  auto v4 = parse_ipv4(text.substr(0, colon));
  if (!v4) return std::nullopt;
  return from_ipv4(*v4, *p);
}

bool NetAddress::is_ipv4() const {
  return std::equal(kIpv4MappedPrefix.begin(), kIpv4MappedPrefix.end(), ip.begin());
}

bool NetAddress::is_loopback() const {
  if (is_ipv4()) return ip[12] == 127;
  IpBytes one{};
  one[15] = 1;
  return ip == one;
}

bool NetAddress::is_unspecified() const {
  if (is_ipv4()) return ip[12] == 0 && ip[13] == 0 && ip[14] == 0 && ip[15] == 0;
  return ip == IpBytes{};
}

bool NetAddress::is_routable() const {
  if (is_ipv4()) {
    const std::uint8_t a = ip[12];
    const std::uint8_t b = ip[13];
    const std::uint8_t c = ip[14];
    if (a == 0 || a == 10 || a == 127) return false;             // this network, RFC 1918, loopback
    if (a == 100 && (b & 0xc0) == 64) return false;              // 100.64/10 shared (CGNAT)
    if (a == 169 && b == 254) return false;                      // link-local
    if (a == 172 && (b & 0xf0) == 16) return false;              // RFC 1918
    if (a == 192 && b == 168) return false;                      // RFC 1918
    if (a == 192 && b == 0 && (c == 0 || c == 2)) return false;  // IETF assignments, TEST-NET-1
    if (a == 198 && (b & 0xfe) == 18) return false;              // benchmarking 198.18/15
    if (a == 198 && b == 51 && c == 100) return false;           // TEST-NET-2
    if (a == 203 && b == 0 && c == 113) return false;            // TEST-NET-3
    if (a >= 224) return false;                                  // multicast, reserved, broadcast
    return true;
  }
  // ::/96 holds the unspecified address, loopback and deprecated IPv4-compatible addresses.
  if (std::all_of(ip.begin(), ip.begin() + 12, [](std::uint8_t x) { return x == 0; })) return false;
  if ((ip[0] & 0xfe) == 0xfc) return false;                   // fc00::/7 unique local
  if (ip[0] == 0xfe && (ip[1] & 0x80) == 0x80) return false;  // fe80::/10 link-local, fec0::/10 site-local
  if (ip[0] == 0xff) return false;                            // multicast
  if (ip[0] == 0x20 && ip[1] == 0x01 && ip[2] == 0x0d && ip[3] == 0xb8) return false;  // 2001:db8::/32
  if (ip[0] == 0x01 && ip[1] == 0x00 &&
      std::all_of(ip.begin() + 2, ip.begin() + 8, [](std::uint8_t x) { return x == 0; }))
    return false;  // 100::/64 discard-only
  return true;
}

std::string NetAddress::ip_string() const {
  if (is_ipv4()) {
    return std::to_string(ip[12]) + "." + std::to_string(ip[13]) + "." + std::to_string(ip[14]) + "." +
           std::to_string(ip[15]);
  }
  std::array<unsigned, 8> g{};
  for (std::size_t i = 0; i < 8; ++i) g[i] = (unsigned{ip[2 * i]} << 8) | ip[2 * i + 1];
  // RFC 5952: compress the longest run (the first on a tie) of two or more zero groups.
  std::size_t best_start = 8;
  std::size_t best_len = 0;
  for (std::size_t i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = 8;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned d = (g[i] >> shift) & 0xf;
      if (d != 0 || started || shift == 0) {
        out += kHex[d];
        started = true;
      }
    }
  }
  return out;
}

std::string NetAddress::to_string() const {
  if (is_ipv4()) return ip_string() + ":" + std::to_string(port);
  return "[" + ip_string() + "]:" + std::to_string(port);
}

std::string NetAddress::ip_group() const {
  if (is_ipv4()) return fmt::format("{}.{}", ip[12], ip[13]);
  return fmt::format("{:02x}{:02x}:{:02x}{:02x}", ip[0], ip[1], ip[2], ip[3]);
}

}  // namespace cheese::net
