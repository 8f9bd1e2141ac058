#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chain/chainstate.hpp"
#include "net/protocol.hpp"

namespace cheese {

//! Headers-first sync against the chainstate: what to ask for (getheaders with a locator), what a
//! `headers` message does to the header tree, and the answer to a peer's getheaders. No I/O;
//! time comes in as an argument.
class HeaderSync {
 public:
  explicit HeaderSync(Chainstate& chain) : chain_(chain) {}

  //! getheaders from the parent of our best header (as Bitcoin Core does), so that a peer with
  //! nothing newer still answers with one header and we learn what it has.
  net::GetHeadersMsg request(const Hash256& stop = Hash256{}) const;

  struct Outcome {
    std::vector<Hash256> accepted;           //!< headers now in the tree, in message order
    const BlockIndex* last = nullptr;        //!< the last of them
    std::optional<std::string> misbehavior;  //!< an invalid header: the sender broke the rules
    bool unknown_start = false;              //!< the first header's parent is unknown to us
    std::optional<net::GetHeadersMsg> more;  //!< a full message: ask for the headers after it
  };
  //! Accepts the headers in order until one is not accepted.
  Outcome process(const net::HeadersMsg& m, std::int64_t now);

  //! The reply to getheaders: up to net::kMaxHeadersPerMessage headers of our active chain after
  //! the fork point of the locator, up to its stop hash; none when no locator hash is ours.
  net::HeadersMsg answer(const net::GetHeadersMsg& m) const;

 private:
  Chainstate& chain_;
};

}  // namespace cheese
