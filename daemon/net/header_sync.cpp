#include "daemon/net/header_sync.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "consensus/pow.hpp"

namespace cheese {

namespace {

//! The work the headers claim, up to the first whose bits are not the ones ASERT requires of it
//! (cheap: no proof of work or storage; without the bits check one header claiming a tiny target
//! would carry any number of low-work headers before it past the threshold).
U256 claimed_work(const BlockIndex* start, const std::vector<BlockHeader>& headers, const ChainParams& params) {
  U256 work = start->chain_work;
  std::uint64_t height = start->height;
  std::uint32_t parent_time = start->header.time;
  for (const auto& h : headers) {
    if (h.bits != next_work_required(++height, parent_time, params)) break;
    work += block_work(h.bits);  // at most pow_limit's work each: no overflow in a message
    parent_time = h.time;
  }
  return work;
}

}  // namespace

U256 HeaderSync::anti_dos_threshold() const {
  const BlockIndex* tip = chain_.tip();
  const U256 buffer = block_work(tip->header.bits) * U256{kAntiDosWorkBufferBlocks};
  const U256 near_tip = tip->chain_work > buffer ? tip->chain_work - buffer : U256{};
  return std::max(near_tip, minimum_chain_work_);
}

net::GetHeadersMsg HeaderSync::request(const Hash256& stop) const {
  net::GetHeadersMsg m;
  // From the parent of our best header: a node whose headers are ahead of its blocks (after a
  // restart, or after the peer that sent them left) must learn that this peer can serve those
  // blocks, and an empty `headers` would not tell it.
  const BlockIndex* from = chain_.best_header();
  if (from->prev) from = from->prev;
  m.locator = chain_.locator(from);
  if (m.locator.size() > net::kMaxLocatorHashes) m.locator.resize(net::kMaxLocatorHashes);
  m.stop_hash = stop;
  return m;
}

HeaderSync::Outcome HeaderSync::process(const net::HeadersMsg& m, std::int64_t now) {
  Outcome out;
  if (m.headers.empty()) return out;
  const BlockIndex* start = chain_.lookup(m.headers.front().prev_hash);
  if (!start) {
    // They are on a branch we do not know the start of: ask from our locator. Not a fault.
    out.unknown_start = true;
    return out;
  }
  for (std::size_t i = 1; i < m.headers.size(); ++i) {
    if (m.headers[i].prev_hash != block_hash(m.headers[i - 1])) {
      // docs/protocol.md 9: an honest node sends one branch, each header on the one before.
      out.misbehavior = fmt::format("non-consecutive headers (header {} of {} does not follow the one before)", i,
                                    m.headers.size());
      return out;
    }
  }
  for (const auto& h : m.headers) {
    // As Bitcoin Core's CheckHeadersPoW: a hash each, before the work they claim is believed.
    if (auto v = check_header_pow(h, chain_.params()); !v) {
      out.misbehavior = fmt::format("invalid header {}: {}", block_hash(h).to_display_hex(), to_string(v.reason));
      return out;
    }
  }
  // Work before cost: a branch that cannot reach the threshold is not stored (headers we already
  // have are not new; their branch passed once).
  if (!chain_.lookup(block_hash(m.headers.back())) &&
      claimed_work(start, m.headers, chain_.params()) < anti_dos_threshold()) {
    out.low_work = true;
    return out;
  }
  out = store(m.headers, now);
  if (out.last && out.accepted.size() == net::kMaxHeadersPerMessage) {
    // A whole locator from the last header (not just its hash): if the peer's chain moved
    // meanwhile, it still finds the fork point.
    net::GetHeadersMsg more;
    more.locator = chain_.locator(out.last);
    if (more.locator.size() > net::kMaxLocatorHashes) more.locator.resize(net::kMaxLocatorHashes);
    out.more = std::move(more);
  }
  return out;
}

HeaderSync::Outcome HeaderSync::store(const std::vector<BlockHeader>& headers, std::int64_t now) {
  Outcome out;
  for (const auto& h : headers) {
    const BlockIndex* idx = nullptr;
    const Verdict v = chain_.accept_header(h, now, &idx);
    if (!v) {
      if (is_misbehavior(v.reason)) {
        out.misbehavior = fmt::format("invalid header {}: {}", block_hash(h).to_display_hex(), to_string(v.reason));
      }
      break;
    }
    out.last = idx;
    out.accepted.push_back(idx->hash);
  }
  return out;
}

net::HeadersMsg HeaderSync::answer(const net::GetHeadersMsg& m) const {
  const BlockIndex* fork = chain_.find_fork(m.locator);
  net::HeadersMsg reply;
  if (!m.locator.empty() && std::find(m.locator.begin(), m.locator.end(), fork->hash) == m.locator.end()) {
    // No hash of the locator is on our chain, not even genesis: the asker is on another chain
    // (docs/protocol.md 7.2). An empty locator means genesis.
    return reply;
  }
  for (std::uint64_t h = fork->height + 1; h <= chain_.height() && reply.headers.size() < net::kMaxHeadersPerMessage;
       ++h) {
    const BlockIndex* idx = chain_.at_height(h);
    reply.headers.push_back(idx->header);
    if (idx->hash == m.stop_hash) break;
  }
  return reply;
}

}  // namespace cheese
