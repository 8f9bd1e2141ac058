#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <vector>

#include "daemon/net/eviction.hpp"

namespace cheese {

//! On average this often, once the initial sync is done, one block-relay-only connection more
//! than kBlockRelayOnlyConnections is dialled to an address of the book (Bitcoin Core's
//! EXTRA_BLOCK_RELAY_ONLY_PEER_INTERVAL). It exchanges headers: if it knows a chain with more
//! work than ours, we download it. So a node whose peers are all on one side of a healed
//! partition (its tip not stale: its side mines) still learns the other side's chain. The gaps
//! are exponentially distributed, so that the nodes of a network probe at independent times.
inline constexpr std::chrono::seconds kExtraBlockRelayInterval{5 * 60};
//! A block-relay-only peer is disconnected as the extra one only after this long connected
//! (Bitcoin Core's MINIMUM_CONNECT_TIME), so that it has had time to send its headers.
inline constexpr std::chrono::seconds kExtraBlockRelayMinConnectTime{30};

//! When to probe with an extra block-relay-only connection, and which block-relay-only peer goes
//! when there is one too many (Bitcoin Core's StartExtraBlockRelayPeers and the block-relay part
//! of EvictExtraOutboundPeers). Pure: the connection manager gives it times and candidates.
class ExtraBlockRelay {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit ExtraBlockRelay(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  //! The initial sync is done: probes start, the first one an exponential gap after `now`.
  void start(TimePoint now, std::mt19937_64& rng);
  bool started() const { return started_; }
  //! True if the extra connection is to be dialled now: probes started, the time has come, and
  //! the `have` block-relay-only connections (dials under way included) fill the `wanted` slots.
  //! The next one is then due an exponential gap later.
  bool take(TimePoint now, std::size_t have, std::size_t wanted, std::mt19937_64& rng);
  TimePoint next() const { return next_; }

  //! With more block-relay-only peers than `wanted` (`peers`: those with the handshake done; one
  //! still dialling or handshaking does not count, so it never pushes out a regular one): the
  //! youngest goes unless it gave us a new block more recently than the second youngest, which
  //! then goes. None while the one chosen is younger than kExtraBlockRelayMinConnectTime or has
  //! blocks in flight (try again at the next tick).
  static std::optional<PeerId> select_to_evict(const std::vector<EvictionCandidate>& peers, std::size_t wanted,
                                               TimePoint now);

 private:
  std::chrono::steady_clock::duration gap(std::mt19937_64& rng) const;

  std::chrono::steady_clock::duration interval_;
  bool started_ = false;
  TimePoint next_{};
};

}  // namespace cheese
