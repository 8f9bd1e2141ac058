#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "chain/chainstate.hpp"
#include "net/protocol.hpp"

namespace cheese {

//! One commitment bit is kept for every this many headers of a presynced chain (Bitcoin Core's
//! HEADER_COMMITMENT_PERIOD is 641 for 10-minute blocks). A chain 10 years long at the fastest
//! rate the median-time rule allows (about 6 headers a second) needs about 3.2 M bits (400 KB).
inline constexpr std::uint64_t kPresyncCommitmentPeriod = 600;
//! Headers a redownload holds before it releases the oldest to the header tree: they are released
//! only once the kRedownloadBufferSize / kPresyncCommitmentPeriod = 22 commitments after them
//! matched, so a peer that answers the second pass with another chain is caught with probability
//! 1 - 2^-22 before anything of it is stored. 13,200 headers of 48 bytes: 634 KB per peer.
inline constexpr std::size_t kRedownloadBufferSize = 13'200;

//! Headers anti-DoS (Bitcoin Core's headerssync.cpp): a peer's chain that forks from ours and does
//! not yet show enough work to be worth storing (the anti-DoS threshold, HeaderSync) is synced in
//! two passes before any of it enters the header tree.
//! - Presync: every header is checked against the one before it (link, proof of work, the ASERT
//!   bits, the median-time rule, the future limit) and its work added up; one salted hash bit every
//!   kPresyncCommitmentPeriod headers (at a random offset) is all that is kept. A chain that ends
//!   before the threshold is dropped having stored nothing.
//! - Redownload: once the presync reached the threshold, the same headers are asked for again from
//!   the start; each is checked again and against the commitments, and held back until
//!   kRedownloadBufferSize headers (22 commitments) follow it, or the threshold is reached again.
//!   Only then are headers released to be stored.
//! Memory is bounded by the commitments (at most max_commitments bits, from the clock) and the
//! buffer. No I/O; time comes in as an argument.
class HeadersPresync {
 public:
  //! The commitment period and buffer size (the constants; tests make them smaller).
  struct Limits {
    std::uint64_t commitment_period;
    std::size_t redownload_buffer;
  };
  static constexpr Limits kDefaultLimits{kPresyncCommitmentPeriod, kRedownloadBufferSize};

  //! Starts from `start` (a header of ours, the parent of the peer's first header) toward
  //! `required_work` (the anti-DoS threshold at the start).
  HeadersPresync(const Chainstate& chain, const BlockIndex* start, const U256& required_work, std::int64_t now,
                 Limits limits = kDefaultLimits);

  struct Result {
    //! Headers proven to belong to a chain with enough work, in order: store them now.
    std::vector<BlockHeader> release;
    //! The getheaders to send next (none when the sync ended).
    std::optional<net::GetHeadersMsg> request;
    //! The sync ended: successfully (everything released) or not (see `failure`).
    bool finished = false;
    //! Why it ended without success ("" otherwise).
    std::string failure;
    //! The failure is the peer's fault (an invalid header), not an honest change of its chain.
    bool misbehavior = false;
  };
  //! The next `headers` message of this peer; `full` when it holds kMaxHeadersPerMessage headers
  //! (the peer has more).
  Result process(const std::vector<BlockHeader>& headers, bool full, std::int64_t now);

  bool redownloading() const { return redownloading_; }
  //! The hash the peer's next `headers` message must start on to continue this sync.
  const Hash256& last_hash() const { return redownloading_ ? redownload_.last_hash : presync_.last_hash; }
  //! Height of the last header checked in the current pass (getpeerinfo's presynced_headers).
  std::uint64_t height() const { return redownloading_ ? redownload_.height : presync_.height; }
  const U256& presync_work() const { return presync_.work; }
  std::size_t commitments() const { return commitments_.size(); }
  std::size_t buffered() const { return buffer_.size(); }
  std::uint64_t max_commitments() const { return max_commitments_; }

 private:
  //! A walk along the peer's chain: the last header, its height and time, the times the median
  //! rule needs, and the work so far.
  struct Walk {
    Hash256 last_hash;
    std::uint64_t height = 0;
    std::uint32_t last_time = 0;
    std::deque<std::int64_t> times;  //!< the last ChainParams::median_time_span timestamps
    U256 work;
  };
  //! Checks the header on top of the walk's last one (its link is the caller's) and moves on to it.
  Verdict step(Walk& w, const BlockHeader& h, const Hash256& hash, std::int64_t now) const;
  //! The header's link and checks on top of the walk: moves on, or the failed end of the sync.
  std::optional<Result> advance(Walk& w, const BlockHeader& h, const Hash256& hash, std::int64_t now);
  bool commitment_bit(const Hash256& hash) const;
  Result presync_headers(const std::vector<BlockHeader>& headers, bool full, std::int64_t now);
  Result redownload_headers(const std::vector<BlockHeader>& headers, bool full, std::int64_t now);
  net::GetHeadersMsg next_request(const Walk& w) const;
  Result fail(std::string why, bool misbehavior);

  //! A buffered header without its parent hash (the header before it in the buffer has it).
  struct Stored {
    std::uint32_t version, time, bits, nonce;
    Hash256 merkle_root;
  };

  const Chainstate& chain_;
  const BlockIndex* start_;
  U256 required_work_;
  Limits limits_;
  std::array<std::uint8_t, 32> salt_{};
  std::uint64_t commitment_offset_ = 0;
  std::uint64_t max_commitments_ = 0;
  Walk start_walk_;
  Walk presync_;
  Walk redownload_;
  bool redownloading_ = false;
  bool done_ = false;
  std::deque<bool> commitments_;
  std::deque<Stored> buffer_;
  Hash256 buffer_parent_;  //!< parent of the buffer's first header
  bool release_all_ = false;
};

}  // namespace cheese
