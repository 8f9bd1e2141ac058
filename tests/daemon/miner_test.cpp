// The node's miner in a node run in-process (regtest, no RPC or P2P listeners): continuous
// mining (setgenerate) starts exactly the asked number of search threads and leaves none
// behind when stopped, and a competing block makes the miner switch to the new tip.
// Threads are counted in /proc/self/task. The regtest target is met by almost any hash, so the
// tests give the miner a target no hash meets: its threads then search until cancelled.
#include <coroutine>

#include <atomic>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <unistd.h>

#include "chain/miner.hpp"
#include "consensus/params.hpp"
#include "daemon/in_process_node.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/node/node.hpp"
#include "primitives/keys.hpp"

namespace asio = boost::asio;
using namespace cheese;
using cheese::test::InProcessNode;
using namespace std::chrono_literals;

namespace {

//! Threads of this process right now.
std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

//! Threads of this process running at the given nice value (field 19 of /proc/self/task/*/stat).
std::size_t threads_at_nice(int nice) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');  // the name may contain spaces
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string f;
    for (int i = 3; i <= 19 && fields >> f; ++i) {
      if (i == 19 && std::stoi(f) == nice) ++n;
    }
  }
  return n;
}

//! Polls `pred` every 10 ms for at most `limit`; true when it held.
bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
}

PublicKey key(std::uint8_t seed) {
  std::array<std::uint8_t, 32> s{};
  s[0] = seed;
  return SecretKey::from_seed(s).public_key();
}

}  // namespace

TEST_CASE("setgenerate start and stop leaves no mining thread running", "[daemon][miner]") {
  InProcessNode n(2);
  n.on_io([&] {
    n.ctx().miner->set_search_target_for_testing(Hash256{});
    return 0;
  });
  const std::size_t baseline = thread_count();
  INFO("threads before mining: " << baseline);

  // Start, stop, and a restart with another thread count while mining.
  for (unsigned threads : {2u, 1u, 3u}) {
    INFO("mining threads " << threads);
    n.on_io([&] {
      n.ctx().miner->set_generate(true, key(1), threads);
      return 0;
    });
    CHECK(wait_for([&] { return thread_count() == baseline + threads; }, 10s));
    // Still exactly that many a little later: the search keeps its threads, none pile up.
    std::this_thread::sleep_for(200ms);
    CHECK(thread_count() == baseline + threads);
    // A real search runs at the lowest priority, every one of its threads.
    CHECK(threads_at_nice(19) == threads);
    CHECK(n.on_io([&] { return n.ctx().miner->generating(); }));
    n.on_io([&] {
      n.ctx().miner->set_generate(false, PublicKey{}, 0);
      return 0;
    });
    CHECK(wait_for([&] { return thread_count() == baseline; }, 10s));
    CHECK(wait_for([&] { return !n.searching_on().has_value(); }, 10s));
  }

  // Switching from 3 to 1 thread without a stop in between ends the old search's threads.
  n.on_io([&] {
    n.ctx().miner->set_generate(true, key(1), 3);
    return 0;
  });
  CHECK(wait_for([&] { return thread_count() == baseline + 3; }, 10s));
  n.on_io([&] {
    n.ctx().miner->set_generate(true, key(1), 1);
    return 0;
  });
  CHECK(wait_for([&] { return thread_count() == baseline + 1; }, 10s));
  n.on_io([&] {
    n.ctx().miner->set_generate(false, PublicKey{}, 0);
    return 0;
  });
  CHECK(wait_for([&] { return thread_count() == baseline; }, 10s));
  CHECK(n.on_io([&] { return n.ctx().chain->height(); }) == 0);  // nothing was mined
}

TEST_CASE("a competing block makes the miner switch to the new tip", "[daemon][miner]") {
  InProcessNode n(1);
  n.on_io([&] {
    n.ctx().miner->set_search_target_for_testing(Hash256{});
    return 0;
  });
  const std::size_t baseline = thread_count();
  const Hash256 genesis = n.tip();
  n.on_io([&] {
    n.ctx().miner->set_generate(true, key(1), 1);
    return 0;
  });
  REQUIRE(wait_for([&] { return n.searching_on() == genesis; }, 10s));

  // Another miner's block on the same tip arrives.
  BlockTemplate t = n.on_io(
      [&] { return create_block_template((*n.ctx().chain), (*n.ctx().mempool), key(2), unix_now(), 777); });
  std::atomic<bool> cancel{false};
  std::atomic<std::uint64_t> hashes{0};
  const auto nonce = solve_header(t.block.header, t.target, 1, cancel, hashes, 1'000'000);
  REQUIRE(nonce.has_value());
  t.block.header.nonce = *nonce;
  const BlockSubmission s = n.submit(t.block);
  REQUIRE(s.accepted());
  REQUIRE(s.result.tip_changed);
  const Hash256 competitor = t.block.hash();
  REQUIRE(n.tip() == competitor);

  // The miner abandons the old search and builds on the competitor, with the same one thread.
  CHECK(wait_for([&] { return n.searching_on() == competitor; }, 5s));
  CHECK(wait_for([&] { return thread_count() == baseline + 1; }, 5s));

  // With the real (regtest) target again, its next block extends the competitor.
  n.on_io([&] {
    n.ctx().miner->set_search_target_for_testing(std::nullopt);
    n.ctx().miner->tip_changed();  // the running search still has the impossible target
    return 0;
  });
  CHECK(wait_for([&] { return n.on_io([&] { return n.ctx().chain->height(); }) >= 2; }, 10s));
  n.on_io([&] {
    n.ctx().miner->set_generate(false, PublicKey{}, 0);
    return 0;
  });
  const Hash256 second_parent = n.on_io([&] { return n.ctx().chain->at_height(2)->header.prev_hash; });
  CHECK(second_parent == competitor);
  CHECK(wait_for([&] { return thread_count() == baseline; }, 10s));
}
