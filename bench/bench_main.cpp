// cheese-bench: measures the hot paths and, in the same run, the bounds they are compared with.
//   cheese-bench [all|sha256|sig|connect] [--blocks N] [--txs-per-block N] [--runs N] [--keep FILE]
#include <fmt/format.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "chain/chainstate.hpp"
#include "chain/miner.hpp"
#include "chain/sig_verifier.hpp"
#include "consensus/params.hpp"
#include "consensus/pow.hpp"
#include "primitives/keys.hpp"
#include "primitives/sha256.hpp"

using namespace cheese;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

//! CPU time of the calling thread: a measurement on one thread that the scheduler interrupts
//! (the machine is shared) is not charged for the time it did not run.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

//! Runs f() (which returns the items it did) for about `secs` seconds of this thread's CPU time;
//! returns items per CPU second.
template <typename F>
double rate_of(double secs, F&& f) {
  std::uint64_t items = 0;
  const double t0 = thread_cpu_seconds();
  double elapsed = 0;
  do {
    items += static_cast<std::uint64_t>(f());
    elapsed = thread_cpu_seconds() - t0;
  } while (elapsed < secs);
  return static_cast<double>(items) / elapsed;
}

//! Header hashes of the miner's search (solve_header) on `threads` threads for `secs` seconds,
//! with a target no hash meets so that every thread searches the whole time. Returns hashes per
//! wall second, per CPU second of the process and per CPU second of the calling thread (with one
//! thread the search runs on the caller).
struct SearchRate {
  double wall;
  double process_cpu;
  double thread_cpu;
};
SearchRate search_rate(const BlockHeader& header, unsigned threads, double secs) {
  const Hash256 impossible{};
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> hashes{0};
  std::thread timer([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
    cancel.store(true);
  });
  const auto t0 = Clock::now();
  const double cpu0 = process_cpu_seconds();
  const double thread0 = thread_cpu_seconds();
  (void)solve_header(header, impossible, threads, cancel, hashes, ~std::uint64_t{0});
  const double thread = thread_cpu_seconds() - thread0;
  const double elapsed = seconds_since(t0);
  const double cpu = process_cpu_seconds() - cpu0;
  timer.join();
  const auto h = static_cast<double>(hashes.load());
  return {h / elapsed, h / cpu, h / thread};
}

