#include "daemon/net/extra_block_relay.hpp"

#include <algorithm>

namespace cheese {

std::chrono::steady_clock::duration ExtraBlockRelay::gap(std::mt19937_64& rng) const {
  std::exponential_distribution<double> exp(1.0);
  const double mean = std::chrono::duration<double>(interval_).count();
  // Capped at 10 means, so that one draw from the tail cannot postpone the probes for hours.
  const double seconds = std::min(exp(rng), 10.0) * mean;
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

void ExtraBlockRelay::start(TimePoint now, std::mt19937_64& rng) {
  if (started_) return;
  started_ = true;
  next_ = now + gap(rng);
}

bool ExtraBlockRelay::take(TimePoint now, std::size_t have, std::size_t wanted, std::mt19937_64& rng) {
  if (!started_ || wanted == 0 || now < next_ || have < wanted) return false;
  next_ = now + gap(rng);
  return true;
}

std::optional<PeerId> ExtraBlockRelay::select_to_evict(const std::vector<EvictionCandidate>& peers,
                                                       std::size_t wanted, TimePoint now) {
  if (peers.size() < 2 || peers.size() <= wanted) return std::nullopt;
  // Peer ids grow with each connection: the highest is the youngest.
  std::vector<const EvictionCandidate*> by_age;
  for (const auto& p : peers) by_age.push_back(&p);
  std::sort(by_age.begin(), by_age.end(), [](const auto* x, const auto* y) { return x->id > y->id; });
  const EvictionCandidate* chosen = by_age[0];
  // The newest gave us a block more recently: it is the useful one, the second youngest goes.
  if (by_age[0]->last_block > by_age[1]->last_block) chosen = by_age[1];
  if (now - chosen->connected < kExtraBlockRelayMinConnectTime || chosen->blocks_in_flight > 0) return std::nullopt;
  return chosen->id;
}

}  // namespace cheese
