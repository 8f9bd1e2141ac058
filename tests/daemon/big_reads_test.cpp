// Large RPC results built off the io thread (daemon/rpc/big_reads.*): getrawmempool and getblock
// answer exactly the JSON text they answered when built on the io thread (the old code is kept
// here as the reference), a getblockcount sent during a big read is answered first, and the io
// watchdog names and counts a slow task on the node's io thread (getstallinfo).
#include <coroutine>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "chain/mempool.hpp"
#include "daemon/in_process_node.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/rpc_workers.hpp"
#include "daemon/rpc/util.hpp"
#include "io/io_watchdog.hpp"
#include "util/json.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

namespace {

// --- the serialisation before issue 19, on the io thread (daemon/rpc/chain.cpp at 4275a10) ---

json::value old_getrawmempool(NodeContext& node, bool verbose) {
  auto entries = node.mempool->entries();
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->time < b->time; });
  if (!verbose) {
    json::array out;
    for (const auto* e : entries) out.push_back(json::value(e->txid.to_display_hex()));
    return out;
  }
  json::object out;
  for (const auto* e : entries) {
    json::object o;
    o["size"] = e->size;
    o["fee"] = amount_value(e->tx.fee);
    o["time"] = e->time;
    o["from"] = address_of(e->tx.sender, (*node.params));
    o["to"] = address_of(e->tx.recipient, (*node.params));
    o["amount"] = amount_value(e->tx.amount);
    o["nonce"] = e->tx.nonce;
    out[e->txid.to_display_hex()] = std::move(o);
  }
  return out;
}

json::value old_getblock(NodeContext& node, const BlockIndex* idx, int verbosity) {
  auto block = node.chain->read_block(idx->hash);
  if (verbosity == 0) return json::value(to_hex(serialize(*block)));
  json::object o = header_json((*node.chain), idx);
  o["size"] = serialized_size(*block);
  json::array txs;
  for (const auto& tx : block->txs) {
    if (verbosity >= 2) {
      txs.push_back(transaction_json(tx, (*node.params)));
    } else {
      txs.push_back(json::value(txid(tx).to_display_hex()));
    }
  }
  o["tx"] = std::move(txs);
  return o;
}

// ---------------------------------------------------------------------------------------------

std::string call_body(const std::string& method, const std::string& params) {
  return R"({"jsonrpc":"2.0","id":7,"method":")" + method + R"(","params":)" + params + "}";
}

std::string expected_reply(const json::value& result) {
  return R"({"jsonrpc":"2.0","result":)" + serialize_json(result) + R"(,"id":7})" + "\n";
}

RpcReply call(InProcessNode& n, const std::string& body) {
  return n.await_on_io<RpcReply>([&n, body]() { return handle_jsonrpc(n.ctx().rpc, body); });
}

//! A node with 13 blocks (the last one holding 3 transfers of key 1) and 8 transfers waiting
//! (keys 1 and 2; several added in the same second, so the sort's ties are exercised).
struct Loaded {
  InProcessNode node;
  Hash256 full_block;
};

void load(Loaded& l) {
  TempDir dir("big-reads");
  Chainstate src(dir.file("scratch.db"), regtest(), 1);
  // Rewards are credited 10 blocks on: those of heights 1 (key 1) and 2 (key 2) fund the transfers.
  auto blocks = extend(src, 1, pub(1));
  for (const auto& b : extend(src, 1, pub(2))) blocks.push_back(b);
  for (const auto& b : extend(src, 10, pub(1))) blocks.push_back(b);
  const SecretKey k1 = key_from_seed(1);
  const SecretKey k2 = key_from_seed(2);
  std::vector<Transaction> in_block;
  for (std::uint64_t i = 0; i < 3; ++i) in_block.push_back(make_transfer(k1, pub(3), 1000 + i, kMinRelayFee, i));
  blocks.push_back(make_block(src, src.tip(), pub(4), in_block));
  for (const auto& b : blocks) REQUIRE(l.node.submit(b).accepted());
  l.full_block = blocks.back().hash();
  std::vector<Transaction> waiting;
  for (std::uint64_t i = 0; i < 5; ++i)
    waiting.push_back(make_transfer(k1, pub(5), 2000 + i, kMinRelayFee + i, 3 + i));
  for (std::uint64_t i = 0; i < 3; ++i) waiting.push_back(make_transfer(k2, pub(6), 3000 + i, kMinRelayFee, i));
  for (auto& tx : waiting) {
    const auto accepted = l.node.await_on_io<MempoolAccept>(
        [&l, tx]() { return l.node.ctx().blocks->submit_transaction(tx); });
    REQUIRE(accepted.ok());
  }
}

}  // namespace

TEST_CASE("getrawmempool built on a worker answers the same JSON as before", "[daemon][bigreads]") {
  Loaded l;
  load(l);
  REQUIRE(l.node.on_io([&] { return l.node.ctx().mempool->size(); }) == 8);
  for (const bool verbose : {false, true}) {
    const auto expected = l.node.on_io([&] { return expected_reply(old_getrawmempool(l.node.ctx(), verbose)); });
    const RpcReply reply = call(l.node, call_body("getrawmempool", verbose ? "[true]" : "[false]"));
    CHECK(reply.http_status == 200);
    CHECK(reply.body == expected);
  }
}