void bench_sha256(int runs) {
  fmt::print("== SHA-256: rates per CPU second of the measuring thread, best of {} interleaved rounds\n", runs);
  std::vector<std::uint8_t> blocks0(64 * 256, 0x5a);
  std::vector<std::uint8_t> blocks1(64 * 256, 0xa5);
  std::array<std::uint8_t, 80> header_bytes{};
  for (std::size_t i = 0; i < header_bytes.size(); ++i) header_bytes[i] = static_cast<std::uint8_t>(i * 7);
  BlockHeader header;
  header.version = 1;
  header.prev_hash.bytes[0] = 1;
  header.merkle_root.bytes[0] = 2;
  header.time = 1795564802;
  header.bits = 0x1d00ffff;
  const Hash256 impossible{};
  for (auto backend : {Sha256Backend::kPortable, Sha256Backend::kShaNi}) {
    if (!sha256_select_backend(backend)) {
      fmt::print("  {:<8} not available on this CPU\n", "sha-ni");
      continue;
    }
    const char* name = backend == Sha256Backend::kShaNi ? "sha-ni" : "portable";
    const double secs = backend == Sha256Backend::kShaNi ? 0.25 : 0.1;
    std::uint32_t state0[8] = {};
    std::uint32_t state1[8] = {};
    const std::size_t n = blocks0.size() / 64;
    const auto mid = header_midstate(header_bytes);
    std::uint32_t nonce = 0;
    Hash256 a, b;
    // Each round measures everything once, so that a busy moment of the machine hits all of
    // them alike; the best of the rounds is the least disturbed.
    double comp1 = 0, comp2 = 0, one = 0, two = 0, old_loop = 0, search = 0, miner1 = 0;
    for (int r = 0; r < runs; ++r) {
      comp1 = std::max(comp1, rate_of(secs, [&] {
                         sha256_compress(state0, blocks0.data(), n);
                         return n;
                       }));
      comp2 = std::max(comp2, rate_of(secs, [&] {
                         sha256_compress_2way(state0, blocks0.data(), state1, blocks1.data(), n);
                         return 2 * n;
                       }));
      one = std::max(one, rate_of(secs, [&] {
                       for (int i = 0; i < 4096; ++i) (void)header_hash(mid, nonce++);
                       return 4096;
                     }));
      two = std::max(two, rate_of(secs, [&] {
                       for (int i = 0; i < 2048; ++i, nonce += 2) header_hash_2way(mid, nonce, nonce + 1, a, b);
                       return 4096;
                     }));
      // The miner's loop before header_search: full 2-way hashes, each compared with the target.
      old_loop = std::max(old_loop, rate_of(secs, [&] {
                            int hits = 0;
                            for (int i = 0; i < 2048; ++i, nonce += 2) {
                              header_hash_2way(mid, nonce, nonce + 1, a, b);
                              hits += hash_meets_target(a, impossible) + hash_meets_target(b, impossible);
                            }
                            return 4096 + hits;
                          }));
      search = std::max(search, rate_of(secs, [&] {
                          std::uint64_t tried = 0;
                          (void)header_search(mid, impossible, nonce, 1 << 14, tried);
                          nonce += 1 << 14;
                          return tried;
                        }));
      if (backend == Sha256Backend::kShaNi) {
        // One thread: solve_header searches on the calling thread, so its CPU time is this one's.
        miner1 = std::max(miner1, search_rate(header, 1, secs).thread_cpu);
      }
    }
    fmt::print("  {:<8} compress: 1 stream {:6.2f} M/s ({:6.1f} MB/s), 2 interleaved streams {:6.2f} M/s\n", name,
               comp1 / 1e6, comp1 * 64 / 1e6, comp2 / 1e6);
    fmt::print(
        "  {:<8} header hash {:6.2f} MH/s, 2-way {:6.2f} MH/s, 2-way + target compare {:6.2f} MH/s, "
        "nonce search (header_search) {:6.2f} MH/s\n",
        name, one / 1e6, two / 1e6, old_loop / 1e6, search / 1e6);
    if (backend == Sha256Backend::kShaNi) {
      // The limit: two compressions per nonce at the interleaved (throughput-bound) rate.
      const double limit = comp2 / 2;
      fmt::print(
          "  SHA-256 compression limit (2 interleaved streams, 2 compressions per nonce): {:6.2f} MH/s per core\n",
          limit / 1e6);
      fmt::print("  nonce search, 1 thread:                {:6.2f} MH/s = {:5.1f}% of the limit\n", search / 1e6,
                 100 * search / limit);
      fmt::print("  miner (solve_header), 1 thread:        {:6.2f} MH/s = {:5.1f}% of the limit\n", miner1 / 1e6,
                 100 * miner1 / limit);
      const unsigned all = std::max(1u, std::thread::hardware_concurrency());
      double best_wall = 0, best_cpu = 0;
      for (int r = 0; r < runs; ++r) {
        const SearchRate rate = search_rate(header, all, 4 * secs);
        best_wall = std::max(best_wall, rate.wall);
        best_cpu = std::max(best_cpu, rate.process_cpu);
      }
      fmt::print(
          "  miner (solve_header), all {} threads:   {:6.2f} MH/s wall-clock = {:5.1f}% of {} x the limit "
          "({:6.2f} MH per CPU second: the wall rate is lower when other processes hold the cores)\n",
          all, best_wall / 1e6, 100 * best_wall / (limit * all), all, best_cpu / 1e6);
    }
  }
  sha256_select_backend(sha256_shani_supported() ? Sha256Backend::kShaNi : Sha256Backend::kPortable);
}

