#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chain/chainstate.hpp"
#include "net/protocol.hpp"

namespace cheese {

//! A branch of headers is stored only if it can reach the tip's work less this many blocks of the
//! tip's difficulty (or the minimum chain work, whichever is more): a side branch costs its sender
//! the work of the blocks it stands for (Bitcoin Core's GetAntiDoSWorkThreshold, 144 blocks).
inline constexpr std::uint64_t kAntiDosWorkBufferBlocks = 144;

//! Headers-first sync against the chainstate: what to ask for (getheaders with a locator), what a
//! `headers` message does to the header tree, and the answer to a peer's getheaders. No I/O;
//! time comes in as an argument.
class HeaderSync {
 public:
  //! `minimum_chain_work`: no branch with less work is stored (ChainParams, -minimumchainwork).
  explicit HeaderSync(Chainstate& chain, U256 minimum_chain_work = {})
      : chain_(chain), minimum_chain_work_(minimum_chain_work) {}

  //! The work a branch must be able to reach for its headers to be stored: the larger of the
  //! minimum chain work and the tip's work less kAntiDosWorkBufferBlocks blocks of its difficulty.
  U256 anti_dos_threshold() const;
  const U256& minimum_chain_work() const { return minimum_chain_work_; }

  //! getheaders from the parent of our best header (as Bitcoin Core does), so that a peer with
  //! nothing newer still answers with one header and we learn what it has.
  net::GetHeadersMsg request(const Hash256& stop = Hash256{}) const;

  struct Outcome {
    std::vector<Hash256> accepted;           //!< headers now in the tree, in message order
    const BlockIndex* last = nullptr;        //!< the last of them
    std::optional<std::string> misbehavior;  //!< an invalid header: the sender broke the rules
    bool unknown_start = false;              //!< the first header's parent is unknown to us
    //! The headers are consecutive on a known parent, new, and their branch does not reach
    //! anti_dos_threshold(): nothing was stored (a full message: presync it, HeadersPresync).
    bool low_work = false;
    std::optional<net::GetHeadersMsg> more;  //!< a full message: ask for the headers after it
  };
  //! Accepts the headers in order until one is not accepted, if their branch shows enough work.
  Outcome process(const net::HeadersMsg& m, std::int64_t now);
  //! Accepts headers whose branch proved its work (released by a HeadersPresync), in order until
  //! one is not accepted; never asks for more.
  Outcome store(const std::vector<BlockHeader>& headers, std::int64_t now);

  //! The reply to getheaders: up to net::kMaxHeadersPerMessage headers of our active chain after
  //! the fork point of the locator, up to its stop hash; none when no locator hash is ours.
  net::HeadersMsg answer(const net::GetHeadersMsg& m) const;

 private:
  Chainstate& chain_;
  U256 minimum_chain_work_;
};

}  // namespace cheese
