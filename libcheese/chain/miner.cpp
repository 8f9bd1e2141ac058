#include "chain/miner.hpp"

#include <algorithm>
#include <mutex>
#include <thread>

#include "consensus/pow.hpp"
#include "primitives/sha256.hpp"

namespace cheese {

namespace {

constexpr std::string_view kCoinbaseTag = "/cheesed/";

Bytes coinbase_extra(std::uint64_t extra_nonce) {
  Writer w;
  w.u64(extra_nonce);
  w.raw(as_bytes(kCoinbaseTag));
  return std::move(w).take();
}

}  // namespace

bool hash_meets_target(const Hash256& hash, const Hash256& target) {
  for (std::size_t i = 32; i-- > 0;) {
    if (hash.bytes[i] != target.bytes[i]) return hash.bytes[i] < target.bytes[i];
  }
  return true;
}

BlockTemplate create_block_template(const Chainstate& chain, const Mempool& mempool, const PublicKey& miner,
                                    std::int64_t now, std::uint64_t extra_nonce) {
  const ChainParams& p = chain.params();
  const BlockIndex* tip = chain.tip();
  BlockTemplate t;
  t.height = tip->height + 1;
  Block& b = t.block;
  b.header.version = 1;
  b.header.prev_hash = tip->hash;
  b.header.bits = chain.next_bits(tip);
  const std::int64_t min_time = chain.median_time_past(tip) + 1;
  b.header.time = static_cast<std::uint32_t>(std::max(now, min_time));
  t.target = decode_compact(b.header.bits).target.to_hash();

  Transaction coinbase = make_coinbase(miner, 0, t.height, coinbase_extra(extra_nonce));
  // Room for the header, the largest tx count varint and the coinbase.
  const std::size_t reserved = kHeaderSize + 9 + serialized_size(coinbase);
  std::vector<Transaction> txs = mempool.select_for_block(kMaxBlockSize - reserved, chain);
  for (const auto& tx : txs) t.fees += tx.fee;
  coinbase.amount = block_subsidy(t.height, p) + t.fees;
  b.txs.reserve(txs.size() + 1);
  b.txs.push_back(std::move(coinbase));
  for (auto& tx : txs) b.txs.push_back(std::move(tx));
  b.header.merkle_root = merkle_root(b);
  return t;
}

void set_extra_nonce(BlockTemplate& t, std::uint64_t extra_nonce) {
  t.block.txs[0].extra = coinbase_extra(extra_nonce);
  t.block.header.merkle_root = merkle_root(t.block);
}

namespace {

//! search_nonces with two stop flags: the caller's `cancel` and the search's own `found`.
std::optional<std::uint32_t> search_range(const HeaderMidstate& mid, const Hash256& target, std::uint32_t first,
                                          std::uint64_t count, const std::atomic<bool>& cancel,
                                          const std::atomic<bool>& found, std::atomic<std::uint64_t>& hashes) {
  // A batch is about 1 ms of hashing: the flags are checked that often, and the shared hash
  // counter is touched once per batch.
  constexpr std::uint64_t kBatch = 16384;
  std::uint64_t done = 0;
  while (done < count) {
    if (cancel.load(std::memory_order_relaxed) || found.load(std::memory_order_relaxed)) break;
    const std::uint64_t batch = std::min(kBatch, count - done);
    const auto start = static_cast<std::uint32_t>(first + done);
    std::uint64_t tried = 0;
    const auto n = header_search(mid, target, start, batch, tried);
    hashes.fetch_add(tried, std::memory_order_relaxed);
    if (n) return n;
    done += batch;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint32_t> search_nonces(const BlockHeader& header, const Hash256& target, std::uint32_t first,
                                           std::uint64_t count, const std::atomic<bool>& cancel,
                                           std::atomic<std::uint64_t>& hashes) {
  const auto bytes = serialize(header);
  const HeaderMidstate mid = header_midstate(std::span<const std::uint8_t, 80>(bytes.data(), 80));
  const std::atomic<bool> never{false};
  return search_range(mid, target, first, count, cancel, never, hashes);
}

std::optional<std::uint32_t> solve_header(const BlockHeader& header, const Hash256& target, unsigned threads,
                                          const std::atomic<bool>& cancel, std::atomic<std::uint64_t>& hashes,
                                          std::uint64_t max_hashes) {
  threads = std::max(1u, threads);
  const std::uint64_t space = std::min<std::uint64_t>(max_hashes, std::uint64_t{1} << 32);
  const auto bytes = serialize(header);
  const HeaderMidstate mid = header_midstate(std::span<const std::uint8_t, 80>(bytes.data(), 80));
  std::atomic<bool> found{false};
  // Easy targets (regtest) are met within a few hashes: no threads for those.
  constexpr std::uint64_t kQuickTry = 4096;
  if (auto n = search_range(mid, target, 0, std::min(space, kQuickTry), cancel, found, hashes)) return n;
  if (space <= kQuickTry) return std::nullopt;

  // The calling thread searches the first stripe itself, so exactly `threads` threads hash.
  // Every thread watches the caller's `cancel` and `found`, set by whichever finds a nonce.
  std::optional<std::uint32_t> result;
  std::mutex result_mutex;
  const std::uint64_t rest = space - kQuickTry;
  const std::uint64_t stripe = (rest + threads - 1) / threads;
  auto search_stripe = [&](std::uint64_t begin, std::uint64_t count) {
    auto n = search_range(mid, target, static_cast<std::uint32_t>(begin), count, cancel, found, hashes);
    if (n) {
      std::lock_guard lock(result_mutex);
      if (!result) result = n;
      found.store(true);
    }
  };
  {
    std::vector<std::jthread> workers;
    for (unsigned t = 1; t < threads; ++t) {
      const std::uint64_t begin = kQuickTry + t * stripe;
      if (begin >= space) break;
      workers.emplace_back(search_stripe, begin, std::min(stripe, space - begin));
    }
    search_stripe(kQuickTry, std::min(stripe, rest));
  }  // jthreads join here
  return result;
}

}  // namespace cheese