//! A block of `count` signed transfers, for measuring the verification bound.
Block signature_block(std::size_t count) {
  const auto& p = chain_params(Network::kRegtest);
  auto key = SecretKey::from_seed(std::array<std::uint8_t, 32>{7});
  Block b;
  b.txs.push_back(make_coinbase(PublicKey{}, 0, 1));
  for (std::size_t i = 0; i < count; ++i) {
    Transaction tx;
    tx.recipient[0] = static_cast<std::uint8_t>(i);
    tx.amount = 1 + i;
    tx.fee = 1000;
    tx.nonce = i;
    sign_transaction(tx, key, p.magic);
    b.txs.push_back(tx);
  }
  return b;
}

struct VerifyRates {
  double one;  //!< one thread, per second of its CPU time
  double all;  //!< the worker pool on all cores, per wall-clock second: the bound
};

//! Ed25519 verifications per second on one thread and on the verifier pool (all cores).
VerifyRates verify_rates(const Block& b, SignatureVerifier& pool) {
  const auto& p = chain_params(Network::kRegtest);
  const auto count = static_cast<double>(b.txs.size() - 1);
  const double c0 = thread_cpu_seconds();
  if (!check_block_signatures(b, p.magic, 1, b.txs.size())) std::abort();
  const double one = count / (thread_cpu_seconds() - c0);
  const auto t0 = Clock::now();
  if (!pool.verify_block(b, p.magic)) std::abort();
  return {one, count / seconds_since(t0)};
}

//! Builds a regtest chain: 10 empty blocks (maturity), one funding block, then `blocks` blocks of
//! `per_block` signed transfers from `per_block` senders.
std::vector<Block> build_chain(std::size_t blocks, std::size_t per_block) {
  const auto& p = chain_params(Network::kRegtest);
  auto funder = SecretKey::from_seed(std::array<std::uint8_t, 32>{1});
  std::vector<SecretKey> senders;
  for (std::size_t i = 0; i < per_block; ++i) {
    std::array<std::uint8_t, 32> seed{};
    seed[0] = 2;
    seed[1] = static_cast<std::uint8_t>(i);
    seed[2] = static_cast<std::uint8_t>(i >> 8);
    senders.push_back(SecretKey::from_seed(seed));
  }
  std::vector<Block> chain;
  Hash256 prev = p.genesis_hash;
  std::uint32_t time = p.genesis.header.time;
  auto finish = [&](Block& b, std::uint64_t height, Amount fees) {
    b.txs.insert(b.txs.begin(), make_coinbase(funder.public_key(), block_subsidy(height, p) + fees, height));
    b.header.prev_hash = prev;
    b.header.time = ++time;
    b.header.bits = p.pow_limit_bits;
    b.header.merkle_root = merkle_root(b);
    while (!check_proof_of_work(b.hash(), b.header.bits, p.pow_limit)) ++b.header.nonce;
    prev = b.hash();
    chain.push_back(std::move(b));
  };
  const std::uint64_t first = p.coinbase_maturity + 1;  // funder's first reward is credited here
  for (std::uint64_t h = 1; h < first; ++h) {
    Block b;
    finish(b, h, 0);
  }
  const Amount fee = 1000;
  // Each sender needs blocks * (amount + fee); the funder has 50 CHZ at this height.
  const Amount amount = 1000;
  const Amount each = static_cast<Amount>(blocks) * (amount + fee);
  if (per_block * (each + fee) > 50 * kCoin) throw std::runtime_error("too many transactions to fund");
  {
    Block b;
    for (std::size_t i = 0; i < per_block; ++i) {
      Transaction tx;
      tx.recipient = senders[i].public_key();
      tx.amount = each;
      tx.fee = fee;
      tx.nonce = i;
      sign_transaction(tx, funder, p.magic);
      b.txs.push_back(tx);
    }
    finish(b, first, fee * per_block);
  }
  for (std::size_t k = 0; k < blocks; ++k) {
    Block b;
    for (std::size_t i = 0; i < per_block; ++i) {
      Transaction tx;
      tx.recipient = senders[(i + k + 1) % per_block].public_key();
      tx.recipient[31] ^= 1;  // fresh recipient accounts, as in real traffic
      tx.amount = amount;
      tx.fee = fee;
      tx.nonce = k;
      sign_transaction(tx, senders[i], p.magic);
      b.txs.push_back(tx);
    }
    finish(b, first + 1 + k, fee * per_block);
  }
  return chain;
}

