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

std::optional<std::uint32_t> search_nonces(const BlockHeader& header, const Hash256& target, std::uint32_t first,
                                           std::uint64_t count, const std::atomic<bool>& cancel,
                                           std::atomic<std::uint64_t>& hashes) {
  const auto bytes = serialize(header);
  const HeaderMidstate mid = header_midstate(std::span<const std::uint8_t, 80>(bytes.data(), 80));
  constexpr std::uint64_t kBatch = 8192;
  std::uint64_t done = 0;
  Hash256 h0, h1;
  while (done < count) {
    if (cancel.load(std::memory_order_relaxed)) break;
    const std::uint64_t batch = std::min(kBatch, count - done);
    std::uint64_t i = 0;
    for (; i + 1 < batch; i += 2) {
      const auto n0 = static_cast<std::uint32_t>(first + done + i);
      const auto n1 = static_cast<std::uint32_t>(n0 + 1);
      header_hash_2way(mid, n0, n1, h0, h1);
      if (hash_meets_target(h0, target)) {
        hashes.fetch_add(done + i + 1, std::memory_order_relaxed);
        return n0;
      }
      if (hash_meets_target(h1, target)) {
        hashes.fetch_add(done + i + 2, std::memory_order_relaxed);
        return n1;
      }
    }
    if (i < batch) {
      const auto n = static_cast<std::uint32_t>(first + done + i);
      if (hash_meets_target(header_hash(mid, n), target)) {
        hashes.fetch_add(done + i + 1, std::memory_order_relaxed);
        return n;
      }
    }
    done += batch;
  }
  hashes.fetch_add(done, std::memory_order_relaxed);
  return std::nullopt;
}

std::optional<std::uint32_t> solve_header(const BlockHeader& header, const Hash256& target, unsigned threads,
                                          const std::atomic<bool>& cancel, std::atomic<std::uint64_t>& hashes,
                                          std::uint64_t max_hashes) {
  threads = std::max(1u, threads);
  const std::uint64_t space = std::min<std::uint64_t>(max_hashes, std::uint64_t{1} << 32);
  // Easy targets (regtest) are met within a few hashes: no threads for those.
  constexpr std::uint64_t kQuickTry = 4096;
  if (auto n = search_nonces(header, target, 0, std::min(space, kQuickTry), cancel, hashes)) return n;
  if (space <= kQuickTry) return std::nullopt;

  // Workers watch one flag: set when a nonce is found or when the caller cancels.
  std::atomic<bool> stop{false};
  std::optional<std::uint32_t> result;
  std::mutex result_mutex;
  const std::uint64_t rest = space - kQuickTry;
  const std::uint64_t stripe = (rest + threads - 1) / threads;
  std::atomic<unsigned> running{0};
  {
    std::vector<std::jthread> workers;
    for (unsigned t = 0; t < threads; ++t) {
      const std::uint64_t begin = kQuickTry + t * stripe;
      if (begin >= space) break;
      const std::uint64_t count = std::min(stripe, space - begin);
      running.fetch_add(1);
      workers.emplace_back([&, begin, count] {
        auto n = search_nonces(header, target, static_cast<std::uint32_t>(begin), count, stop, hashes);
        if (n) {
          std::lock_guard lock(result_mutex);
          if (!result) result = n;
          stop.store(true);
        }
        running.fetch_sub(1);
      });
    }
    while (running.load() > 0) {
      if (cancel.load()) stop.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return result;
}

}  // namespace cheese
