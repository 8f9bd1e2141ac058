// BanList, as it behaves today: a ban is by IP (every port of it), except on loopback where every
// node of a test shares one IP and a ban is by ip:port; a ban ends at its `until` time exactly;
// active() lists only the bans in force.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "daemon/net/ban_list.hpp"

using namespace cheese;

namespace {

constexpr std::int64_t kT = 1'700'000'000;

net::NetAddress ep(std::string_view text) {
  auto a = net::NetAddress::parse_endpoint(text, 0);
  REQUIRE(a.has_value());
  return *a;
}

}  // namespace

TEST_CASE("key_of: the IP, or ip:port on loopback", "[daemon][net][ban_list]") {
  CHECK(BanList::key_of(ep("203.0.113.5:8433")) == "203.0.113.5");
  CHECK(BanList::key_of(ep("[2001:db8::7]:8433")) == "2001:db8::7");
  CHECK(BanList::key_of(ep("127.0.0.1:40000")) == "127.0.0.1:40000");
  CHECK(BanList::key_of(ep("127.0.0.9:40000")) == "127.0.0.9:40000");
  CHECK(BanList::key_of(ep("[::1]:40000")) == "[::1]:40000");
}

TEST_CASE("a ban of an IP covers every port of it and no other IP", "[daemon][net][ban_list]") {
  BanList bans;
  const auto a = ep("203.0.113.5:8433");
  bans.ban(BanList::key_of(a), kT + 100);
  CHECK(bans.is_banned(a, kT));
  CHECK(bans.is_banned(ep("203.0.113.5:1"), kT));
  CHECK_FALSE(bans.is_banned(ep("203.0.113.6:8433"), kT));
  // IPv4 text and its IPv4-mapped IPv6 form are one address.
  CHECK(bans.is_banned(ep("[::ffff:203.0.113.5]:9"), kT));

  bans.ban(BanList::key_of(ep("[2001:db8::7]:1")), kT + 100);
  CHECK(bans.is_banned(ep("[2001:db8::7]:2"), kT));
  CHECK_FALSE(bans.is_banned(ep("[2001:db8::8]:2"), kT));
}

TEST_CASE("on loopback a discouraged peer's ip:port is banned, not the other nodes on 127.0.0.1",
          "[daemon][net][ban_list]") {
  BanList bans;
  const auto bad = ep("127.0.0.1:40000");
  bans.ban(BanList::key_of(bad), kT + 100);
  CHECK(bans.is_banned(bad, kT));
  CHECK_FALSE(bans.is_banned(ep("127.0.0.1:40001"), kT));
  CHECK_FALSE(bans.is_banned(ep("127.0.0.2:40000"), kT));

  SECTION("setban of the bare loopback IP covers every port") {
    bans.ban("127.0.0.1", kT + 100);
    CHECK(bans.is_banned(ep("127.0.0.1:40001"), kT));
    CHECK_FALSE(bans.is_banned(ep("127.0.0.2:40001"), kT));
  }
  SECTION("an ip:port key bans that endpoint off loopback too") {
    bans.ban("203.0.113.5:8433", kT + 100);
    CHECK(bans.is_banned(ep("203.0.113.5:8433"), kT));
    CHECK_FALSE(bans.is_banned(ep("203.0.113.5:8434"), kT));
  }
}

TEST_CASE("a ban is in force before its `until` time and over at it", "[daemon][net][ban_list]") {
  BanList bans;
  const auto a = ep("203.0.113.5:8433");
  const std::int64_t until = kT + kDiscourageDuration.count();
  bans.ban(BanList::key_of(a), until);
  CHECK(bans.is_banned(a, until - 1));
  CHECK_FALSE(bans.is_banned(a, until));
  CHECK(bans.active(until - 1) == std::map<std::string, std::int64_t>{{"203.0.113.5", until}});
  CHECK(bans.active(until).empty());

  // A ban again replaces the time (shorter or longer).
  bans.ban(BanList::key_of(a), kT + 10);
  CHECK_FALSE(bans.is_banned(a, kT + 10));
  bans.ban(BanList::key_of(a), kT + 1000);
  CHECK(bans.is_banned(a, kT + 999));
}

TEST_CASE("active() lists the bans in force, unban and clear lift them", "[daemon][net][ban_list]") {
  BanList bans;
  bans.ban("203.0.113.5", kT + 10);
  bans.ban("203.0.113.6", kT + 20);
  bans.ban("127.0.0.1:40000", kT + 30);
  CHECK(bans.active(kT).size() == 3);
  CHECK(bans.active(kT + 10) ==
        std::map<std::string, std::int64_t>{{"127.0.0.1:40000", kT + 30}, {"203.0.113.6", kT + 20}});
  CHECK(bans.active(kT + 30).empty());

  CHECK(bans.unban("203.0.113.6"));
  CHECK_FALSE(bans.unban("203.0.113.6"));
  CHECK_FALSE(bans.unban("203.0.113.7"));
  CHECK_FALSE(bans.is_banned(ep("203.0.113.6:1"), kT));
  CHECK(bans.is_banned(ep("203.0.113.5:1"), kT));
  bans.clear();
  CHECK(bans.active(kT).empty());
  CHECK_FALSE(bans.is_banned(ep("203.0.113.5:1"), kT));
}