void bench_connect(std::size_t blocks, std::size_t per_block, int runs, const Block& sig_block,
                   const std::filesystem::path& keep) {
  const auto& p = chain_params(Network::kRegtest);
  fmt::print("== Connect {} blocks x {} transfers from a fresh database, {} run(s)\n", blocks, per_block, runs);
  auto t0 = Clock::now();
  auto chain = build_chain(blocks, per_block);
  std::size_t total_txs = 0;
  for (const auto& b : chain) total_txs += b.txs.size() - 1;
  fmt::print("  built and signed {} transactions in {:.1f} s (not measured)\n", total_txs, seconds_since(t0));
  std::vector<std::shared_ptr<const Block>> shared;
  shared.reserve(chain.size());
  for (auto& b : chain) shared.push_back(std::make_shared<const Block>(std::move(b)));
  const std::int64_t now = shared.back()->header.time;

  double best_ratio = 0;
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("cheese-bench-{}", ::getpid());
  for (int run = 0; run < runs; ++run) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    Chainstate chain_state(dir / "chain.sqlite", p);
    // The bound is measured with the same pool just before and just after the connection; the
    // higher of the two counts, so that a busy moment of the machine cannot flatter the ratio.
    const VerifyRates before = verify_rates(sig_block, chain_state.verifier());

    // Pipeline: signatures of the next blocks (up to kAheadTxs transactions ahead) are checked on
    // the worker pool while this thread validates and connects the current block in order. The
    // window is deep enough that the workers keep going while this thread waits for the disk
    // (a WAL checkpoint's fsync can take a few hundred ms on a shared disk).
    constexpr std::size_t kAheadTxs = 8192;
    std::vector<std::future<Verdict>> pending(shared.size());
    double waited = 0;      // for signature checks of the next block
    double connecting = 0;  // in process_block
    double connecting_cpu = 0;
    const double process_cpu0 = process_cpu_seconds();
    t0 = Clock::now();
    std::size_t submitted = 0;      // blocks handed to the verifier
    std::size_t txs_submitted = 0;  // their transactions
    std::size_t txs_connected = 0;
    for (std::size_t i = 0; i < shared.size(); ++i) {
      while (submitted < shared.size() && (submitted <= i || txs_submitted - txs_connected < kAheadTxs)) {
        pending[submitted] = chain_state.verifier().verify_block_async(shared[submitted], p.magic);
        txs_submitted += shared[submitted]->txs.size();
        ++submitted;
      }
      const auto w0 = Clock::now();
      if (!pending[i].get()) throw std::runtime_error("benchmark block has a bad signature");
      const auto w1 = Clock::now();
      const double c1 = thread_cpu_seconds();
      // As the node's block queue does during initial sync: defer the commit while more blocks
      // are queued (CommitMode::kDeferred), commit with the last one.
      const CommitMode mode = i + 1 < shared.size() ? CommitMode::kDeferred : CommitMode::kNow;
      auto r = chain_state.process_block(*shared[i], now, true, mode);
      waited += std::chrono::duration<double>(w1 - w0).count();
      connecting += seconds_since(w1);
      connecting_cpu += thread_cpu_seconds() - c1;
      txs_connected += shared[i]->txs.size();
      if (!r.verdict || !r.tip_changed) {
        throw std::runtime_error(fmt::format("block {} rejected: {}", i, to_string(r.verdict.reason)));
      }
    }
    const double secs = seconds_since(t0);
    const double cpu = process_cpu_seconds() - process_cpu0;
    const VerifyRates after = verify_rates(sig_block, chain_state.verifier());
    const double bound = std::max(before.all, after.all);
    const double rate = static_cast<double>(total_txs) / secs;
    const double ratio = rate / bound;
    best_ratio = std::max(best_ratio, ratio);
    const unsigned cores = std::thread::hardware_concurrency();
    fmt::print(
        "  run {}: Ed25519 verify 1 thread {:.0f} /s (CPU time), all {} threads {:.0f} /s before, {:.0f} /s after\n",
        run + 1, std::max(before.one, after.one), chain_state.verifier().threads(), before.all, after.all);
    fmt::print(
        "  run {}: connected {} blocks, {} transactions in {:.2f} s: {:.0f} tx/s = {:.0f}% of the bound ({:.0f} "
        "/s)\n",
        run + 1, shared.size(), total_txs, secs, rate, 100 * ratio, bound);
    fmt::print(
        "         waiting for signature checks {:.2f} s, in process_block {:.2f} s ({:.2f} s on the CPU); "
        "process CPU {:.2f} s of {:.2f} s on {} cores; database {:.1f} MB\n",
        waited, connecting, connecting_cpu, cpu, secs * cores, cores,
        static_cast<double>(chain_state.size_on_disk()) / 1e6);
    // A view less dependent on the load: the share of the process's CPU time that the signature
    // checks need at the one-thread rate. With every core busy and nothing else running, the
    // ratio to the bound comes close to it (indicative: the one-thread rate varies too).
    const double verify_cpu = static_cast<double>(total_txs) / std::max(before.one, after.one);
    fmt::print(
        "         signature checks need {:.2f} s of CPU = {:.0f}% of the process CPU time "
        "(about the ratio a quiet machine would reach with all cores busy)\n",
        verify_cpu, 100 * verify_cpu / cpu);
  }
  fmt::print("  best run: {:.0f}% of the bound\n", 100 * best_ratio);
  if (!keep.empty()) {
    // The database of the last run (closed, so its WAL is folded in): a regtest node started on
    // it serves the chain (bench/p2p_bench.py --txs measures a second node's sync from it).
    std::filesystem::copy_file(dir / "chain.sqlite", keep, std::filesystem::copy_options::overwrite_existing);
    fmt::print("  kept the chain database as {}\n", keep.string());
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  std::string what = "all";
  std::size_t blocks = 1000;
  std::size_t per_block = 100;
  int runs = 0;  // default: 5 for sha256 and sig, 1 for connect
  std::filesystem::path keep;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--blocks" && i + 1 < argc) {
      blocks = std::stoul(argv[++i]);
    } else if (arg == "--txs-per-block" && i + 1 < argc) {
      per_block = std::stoul(argv[++i]);
    } else if (arg == "--keep" && i + 1 < argc) {
      keep = argv[++i];
    } else if (arg == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::stoi(argv[++i]));
    } else if (arg == "all" || arg == "sha256" || arg == "sig" || arg == "connect") {
      what = arg;
    } else {
      fmt::print(
          stderr,
          "usage: cheese-bench [all|sha256|sig|connect] [--blocks N] [--txs-per-block N] [--runs N] [--keep FILE]\n");
      return 1;
    }
  }
  fmt::print("cheese-bench on {} hardware threads\n", std::thread::hardware_concurrency());
  const bool runs_given = runs > 0;
  if (!runs_given) runs = (what == "connect") ? 1 : 5;
  if (what == "all" || what == "sha256") bench_sha256(what == "all" && !runs_given ? 5 : runs);
  if (what == "all" || what == "sig" || what == "connect") {
    const Block sig_block = signature_block(20000);
    if (what == "sig") {
      SignatureVerifier pool;
      double one = 0, all = 0;
      for (int r = 0; r < runs; ++r) {
        const VerifyRates v = verify_rates(sig_block, pool);
        one = std::max(one, v.one);
        all = std::max(all, v.all);
      }
      fmt::print(
          "== Ed25519 verification (libsodium), best of {}\n  1 thread: {:.0f} /s (CPU time)   all {} threads: "
          "{:.0f} /s\n",
          runs, one, pool.threads(), all);
    } else {
      bench_connect(blocks, per_block, what == "connect" ? runs : 1, sig_block, keep);
    }
  }
  return 0;
}
