#pragma once

// Large RPC results built off the io thread (issue 19): on the io thread a method copies what it
// needs (a snapshot: a few plain fields per mempool entry, a block's stored bytes); a worker
// (RpcWorkers) turns the snapshot into JSON text, which the reply carries as it is.

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "chain/mempool.hpp"
#include "consensus/params.hpp"
#include "primitives/bytes.hpp"
#include "primitives/hash.hpp"

namespace cheese {

class RpcWorkers;

//! One mempool entry as getrawmempool shows it.
struct MempoolRow {
  Hash256 txid;
  std::size_t size = 0;
  std::int64_t time = 0;
  PublicKey sender{};
  PublicKey recipient{};
  Amount amount = 0;
  Amount fee = 0;
  std::uint64_t nonce = 0;
};

//! The mempool's entries, in the mempool's own order (io thread; a copy, no JSON).
std::vector<MempoolRow> snapshot_mempool(const Mempool& mempool);
//! getrawmempool's result from a snapshot, as JSON text: the txids (or, verbose, an object per
//! txid), oldest first. Thread-agnostic: runs on a worker.
std::string mempool_json_text(std::vector<MempoolRow> rows, bool verbose, const ChainParams& params);

//! What getblock needs from the io thread: the header's fields (they read the chain) and the
//! block's stored bytes.
struct BlockSnapshot {
  boost::json::object header;
  Bytes bytes;
};
//! getblock's result from a snapshot as JSON text: hex (verbosity 0), an object with txids (1) or
//! with transactions (2). Thread-agnostic: runs on a worker.
std::string block_json_text(const BlockSnapshot& block, int verbosity, const ChainParams& params);

//! Runs `build` on a worker and resumes on the io thread with its text.
boost::asio::awaitable<std::string> build_on_worker(RpcWorkers& workers, std::function<std::string()> build);

}  // namespace cheese
