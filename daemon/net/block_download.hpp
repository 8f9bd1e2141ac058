#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "chain/chainstate.hpp"
#include "daemon/net/net_events.hpp"

namespace cheese {

//! Blocks asked for at most this far ahead of the active tip.
inline constexpr std::size_t kBlockDownloadWindow = 1024;

//! Which blocks are asked of which peer (headers-first download): the path from the active chain
//! to the best header a peer has, lowest first, within the window, each block asked of one peer
//! at a time, at most net::kMaxBlocksInFlightPerPeer per peer. No I/O; time comes in as an
//! argument.
class BlockDownload {
 public:
  using Clock = std::chrono::steady_clock;
  //! True while a block waits in the node's queue (received, not yet connected).
  using IsQueued = std::function<bool(const Hash256&)>;

  //! The blocks to ask `peer` for now, given the best header it is known to have; they are
  //! recorded as in flight from it.
  std::vector<Hash256> next_requests(PeerId peer, const BlockIndex* best_known, const Chainstate& chain,
                                     const IsQueued& queued, Clock::time_point now);
  //! The block arrived from `peer`: true if it had been asked of that peer (no longer in flight).
  bool received(PeerId peer, const Hash256& hash);
  //! `peer` answered notfound for the block: it may be asked of another peer.
  void not_found(PeerId peer, const Hash256& hash) { (void)received(peer, hash); }
  //! The peer is gone: its blocks may be asked of others.
  void remove_peer(PeerId peer);
  //! Peers with a block in flight for longer than `timeout`, each with its oldest such block.
  std::vector<std::pair<PeerId, Hash256>> stalled(Clock::time_point now, Clock::duration timeout) const;

  std::size_t in_flight(PeerId peer) const;
  bool in_flight(const Hash256& hash) const { return in_flight_.contains(hash); }
  std::size_t size() const { return in_flight_.size(); }

 private:
  struct Request {
    PeerId peer = 0;
    Clock::time_point since;
  };
  std::map<Hash256, Request> in_flight_;
  std::map<PeerId, std::set<Hash256>> by_peer_;
};

}  // namespace cheese
