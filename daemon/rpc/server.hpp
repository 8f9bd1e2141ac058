#pragma once

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "primitives/amount.hpp"
#include "primitives/hash.hpp"

namespace cheese {

namespace json = boost::json;

//! JSON-RPC error codes: the specification's, then bitcoind's where one exists.
enum RpcCode : int {
  kRpcParseError = -32700,
  kRpcInvalidRequest = -32600,
  kRpcMethodNotFound = -32601,
  kRpcInvalidParams = -32602,
  kRpcInternalError = -32603,
  kRpcMiscError = -1,
  kRpcTypeError = -3,
  kRpcInvalidAddress = -5,
  kRpcInsufficientFunds = -6,
  kRpcOutOfMemory = -7,
  kRpcInvalidParameter = -8,
  kRpcClientNotConnected = -9,
  kRpcInInitialDownload = -10,
  kRpcWalletError = -4,
  kRpcKeypoolRanOut = -12,
  kRpcUnlockNeeded = -13,
  kRpcWrongPassphrase = -14,
  kRpcWalletWrongEncState = -15,
  kRpcWalletNotFound = -18,
  kRpcWalletNotSpecified = -19,
  kRpcWalletAlreadyLoaded = -35,
  kRpcDeserializationError = -22,
  kRpcVerifyError = -25,
  kRpcVerifyRejected = -26,
  kRpcVerifyAlreadyInChain = -27,
  kRpcInWarmup = -28,
  kRpcNodeAlreadyAdded = -23,
  kRpcNodeNotAdded = -24,
  kRpcNodeNotConnected = -29,
  kRpcInvalidIpOrSubnet = -30,
};

//! Thrown by a handler; becomes the JSON-RPC error object.
struct RpcError : std::runtime_error {
  RpcError(int c, const std::string& message) : std::runtime_error(message), code(c) {}
  int code;
};

enum class RpcType { kString, kInt, kBool, kAmount, kHash, kAny, kObject };

struct RpcParam {
  std::string name;
  RpcType type;
  bool required;
  std::string help;
};

struct RpcRequest;

//! A method: one row of the table.
struct RpcMethod {
  std::string name;
  std::string category;
  std::vector<RpcParam> params;
  std::string help;  //!< first line: what it returns; then details
  std::string example;
  std::function<boost::asio::awaitable<json::value>(RpcRequest&)> handler;
};

//! What a handler sees: its parameters (named ones already placed by position) and the path.
struct RpcRequest {
  const RpcMethod* method = nullptr;
  std::vector<std::optional<json::value>> params;
  std::string wallet;  //!< from /wallet/<name>, or empty

  bool has(std::size_t i) const { return i < params.size() && params[i] && !params[i]->is_null(); }
  const json::value& at(std::size_t i) const;
  std::string get_string(std::size_t i, std::string_view fallback = "") const;
  std::int64_t get_int(std::size_t i, std::int64_t fallback) const;
  bool get_bool(std::size_t i, bool fallback) const;
  Amount get_amount(std::size_t i) const;
  Hash256 get_hash(std::size_t i) const;
};

//! An amount in CHZ as a JSON number with exactly 8 decimals (12.50000000), as bitcoind prints.
json::value amount_value(Amount crumbs);
//! Parses an RPC amount exactly: a JSON number (kept as text, never a double) or a string.
Amount parse_rpc_amount(const json::value& v);

class RpcTable {
 public:
  void add(RpcMethod m);
  const RpcMethod* find(std::string_view name) const;
  std::vector<const RpcMethod*> sorted() const;
  //! `help` output: every method grouped by category, or one method's full help.
  std::string help_text(std::string_view method) const;

 private:
  std::vector<RpcMethod> methods_;
};

//! The reply to one HTTP body of JSON-RPC: an HTTP status and a body (empty for 204).
struct RpcReply {
  int http_status = 200;
  std::string body;
};

//! Handles a whole HTTP POST body: one request or a batch, JSON-RPC 2.0 or legacy 1.0.
//! Pure apart from what the handlers do: no HTTP, no sockets.
boost::asio::awaitable<RpcReply> handle_jsonrpc(const RpcTable& table, std::string_view body,
                                                std::string_view wallet = {});

}  // namespace cheese
