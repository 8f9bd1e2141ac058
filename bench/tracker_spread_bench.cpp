// cheese-bench-tracker: how evenly the tracker's answers spread inbound connections
// (docs/performance.md, "Tracker spread"). Drives the real tracker::Registry with N nodes that
// join one after another; each registers, is listed (its connect-back passed), asks `getpeers`
// and dials up to 8 of the answer that have a free inbound slot (54, cheesed's default). Every
// node still short of 8 outbound peers asks again after each join, as cheesed does every few
// seconds. Reports inbound connections per node: median, p90, max, and how many nodes are full.
//
//   before: nodes report no inbound counts, so every weight is equal: the old uniform sample
//   after:  nodes report inbound and free slots in register and heartbeat (tracker protocol 2)
//
// --refresh K: the tracker sees the counts as of the last K joins (heartbeats lag behind).
// Usage: cheese-bench-tracker [--nodes 1000] [--refresh 1] [--seed 1]

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "tracker_registry.hpp"

using namespace cheese;
using namespace cheese::tracker;

namespace {

constexpr std::uint16_t kMaxInbound = 54;  // -maxconnections 64 minus 8 full-relay and 2 block-relay
constexpr std::size_t kOutbound = 8;

struct Node {
  std::uint64_t id = 0;
  net::TrackerSecret secret{};
  std::uint16_t inbound = 0;
  std::set<std::size_t> outbound;
};

struct Stats {
  std::size_t median = 0, p90 = 0, max = 0, full = 0, short_outbound = 0;
};

Stats run(std::size_t n_nodes, bool report, std::size_t refresh, std::uint64_t seed) {
  Registry reg(Registry::Limits{100'000, 4, 2}, seed);
  std::vector<Node> nodes;
  const auto now = Clock::now();
  std::vector<std::uint64_t> index_of_id;
  auto heartbeat_all = [&] {
    for (auto& n : nodes) {
      (void)reg.heartbeat(n.id, n.secret, report ? n.inbound : 0, report ? kMaxInbound : 0, now, 1000);
    }
  };
  auto dial = [&](std::size_t self) {
    const auto answer = reg.sample(Network::kRegtest, net::kMaxTrackerPeers, nodes[self].id, 0);
    for (const auto& e : answer) {
      if (nodes[self].outbound.size() >= kOutbound) break;
      const auto it = std::find_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.id == e.node_id; });
      const auto peer = static_cast<std::size_t>(it - nodes.begin());
      if (nodes[peer].inbound >= kMaxInbound || nodes[self].outbound.contains(peer)) continue;
      nodes[self].outbound.insert(peer);
      ++nodes[peer].inbound;
    }
  };
  for (std::size_t i = 0; i < n_nodes; ++i) {
    // Addresses in distinct /16s, so the group rule does not shape the result.
    const auto ip = net::NetAddress::from_ipv4(
        {static_cast<std::uint8_t>(100 + i % 100), static_cast<std::uint8_t>(i / 100), 0, 1}, 28433);
    auto r = reg.register_node({Network::kRegtest, ip, i + 1, i + 1, 0, report ? kMaxInbound : std::uint16_t{0}}, now,
                               1000);
    if (!r.entry) throw std::runtime_error("registration refused");
    (void)reg.mark_checked(r.entry->node_id, true, now);
    nodes.push_back(Node{r.entry->node_id, r.entry->secret, 0, {}});
    for (std::size_t j = 0; j <= i; ++j) {
      if (nodes[j].outbound.size() < kOutbound) dial(j);
    }
    if ((i + 1) % refresh == 0) heartbeat_all();
  }
  std::vector<std::size_t> inbound;
  Stats s;
  for (const auto& n : nodes) {
    inbound.push_back(n.inbound);
    s.full += n.inbound >= kMaxInbound ? 1U : 0U;
    s.short_outbound += n.outbound.size() < kOutbound ? 1U : 0U;
  }
  std::sort(inbound.begin(), inbound.end());
  s.median = inbound[inbound.size() / 2];
  s.p90 = inbound[inbound.size() * 9 / 10];
  s.max = inbound.back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n_nodes = 1000;
  std::size_t refresh = 1;
  std::uint64_t seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    const auto value = std::strtoull(argv[i + 1], nullptr, 10);
    if (arg == "--nodes") n_nodes = std::max<std::size_t>(2, value);
    if (arg == "--refresh") refresh = std::max<std::size_t>(1, value);
    if (arg == "--seed") seed = value;
  }
  fmt::print(
      "{} nodes join one by one, each dials 8 from the tracker's answers; {} inbound slots each; "
      "the tracker sees inbound counts as of every {} join(s)\n\n",
      n_nodes, kMaxInbound, refresh);
  fmt::print(
      "| sampling | median inbound | p90 | max | nodes full | nodes short of 8 outbound "
      "|\n|---|---|---|---|---|---|\n");
  for (const bool report : {false, true}) {
    const Stats s = run(n_nodes, report, refresh, seed);
    fmt::print("| {} | {} | {} | {} | {} | {} |\n", report ? "after: weighted by free slots" : "before: uniform",
               s.median, s.p90, s.max, s.full, s.short_outbound);
  }
  return 0;
}
