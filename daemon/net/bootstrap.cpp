#include "daemon/net/bootstrap.hpp"

#include <fmt/format.h>

namespace cheese {

namespace {

// No network has launched, so every list is empty. At launch: the host names of the DNS seeds
// (servers answering A/AAAA queries with addresses of reachable nodes, as Bitcoin's
// seed.bitcoin.sipa.be) and a few dozen fixed "ip:port" addresses of long-lived nodes, refreshed
// with each release (Core's contrib/seeds). A unit test checks that every entry parses.
const std::vector<std::string> kMainDnsSeeds = {};
const std::vector<std::string> kTestDnsSeeds = {};
const std::vector<std::string> kMainFixedSeeds = {};
const std::vector<std::string> kTestFixedSeeds = {};
const std::vector<std::string> kNone = {};  // regtest: local test networks have no seeds

}  // namespace

const std::vector<std::string>& dns_seed_hosts(Network n) {
  switch (n) {
    case Network::kMain: return kMainDnsSeeds;
    case Network::kTest: return kTestDnsSeeds;
    case Network::kRegtest: return kNone;
  }
  return kNone;
}

const std::vector<std::string>& fixed_seed_addresses(Network n) {
  switch (n) {
    case Network::kMain: return kMainFixedSeeds;
    case Network::kTest: return kTestFixedSeeds;
    case Network::kRegtest: return kNone;
  }
  return kNone;
}

std::string source_key(const AddressBook::Entry& e) { return fmt::format("{} {}", e.source, e.from.to_string()); }

std::optional<net::NetAddress> select_full_relay(const AddressBook& book, const std::set<std::string>& exclude,
                                                 const std::map<std::string, std::size_t>& per_source,
                                                 bool one_source_ok, std::int64_t now, std::mt19937_64& rng) {
  const auto room = [&per_source](const AddressBook::Entry& e) {
    const auto it = per_source.find(source_key(e));
    return it == per_source.end() || it->second < kMaxOutboundFromOneSource;
  };
  if (auto a = book.select(exclude, now, rng, false, room)) return a;
  if (!one_source_ok) return std::nullopt;
  return book.select(exclude, now, rng, false);
}

std::chrono::seconds BootstrapPlan::dns_delay() const {
  if (config_.book_at_start == 0) return std::chrono::seconds{0};
  return config_.book_at_start >= kDnsSeedManyAddresses ? kDnsSeedDelayManyAddresses : kDnsSeedDelay;
}

BootstrapPlan::Dns BootstrapPlan::dns(const Now& n) {
  if (dns_done_ || !config_.dns_seeds || n.since_start < dns_delay()) return Dns::kNotYet;
  dns_done_ = true;
  // With an empty book there is nothing else to try; otherwise only when the book did not give
  // enough peers in the wait.
  if (config_.book_at_start > 0 && n.full_relay_outbound >= kDnsSeedOutboundThreshold) return Dns::kSkip;
  return Dns::kQuery;
}

bool BootstrapPlan::fixed_seeds(const Now& n) {
  if (fixed_done_ || !config_.fixed_seeds) return false;
  // The last resort: at once only when the book is empty and nothing else could give addresses.
  const bool nothing_else = !config_.dns_seeds && !config_.other_sources && config_.book_at_start == 0;
  if (!nothing_else && (n.since_start < kFixedSeedDelay || n.outbound > 0)) return false;
  fixed_done_ = true;
  return true;
}

}  // namespace cheese