TEST_CASE("getblock built on a worker answers the same JSON as before", "[daemon][bigreads]") {
  Loaded l;
  load(l);
  const std::string hash = l.full_block.to_display_hex();
  for (const int verbosity : {0, 1, 2}) {
    const auto expected = l.node.on_io([&] {
      NodeContext& ctx = l.node.ctx();
      return expected_reply(old_getblock(ctx, ctx.chain->lookup(l.full_block), verbosity));
    });
    const RpcReply reply = call(l.node,
                                call_body("getblock", "[\"" + hash + "\"," + std::to_string(verbosity) + "]"));
    CHECK(reply.body == expected);
  }
  // Errors are unchanged: an unknown block, a bad verbosity.
  CHECK(call(l.node, call_body("getblock", "[\"" + std::string(64, '0') + "\"]")).body.find("Block not found") !=
        std::string::npos);
  CHECK(call(l.node, call_body("getblock", "[\"" + hash + "\",3]")).body.find("verbosity must be") !=
        std::string::npos);
}

TEST_CASE("a raw result in a batch and in a legacy reply", "[daemon][bigreads]") {
  Loaded l;
  load(l);
  const auto txids = l.node.on_io([&] { return serialize_json(old_getrawmempool(l.node.ctx(), false)); });
  const RpcReply batch = call(
      l.node,
      R"([{"jsonrpc":"2.0","id":1,"method":"getrawmempool"},{"jsonrpc":"2.0","id":2,"method":"getblockcount"}])");
  CHECK(batch.body ==
        R"([{"jsonrpc":"2.0","result":)" + txids + R"(,"id":1},{"jsonrpc":"2.0","result":13,"id":2}])" + "\n");
  const RpcReply legacy = call(l.node, R"({"id":"x","method":"getrawmempool"})");
  CHECK(legacy.body == R"({"result":)" + txids + R"(,"error":null,"id":"x"})" + "\n");
}

TEST_CASE("a getblockcount sent during a big read is answered before it", "[daemon][bigreads]") {
  Loaded l;
  load(l);
  // Both requests are started on the io thread one after the other; the big read takes its
  // snapshot and waits for the worker, and the io thread serves getblockcount meanwhile.
  auto order = std::make_shared<std::vector<std::string>>();
  auto both = std::make_shared<std::promise<void>>();
  auto done = both->get_future();
  NodeContext& ctx = l.node.ctx();
  // handle_jsonrpc reads its body when it runs: the bodies live until both replies are in.
  auto bodies = std::make_shared<std::pair<std::string, std::string>>(call_body("getrawmempool", "[true]"),
                                                                      call_body("getblockcount", "[]"));
  auto replies = std::make_shared<std::vector<RpcReply>>();
  // Both workers are held busy until getblockcount has its reply: the big read cannot finish
  // first however the threads are scheduled (on the io thread, as before, it would).
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  auto set = std::make_shared<std::atomic<bool>>(false);
  struct Release {  // also when a check fails: the node's workers must be free to stop
    std::shared_ptr<std::promise<void>> p;
    std::shared_ptr<std::atomic<bool>> set;
    ~Release() {
      if (!set->exchange(true)) p->set_value();
    }
  } guard{release, set};
  for (unsigned i = 0; i < kRpcWorkerThreads; ++i) ctx.rpc_workers->post([released] { released.wait(); });
  asio::post(*ctx.io, [&ctx, order, both, bodies, replies, release, set] {
    auto finish = [order, both, replies, release, set](std::string name, RpcReply reply) {
      if (name == "getblockcount" && !set->exchange(true)) release->set_value();
      order->push_back(std::move(name));
      replies->push_back(std::move(reply));
      if (order->size() == 2) both->set_value();
    };
    asio::co_spawn(*ctx.io, handle_jsonrpc(ctx.rpc, bodies->first),
                   [finish](std::exception_ptr, RpcReply r) { finish("getrawmempool", std::move(r)); });
    asio::co_spawn(*ctx.io, handle_jsonrpc(ctx.rpc, bodies->second),
                   [finish](std::exception_ptr, RpcReply r) { finish("getblockcount", std::move(r)); });
  });
  REQUIRE(done.wait_for(30s) == std::future_status::ready);
  CHECK(l.node.on_io([order] { return *order; }) == std::vector<std::string>{"getblockcount", "getrawmempool"});
  const auto got = l.node.on_io([replies] { return *replies; });
  REQUIRE(got.size() == 2);
  for (const auto& r : got) CHECK(r.body.find("\"result\"") != std::string::npos);
}

TEST_CASE("the node's io watchdog logs and counts a slow task (getstallinfo)", "[daemon][bigreads][watchdog]") {
  InProcessNode n;
  const auto before = n.on_io([&] { return n.ctx().watchdog->stats().stalls; });
  // A deliberately slow task on the io thread, named as a dispatch point names its work.
  n.on_io([] {
    const auto named = io::IoWatchdog::scope_here("rpc", "slowtest");
    std::this_thread::sleep_for(3 * io::kIoStallWarning);
    return 0;
  });
  // The lag timer reports it on its next beat: wait for it, bounded.
  for (int i = 0; i < 200 && n.on_io([&] { return n.ctx().watchdog->stats().tasks.count("rpc slowtest"); }) == 0;
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const RpcReply reply = call(n, call_body("getstallinfo", "[]"));
  auto parsed = parse_json_exact(reply.body);
  REQUIRE(parsed);
  const auto& info = parsed->as_object().at("result").as_object();
  CHECK(info.at("bound_ms").as_int64() == io::kIoStallWarning.count());
  CHECK(static_cast<std::uint64_t>(info.at("stalls").as_int64()) > before);
  const auto& task = info.at("tasks").as_object().at("rpc slowtest").as_object();
  CHECK(task.at("stalls").as_int64() == 1);
  const json::value& longest = task.at("longest_ms");
  const double ms = longest.is_int64() ? static_cast<double>(longest.as_int64())
                                       : std::stod(std::string(as_raw_number(longest).value_or("0")));
  CHECK(ms >= 2.0 * static_cast<double>(io::kIoStallWarning.count()));
}
