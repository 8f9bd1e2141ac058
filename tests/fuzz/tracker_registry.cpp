// The tracker's Registry (tracker/tracker_registry.hpp) against a small reference model. The input
// is a script (fuzz_input.hpp): the limits (max_entries 1..24, max_per_ip 1..6) and the sampling
// seed, then up to 128 operations: register (network, one of 5 IPs, a listen port that may be 0,
// a nonce that may be 0 or shared, one of 8 connections), heartbeat (a live id or a made-up one),
// remove_connection_entry, expire (after advancing the clock), sample (as the server asks: up to
// kMaxTrackerPeers, excluding the asker's id and nonce, and with other bounds).
//
// The model applies the documented rules: a registration replaces the one of the same connection;
// it is refused kNonceInUse / kAddressInUse when another connection's live registration of the
// network has its nonce (not 0) or its listening ip:port, then kFull at max_entries and
// kTooManyFromIp at max_per_ip. Heartbeats need the secret. Only entries marked checked are
// sampled, at most max_per_group per network group. Properties:
// every answer (replaced set, error, new id, heartbeat and removal results, expired set) equals
// the model's; a new id is not 0 and not live; size(), count(network), count_ip(ip) and find()
// agree with the model after every operation, so the limits hold. A sample has at most `max` (so
// at most 10 for the server's request) distinct entries, exactly min(max, eligible) of them, each
// live (never one expired or removed), listening, of the network, neither the excluded id nor the
// excluded nonce, and equal to its registration.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "net/address.hpp"
#include "net/protocol.hpp"
#include "tracker_registry.hpp"

using namespace cheese;
using namespace cheese::fuzz;
using cheese::tracker::Clock;
using cheese::tracker::Entry;
using cheese::tracker::OwnerCheck;
using cheese::tracker::RegisterError;
using cheese::tracker::Registry;

namespace {

constexpr Network kNetworks[] = {Network::kMain, Network::kTest, Network::kRegtest};

net::NetAddress address(std::size_t ip, std::uint16_t port) {
  if (ip == 4) {
    auto a = *net::NetAddress::parse_ip("2001:db8::7", port);
    return a;
  }
  return net::NetAddress::from_ipv4({203, 0, 113, static_cast<std::uint8_t>(ip + 1)}, port);
}

std::set<std::uint64_t> ids_of(const std::vector<Entry>& entries) {
  std::set<std::uint64_t> out;
  for (const auto& e : entries) out.insert(e.node_id);
  FUZZ_CHECK(out.size() == entries.size());
  return out;
}

void check_same(const Entry& a, const Entry& b) {
  FUZZ_CHECK(a.node_id == b.node_id && a.network == b.network && a.address == b.address && a.nonce == b.nonce &&
             a.connection == b.connection && a.last_seen == b.last_seen && a.last_seen_unix == b.last_seen_unix &&
             a.listed == b.listed && a.secret == b.secret);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  Registry::Limits limits;
  limits.max_entries = in.range<std::size_t>(1, 24);
  limits.max_per_ip = in.range<std::size_t>(1, 6);
  limits.max_per_group = in.range<std::size_t>(1, 10);
  Registry registry(limits, in.integral<std::uint32_t>());

  std::map<std::uint64_t, Entry> model;
  std::int64_t clock = 1'000'000;  // seconds
  const auto now = [&] { return Clock::time_point{} + std::chrono::seconds(clock); };
  const auto pick_id = [&]() -> std::uint64_t {
    if (model.empty() || in.byte() % 8 == 0) return in.integral<std::uint64_t>();
    auto it = model.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(in.pick(model.size())));
    return it->first;
  };

