#include "daemon/net/headers_presync.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "consensus/pow.hpp"
#include "consensus/validation.hpp"
#include "primitives/sha256.hpp"

namespace cheese {

HeadersPresync::HeadersPresync(const Chainstate& chain, const BlockIndex* start, const U256& required_work,
                               std::int64_t now, Limits limits)
    : chain_(chain), start_(start), required_work_(required_work), limits_(limits) {
  std::random_device rd;  // getrandom(2): the peer cannot predict which headers are committed to
  for (auto& b : salt_) b = static_cast<std::uint8_t>(rd());
  commitment_offset_ = ((std::uint64_t{rd()} << 32) | rd()) % limits_.commitment_period;

  const ChainParams& p = chain.params();
  start_walk_.last_hash = start->hash;
  start_walk_.height = start->height;
  start_walk_.last_time = start->header.time;
  start_walk_.work = start->chain_work;
  for (const BlockIndex* i = start; i && start_walk_.times.size() < p.median_time_span; i = i->prev) {
    start_walk_.times.push_front(i->header.time);
  }
  presync_ = start_walk_;
  // The median-time rule lets a chain hold at most about 6 headers per second of timestamps
  // between the start's median time and the future limit: more commitments than that mean a
  // chain that cannot be valid (Bitcoin Core's m_max_commitments).
  const std::int64_t span = now + p.max_future_block_time - chain.median_time_past(start);
  max_commitments_ = span > 0 ? 6 * static_cast<std::uint64_t>(span) / limits_.commitment_period : 0;
}

Verdict HeadersPresync::step(Walk& w, const BlockHeader& h, const Hash256& hash, std::int64_t now) const {
  const ChainParams& p = chain_.params();
  if (auto v = check_header_pow(h, p); !v) return v;
  const std::uint64_t height = w.height + 1;
  const HeaderContext ctx{height, median_time(std::vector<std::int64_t>(w.times.begin(), w.times.end())),
                          next_work_required(height, w.last_time, p)};
  if (auto v = check_header_contextual(h, ctx, now, p); !v) return v;
  w.last_hash = hash;
  w.height = height;
  w.last_time = h.time;
  w.times.push_back(h.time);
  if (w.times.size() > p.median_time_span) w.times.pop_front();
  w.work += block_work(h.bits);
  return {};
}

std::optional<HeadersPresync::Result> HeadersPresync::advance(Walk& w, const BlockHeader& h, const Hash256& hash,
                                                              std::int64_t now) {
  if (h.prev_hash != w.last_hash) return fail("non-consecutive headers", true);
  if (auto v = step(w, h, hash, now); !v) {
    return fail(fmt::format("invalid header {}: {}", hash.to_display_hex(), to_string(v.reason)),
                is_misbehavior(v.reason));
  }
  return std::nullopt;
}

bool HeadersPresync::commitment_bit(const Hash256& hash) const {
  return (sha256d(ByteSpan(salt_.data(), salt_.size()), ByteSpan(hash.bytes.data(), hash.bytes.size())).bytes[0] &
          1) != 0;
}

net::GetHeadersMsg HeadersPresync::next_request(const Walk& w) const {
  net::GetHeadersMsg m;
  m.locator.push_back(w.last_hash);
  for (const Hash256& h : chain_.locator(start_)) {
    if (m.locator.size() >= net::kMaxLocatorHashes) break;
    if (h != w.last_hash) m.locator.push_back(h);
  }
  return m;
}

HeadersPresync::Result HeadersPresync::fail(std::string why, bool misbehavior) {
  done_ = true;
  commitments_.clear();
  buffer_.clear();
  Result r;
  r.finished = true;
  r.failure = std::move(why);
  r.misbehavior = misbehavior;
  return r;
}

HeadersPresync::Result HeadersPresync::process(const std::vector<BlockHeader>& headers, bool full, std::int64_t now) {
  if (done_) return fail("the sync already ended", false);
  return redownloading_ ? redownload_headers(headers, full, now) : presync_headers(headers, full, now);
}

HeadersPresync::Result HeadersPresync::presync_headers(const std::vector<BlockHeader>& headers, bool full,
                                                       std::int64_t now) {
  for (const BlockHeader& h : headers) {
    const Hash256 hash = block_hash(h);
    if (auto failed = advance(presync_, h, hash, now)) return *failed;
    if (presync_.height % limits_.commitment_period == commitment_offset_) {
      commitments_.push_back(commitment_bit(hash));
      if (commitments_.size() > max_commitments_) return fail("more headers than the median-time rule allows", true);
    }
    if (presync_.work >= required_work_) {
      // Enough work: the second pass asks for the same chain again from the start (the rest of
      // this message comes again in it).
      redownloading_ = true;
      redownload_ = start_walk_;
      buffer_parent_ = start_->hash;
      Result r;
      r.request = next_request(redownload_);
      return r;
    }
  }
  if (!full) return fail("the peer's chain ended with too little work", false);
  Result r;
  r.request = next_request(presync_);
  return r;
}

HeadersPresync::Result HeadersPresync::redownload_headers(const std::vector<BlockHeader>& headers, bool full,
                                                          std::int64_t now) {
  for (const BlockHeader& h : headers) {
    const Hash256 hash = block_hash(h);
    if (auto failed = advance(redownload_, h, hash, now)) return *failed;
    if (!release_all_ && redownload_.height % limits_.commitment_period == commitment_offset_) {
      // A chain that differs from the presynced one (the peer's chain changed, or it lied) ends
      // the sync with nothing of it stored; an honest peer is simply synced again later.
      if (commitments_.empty()) return fail("the redownloaded chain is longer than the presynced one", false);
      const bool expected = commitments_.front();
      commitments_.pop_front();
      if (commitment_bit(hash) != expected)
        return fail("the redownloaded chain differs from the presynced one", false);
    }
    buffer_.push_back({h.version, h.time, h.bits, h.nonce, h.merkle_root});
    if (redownload_.work >= required_work_) release_all_ = true;
  }
  Result r;
  while (!buffer_.empty() && (release_all_ || buffer_.size() > limits_.redownload_buffer)) {
    const Stored& s = buffer_.front();
    BlockHeader h{s.version, buffer_parent_, s.merkle_root, s.time, s.bits, s.nonce};
    buffer_parent_ = block_hash(h);
    r.release.push_back(h);
    buffer_.pop_front();
  }
  if (release_all_) {
    done_ = true;
    r.finished = true;
    commitments_.clear();
    return r;
  }
  if (!full) {
    Result f = fail("the peer's chain ended before the threshold in the second pass", false);
    f.release = std::move(r.release);  // those had their commitments checked: still worth storing
    return f;
  }
  r.request = next_request(redownload_);
  return r;
}

}  // namespace cheese
