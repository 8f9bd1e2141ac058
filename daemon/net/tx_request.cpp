#include "daemon/net/tx_request.hpp"

#include <algorithm>

namespace cheese {

std::size_t TxRequestTracker::in_flight(PeerId peer) const {
  auto it = in_flight_.find(peer);
  return it == in_flight_.end() ? 0 : it->second;
}

void TxRequestTracker::count(PeerId peer, int delta) {
  auto& n = in_flight_[peer];
  if (delta < 0 && n > 0) {
    --n;
  } else if (delta > 0) {
    ++n;
  }
  if (n == 0) in_flight_.erase(peer);
}

bool TxRequestTracker::announced(PeerId peer, const Hash256& txid, Clock::time_point now) {
  if (!peers_.contains(peer)) return false;
  if (auto it = requests_.find(txid); it != requests_.end()) {
    auto& alternatives = it->second.alternatives;
    if (it->second.peer != peer && alternatives.size() < kMaxTxAnnouncers &&
        std::find(alternatives.begin(), alternatives.end(), peer) == alternatives.end()) {
      alternatives.push_back(peer);
    }
    return false;
  }
  if (in_flight(peer) >= kMaxTxRequestsPerPeer) {
    auto& queue = deferred_[peer];
    if (queue.size() < kMaxDeferredTxAnnouncements) queue.push_back(txid);
    return false;
  }
  requests_.emplace(txid, Entry{peer, now, {}});
  count(peer, +1);
  return true;
}

void TxRequestTracker::received(const Hash256& txid) {
  auto it = requests_.find(txid);
  if (it == requests_.end()) return;
  count(it->second.peer, -1);
  requests_.erase(it);
}

std::optional<PeerId> TxRequestTracker::reassign(const Hash256& txid, Clock::time_point now) {
  auto it = requests_.find(txid);
  if (it == requests_.end()) return std::nullopt;
  Entry& e = it->second;
  count(e.peer, -1);
  while (!e.alternatives.empty()) {
    const PeerId next = e.alternatives.front();
    e.alternatives.erase(e.alternatives.begin());
    if (!peers_.contains(next)) continue;
    if (in_flight(next) >= kMaxTxRequestsPerPeer) {
      // Full: it is asked once it has room, unless someone delivers first.
      if (auto& queue = deferred_[next]; queue.size() < kMaxDeferredTxAnnouncements) queue.push_back(txid);
      continue;
    }
    e.peer = next;
    e.since = now;
    count(next, +1);
    return next;
  }
  requests_.erase(it);
  return std::nullopt;
}

std::optional<PeerId> TxRequestTracker::not_found(PeerId peer, const Hash256& txid, Clock::time_point now) {
  auto it = requests_.find(txid);
  if (it == requests_.end() || it->second.peer != peer) return std::nullopt;
  return reassign(txid, now);
}

std::vector<TxRequestTracker::Request> TxRequestTracker::remove_peer(PeerId peer, Clock::time_point now) {
  peers_.erase(peer);
  std::vector<Hash256> orphaned;
  for (const auto& [txid, e] : requests_) {
    if (e.peer == peer) orphaned.push_back(txid);
  }
  std::vector<Request> out;
  for (const auto& txid : orphaned) {
    if (auto next = reassign(txid, now)) out.push_back({*next, txid});
  }
  in_flight_.erase(peer);
  deferred_.erase(peer);
  return out;
}

std::size_t TxRequestTracker::deferred(PeerId peer) const {
  auto it = deferred_.find(peer);
  return it == deferred_.end() ? 0 : it->second.size();
}

std::vector<TxRequestTracker::Request> TxRequestTracker::next_deferred(
    Clock::time_point now, const std::function<bool(const Hash256&)>& wanted) {
  std::vector<Request> out;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    const PeerId peer = it->first;
    auto& queue = it->second;
    while (!queue.empty() && in_flight(peer) < kMaxTxRequestsPerPeer) {
      const Hash256 txid = queue.front();
      queue.pop_front();
      if (!wanted(txid)) continue;
      // Asked of someone else meanwhile: this peer is one more alternative.
      if (announced(peer, txid, now)) out.push_back({peer, txid});
    }
    it = queue.empty() ? deferred_.erase(it) : std::next(it);
  }
  return out;
}

std::vector<TxRequestTracker::Request> TxRequestTracker::expire(Clock::time_point now) {
  std::vector<Hash256> late;
  for (const auto& [txid, e] : requests_) {
    if (now - e.since > kTxRequestTimeout) late.push_back(txid);
  }
  std::vector<Request> out;
  for (const auto& txid : late) {
    if (auto next = reassign(txid, now)) out.push_back({*next, txid});
  }
  return out;
}

}  // namespace cheese
