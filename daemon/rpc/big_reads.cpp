#include "daemon/rpc/big_reads.hpp"

#include <algorithm>

#include "daemon/rpc/rpc_workers.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/rpc/util.hpp"
#include "io/run_on_pool.hpp"
#include "primitives/block.hpp"
#include "util/json.hpp"

namespace cheese {

std::vector<MempoolRow> snapshot_mempool(const Mempool& mempool) {
  std::vector<MempoolRow> rows;
  const auto entries = mempool.entries();
  rows.reserve(entries.size());
  for (const MempoolEntry* e : entries) {
    rows.push_back({e->txid, e->size, e->time, e->tx.sender, e->tx.recipient, e->tx.amount, e->tx.fee, e->tx.nonce});
  }
  return rows;
}

std::string mempool_json_text(std::vector<MempoolRow> rows, bool verbose, const ChainParams& params) {
  // The same sort as before the snapshot existed (std::sort of the entries in the mempool's order,
  // by time), so equal times come out in the same order.
  std::sort(rows.begin(), rows.end(), [](const MempoolRow& a, const MempoolRow& b) { return a.time < b.time; });
  if (!verbose) {
    json::array out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(json::value(r.txid.to_display_hex()));
    return serialize_json(out);
  }
  json::object out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    json::object o;
    o["size"] = r.size;
    o["fee"] = amount_value(r.fee);
    o["time"] = r.time;
    o["from"] = address_of(r.sender, params);
    o["to"] = address_of(r.recipient, params);
    o["amount"] = amount_value(r.amount);
    o["nonce"] = r.nonce;
    out[r.txid.to_display_hex()] = std::move(o);
  }
  return serialize_json(out);
}

std::string block_json_text(const BlockSnapshot& snapshot, int verbosity, const ChainParams& params) {
  if (verbosity == 0) return serialize_json(json::value(to_hex(snapshot.bytes)));
  auto block = decode_block(snapshot.bytes);
  if (!block) throw RpcError(kRpcMiscError, "Block data not readable");
  json::object o = snapshot.header;
  o["size"] = serialized_size(*block);
  json::array txs;
  txs.reserve(block->txs.size());
  for (const auto& tx : block->txs) {
    if (verbosity >= 2) {
      txs.push_back(transaction_json(tx, params));
    } else {
      txs.push_back(json::value(txid(tx).to_display_hex()));
    }
  }
  o["tx"] = std::move(txs);
  return serialize_json(o);
}

boost::asio::awaitable<std::string> build_on_worker(RpcWorkers& workers, std::function<std::string()> build) {
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the awaitable.
  auto building = io::run_on_pool<std::string>(workers, std::move(build));
  co_return co_await std::move(building);
}

}  // namespace cheese