  for (int op = 0; op < 128 && !in.empty(); ++op) {
    clock += in.range<std::uint32_t>(0, 30);
    switch (in.byte() % 6) {
      case 0:
      case 1: {  // register
        const Network network = kNetworks[in.pick(3)];
        const std::uint8_t port_choice = in.byte() % 4;
        const std::uint16_t port = port_choice == 0   ? std::uint16_t{0}
                                   : port_choice == 1 ? std::uint16_t{8433}
                                                      : in.range<std::uint16_t>(8433, 8436);
        const net::NetAddress addr = address(in.pick(5), port);
        const std::uint64_t nonce = in.byte() % 3 == 0 ? 0 : in.range<std::uint64_t>(1, 6);
        const std::uint64_t connection = in.range<std::uint64_t>(1, 8);

        std::set<std::uint64_t> replaced;
        for (const auto& [id, e] : model) {
          if (e.connection == connection) replaced.insert(id);
        }
        for (auto id : replaced) model.erase(id);
        bool nonce_taken = false;
        bool address_taken = false;
        for (const auto& [id, e] : model) {
          if (e.network != network) continue;
          nonce_taken |= nonce != 0 && e.nonce == nonce;
          address_taken |= port != 0 && e.address.same_endpoint(addr);
        }
        std::size_t from_ip = 0;
        for (const auto& [id, e] : model) from_ip += e.address.ip == addr.ip ? 1U : 0U;

        const auto r = registry.register_node({network, addr, nonce, connection, 0, 54}, now(), clock);
        FUZZ_CHECK(ids_of(r.replaced) == replaced);
        if (nonce_taken || address_taken) {
          FUZZ_CHECK(!r.entry && r.error);
          FUZZ_CHECK((nonce_taken && r.error == RegisterError::kNonceInUse) ||
                     (address_taken && r.error == RegisterError::kAddressInUse));
        } else if (model.size() >= limits.max_entries) {
          FUZZ_CHECK(r.error == RegisterError::kFull && !r.entry);
        } else if (from_ip >= limits.max_per_ip) {
          FUZZ_CHECK(r.error == RegisterError::kTooManyFromIp && !r.entry);
        } else {
          FUZZ_CHECK(!r.error && r.entry);
          const Entry& e = *r.entry;
          FUZZ_CHECK(e.node_id != 0 && !model.contains(e.node_id));
          FUZZ_CHECK(e.network == network && e.address.ip == addr.ip && e.address.port == port);
          FUZZ_CHECK(e.nonce == nonce && e.connection == connection && e.last_seen == now());
          model.emplace(e.node_id, e);
        }
        break;
      }
      case 2: {  // heartbeat, with the right secret or a wrong one; or a connect-back result
        const std::uint64_t id = pick_id();
        const bool live = model.contains(id);
        if (live && in.byte() % 3 == 0) {
          const bool ok = in.flag();
          const auto was = registry.mark_checked(id, ok, now());
          FUZZ_CHECK(was.has_value() && *was == model.at(id).listed);
          model.at(id).listed = ok;
          model.at(id).next_check = now();
          break;
        }
        net::TrackerSecret secret = live ? model.at(id).secret : net::TrackerSecret{};
        const bool wrong = live && in.byte() % 4 == 0;
        if (wrong) secret[0] ^= 1;
        const auto r = registry.heartbeat(id, secret, 0, 54, now(), clock);
        FUZZ_CHECK(r == (!live ? OwnerCheck::kUnknownId : wrong ? OwnerCheck::kBadSecret : OwnerCheck::kOk));
        if (live && !wrong) {
          Entry& e = model.at(id);
          e.last_seen = now();
          e.last_seen_unix = clock;
          e.address.time = clock;
        }
        break;
      }
      case 3: {  // the connection closed
        const std::uint64_t id = pick_id();
        const std::uint64_t connection = in.range<std::uint64_t>(1, 8);
        const auto it = model.find(id);
        const bool mine = it != model.end() && it->second.connection == connection;
        const auto removed = registry.remove_connection_entry(id, connection);
        FUZZ_CHECK(removed.has_value() == mine);
        if (mine) {
          check_same(*removed, it->second);
          model.erase(it);
        }
        break;
      }
      case 4: {  // expire
        clock += in.range<std::uint32_t>(0, 120);
        const auto timeout = std::chrono::seconds(in.range<std::uint32_t>(0, 90));
        std::set<std::uint64_t> gone;
        for (const auto& [id, e] : model) {
          if (now() - e.last_seen > timeout) gone.insert(id);
        }
        FUZZ_CHECK(ids_of(registry.expire(now(), timeout)) == gone);
        for (auto id : gone) model.erase(id);
        break;
      }
      default: {  // get_peers
        const Network network = kNetworks[in.pick(3)];
        const std::size_t max = in.flag() ? net::kMaxTrackerPeers : in.range<std::size_t>(0, 30);
        const std::uint64_t exclude_id = pick_id();
        const std::uint64_t exclude_nonce = in.range<std::uint64_t>(0, 6);
        std::size_t eligible = 0;
        for (const auto& [id, e] : model) {
          if (e.network == network && e.listed && e.address.port != 0 && id != exclude_id &&
              (exclude_nonce == 0 || e.nonce != exclude_nonce)) {
            ++eligible;
          }
        }
        // Every fuzzed address is in 203.0.113/24 or 2001:db8::/32: two groups.
        std::size_t per_group_room = 0;
        for (const bool v6 : {false, true}) {
          std::size_t in_group = 0;
          for (const auto& [id, e] : model) {
            if (e.network == network && e.listed && e.address.port != 0 && id != exclude_id &&
                (exclude_nonce == 0 || e.nonce != exclude_nonce) && e.address.is_ipv4() != v6) {
              ++in_group;
            }
          }
          per_group_room += std::min(in_group, limits.max_per_group);
        }
        eligible = std::min(eligible, per_group_room);
        const auto peers = registry.sample(network, max, exclude_id, exclude_nonce);
        FUZZ_CHECK(peers.size() <= max);
        FUZZ_CHECK(peers.size() == std::min(max, eligible));
        FUZZ_CHECK(ids_of(peers).size() == peers.size());
        for (const Entry& p : peers) {
          const auto it = model.find(p.node_id);
          FUZZ_CHECK(it != model.end());  // never an expired or removed registration
          check_same(p, it->second);
          FUZZ_CHECK(p.network == network && p.listed && p.address.port != 0 && p.node_id != exclude_id);
          FUZZ_CHECK(exclude_nonce == 0 || p.nonce != exclude_nonce);
        }
        break;
      }
    }

    FUZZ_CHECK(registry.size() == model.size());
    FUZZ_CHECK(registry.size() <= limits.max_entries);
    for (const Network n : kNetworks) {
      FUZZ_CHECK(registry.count(n) ==
                 static_cast<std::size_t>(std::count_if(model.begin(), model.end(),
                                                        [n](const auto& kv) { return kv.second.network == n; })));
    }
    for (std::size_t ip = 0; ip < 5; ++ip) {
      const auto bytes = address(ip, 0).ip;
      const auto n = static_cast<std::size_t>(
          std::count_if(model.begin(), model.end(), [&](const auto& kv) { return kv.second.address.ip == bytes; }));
      FUZZ_CHECK(registry.count_ip(bytes) == n);
      FUZZ_CHECK(n <= limits.max_per_ip);
    }
    for (const auto& [id, e] : model) {
      const Entry* found = registry.find(id);
      FUZZ_CHECK(found != nullptr);
      check_same(*found, e);
    }
  }
  return 0;
}
