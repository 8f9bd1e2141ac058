#include "daemon/net/block_download.hpp"

#include <algorithm>

namespace cheese {

std::size_t BlockDownload::in_flight(PeerId peer) const {
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? 0 : it->second.size();
}

std::vector<Hash256> BlockDownload::next_requests(PeerId peer, const BlockIndex* best_known, const Chainstate& chain,
                                                  const IsQueued& queued, Clock::time_point now) {
  std::vector<Hash256> out;
  if (!best_known || in_flight(peer) >= net::kMaxBlocksInFlightPerPeer) return out;
  // Only towards more work than our tip: a peer's low-work side branch is never downloaded.
  if (best_known->chain_work <= chain.tip()->chain_work) return out;
  // Blocks on the way from our active chain to what this peer has, lowest first.
  std::vector<const BlockIndex*> path;
  for (const BlockIndex* b = best_known; b && !chain.is_active(b); b = b->prev) path.push_back(b);
  std::reverse(path.begin(), path.end());
  const std::uint64_t limit_height = chain.height() + kBlockDownloadWindow;
  auto& mine = by_peer_[peer];
  for (const BlockIndex* b : path) {
    if (mine.size() >= net::kMaxBlocksInFlightPerPeer || b->height > limit_height) break;
    if (b->have_data() || b->failed() || in_flight_.contains(b->hash) || (queued && queued(b->hash))) continue;
    in_flight_.emplace(b->hash, Request{peer, now});
    mine.insert(b->hash);
    out.push_back(b->hash);
  }
  if (mine.empty()) by_peer_.erase(peer);
  return out;
}

bool BlockDownload::received(PeerId peer, const Hash256& hash) {
  auto it = in_flight_.find(hash);
  if (it == in_flight_.end() || it->second.peer != peer) return false;
  in_flight_.erase(it);
  if (auto p = by_peer_.find(peer); p != by_peer_.end()) {
    p->second.erase(hash);
    if (p->second.empty()) by_peer_.erase(p);
  }
  return true;
}

void BlockDownload::remove_peer(PeerId peer) {
  auto p = by_peer_.find(peer);
  if (p == by_peer_.end()) return;
  for (const auto& hash : p->second) in_flight_.erase(hash);
  by_peer_.erase(p);
}

std::vector<std::pair<PeerId, Hash256>> BlockDownload::stalled(Clock::time_point now, Clock::duration timeout) const {
  std::map<PeerId, std::pair<Clock::time_point, Hash256>> oldest;
  for (const auto& [hash, r] : in_flight_) {
    if (now - r.since <= timeout) continue;
    auto [it, fresh] = oldest.try_emplace(r.peer, r.since, hash);
    if (!fresh && r.since < it->second.first) it->second = {r.since, hash};
  }
  std::vector<std::pair<PeerId, Hash256>> out;
  for (const auto& [peer, v] : oldest) out.emplace_back(peer, v.second);
  return out;
}

}  // namespace cheese
