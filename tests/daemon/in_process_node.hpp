#pragma once

// A regtest node run in-process for the daemon tests: no RPC or P2P listeners, its io thread
// started and stopped with the object, its data directory removed at scope exit.

#include <coroutine>

#include <atomic>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <unistd.h>

#include "chain/chainstate.hpp"
#include "consensus/params.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/node/node.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace cheese::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

//! A regtest node running on its own io thread; removed with its data directory at scope exit.
class InProcessNode {
 public:
  explicit InProcessNode(unsigned gen_threads = 0) {
    static std::atomic<unsigned> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("cheese-daemon-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    NodeOptions o;
    o.params = &chain_params(Network::kRegtest);
    o.datadir = dir_;
    o.listen = false;  // no P2P listener; rpc_bind is empty, so no RPC listener either
    o.gen_threads = static_cast<int>(gen_threads);
    node_ = std::make_unique<Node>(std::move(o));
    io_thread_ = std::thread([this] { node_->run(); });
    // The node is up once its io thread runs a handler.
    (void)on_io([] { return 0; });
  }
  ~InProcessNode() {
    asio::post(node_->io(), [this] { node_->request_stop(); });
    io_thread_.join();
    node_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  InProcessNode(const InProcessNode&) = delete;
  InProcessNode& operator=(const InProcessNode&) = delete;

  Node& node() { return *node_; }
  NodeContext& ctx() { return node_->context(); }

  //! Runs f on the node's io thread (where chain, mempool and miner live) and returns its result.
  template <typename F>
  auto on_io(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(node_->io(), [&task] { task(); });
    REQUIRE(result.wait_for(30s) == std::future_status::ready);
    return result.get();
  }

  //! Runs a coroutine on the node's io thread and returns its result (rethrows its exception).
  template <typename T>
  T await_on_io(std::function<asio::awaitable<T>()> make) {
    std::promise<T> done;
    auto result = done.get_future();
    asio::post(node_->io(), [this, &make, &done] {
      asio::co_spawn(node_->io(), make(), [&done](std::exception_ptr e, T value) {
        if (e) {
          done.set_exception(e);
        } else {
          done.set_value(std::move(value));
        }
      });
    });
    REQUIRE(result.wait_for(60s) == std::future_status::ready);
    return result.get();
  }

  //! Offers a block as the miner does (signature checks on the pool, then validation).
  BlockSubmission submit(const Block& b) {
    auto block = std::make_shared<const Block>(b);
    return await_on_io<BlockSubmission>([this, block]() { return node_->context().blocks->submit_block(block); });
  }

  std::optional<Hash256> searching_on() {
    return on_io([this] { return node_->context().miner->searching_on(); });
  }
  Hash256 tip() {
    return on_io([this] { return node_->context().chain->tip()->hash; });
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Node> node_;
  std::thread io_thread_;
};

}  // namespace cheese::test
