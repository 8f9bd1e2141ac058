#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "daemon/net/net_events.hpp"
#include "primitives/hash.hpp"

namespace cheese {

//! Announced transactions asked of one peer and not delivered yet; its further announcements
//! wait in its deferred queue until it delivers.
inline constexpr std::size_t kMaxTxRequestsPerPeer = 5'000;
//! Announcements of one peer waiting for room among its requests (32 bytes each: 1.6 MB per peer
//! at most); beyond this its announcements are dropped (an honest sender paces its `inv` to
//! kMaxInvTxPerTick, so it never gets here unless we fetch far slower than it announces).
inline constexpr std::size_t kMaxDeferredTxAnnouncements = 50'000;
//! A transaction asked of a peer that does not deliver it in this time is asked of the next peer
//! that announced it.
inline constexpr std::chrono::seconds kTxRequestTimeout{10};
//! Other announcers remembered per requested transaction.
inline constexpr std::size_t kMaxTxAnnouncers = 16;

//! Which announced transactions are asked of which peer (Bitcoin Core's txrequest.h, simpler):
//! one request per transaction at a time; when that peer does not deliver (notfound, gone,
//! timed out) the next peer that announced it is asked. No I/O; time comes in as an argument.
class TxRequestTracker {
 public:
  using Clock = std::chrono::steady_clock;
  struct Request {
    PeerId peer = 0;
    Hash256 txid;
    friend bool operator==(const Request&, const Request&) = default;
  };

  //! A peer that may be asked (after its handshake).
  void add_peer(PeerId peer) { peers_.insert(peer); }
  //! The peer is gone: its requests go to the next announcers; returns the new requests to send.
  std::vector<Request> remove_peer(PeerId peer, Clock::time_point now);
  //! `peer` announced `txid`: true if it is to be asked now (recorded as in flight); false when
  //! someone else was asked already (this peer is remembered as an alternative) or when `peer`
  //! already has kMaxTxRequestsPerPeer requests in flight (the announcement is deferred: asked
  //! by next_deferred() once the peer has room).
  bool announced(PeerId peer, const Hash256& txid, Clock::time_point now);
  //! Deferred announcements that now fit among their peers' requests and are still `wanted`
  //! (not in the mempool, not rejected): recorded as in flight, to be sent.
  std::vector<Request> next_deferred(Clock::time_point now, const std::function<bool(const Hash256&)>& wanted);
  std::size_t deferred(PeerId peer) const;
  //! The transaction arrived (from anyone): the request is done.
  void received(const Hash256& txid);
  //! `peer` answered notfound: the next announcer to ask, if any (recorded as in flight).
  std::optional<PeerId> not_found(PeerId peer, const Hash256& txid, Clock::time_point now);
  //! Requests older than kTxRequestTimeout go to the next announcer; returns the new requests.
  std::vector<Request> expire(Clock::time_point now);

  bool requested(const Hash256& txid) const { return requests_.contains(txid); }
  std::size_t in_flight(PeerId peer) const;
  std::size_t size() const { return requests_.size(); }

 private:
  struct Entry {
    PeerId peer = 0;
    Clock::time_point since;
    std::vector<PeerId> alternatives;  //!< other announcers, asked next, oldest first
  };
  //! The request's peer will not deliver: asks the next usable announcer or forgets the request.
  std::optional<PeerId> reassign(const Hash256& txid, Clock::time_point now);
  void count(PeerId peer, int delta);

  std::set<PeerId> peers_;
  std::unordered_map<Hash256, Entry, Hash256Hasher> requests_;
  std::unordered_map<PeerId, std::size_t> in_flight_;
  std::unordered_map<PeerId, std::deque<Hash256>> deferred_;  //!< per peer, oldest first
};

}  // namespace cheese
