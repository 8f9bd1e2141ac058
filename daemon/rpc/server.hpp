#pragma once

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "primitives/amount.hpp"
#include "primitives/hash.hpp"
#include "primitives/secure_buffer.hpp"

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

//! One parameter of a method. An optional one has a default: a constant (`default_value`, which
//! the RpcRequest getters return when the parameter is omitted) and/or a description
//! (`default_hint`, for a default that depends on the node's state). `help` shows the hint if
//! there is one, else the value.
struct RpcParam {
  std::string name;
  RpcType type;
  bool required;
  std::string help;
  std::optional<json::value> default_value = std::nullopt;
  std::string default_hint = {};
};

struct RpcRequest;

//! A method: one row of the table. A handler runs on the io thread, named to the io watchdog
//! ("rpc <name>"); one whose result can be large builds it on a worker (RpcRequest::raw_result).
struct RpcMethod {
  std::string name;
  std::string category;
  std::vector<RpcParam> params;
  std::string help;  //!< first line: what it returns; then details
  std::string example;
  std::function<boost::asio::awaitable<json::value>(RpcRequest&)> handler;
};

//! What a handler sees: its parameters (named ones already placed by position) and the path.
//! Handlers read parameters by their declared name; an omitted one reads as its declared
//! default_value, and one with neither is an RpcError (use has() or optional_string() first).
//! A name the method does not declare is a programming error (std::logic_error).
struct RpcRequest {
  const RpcMethod* method = nullptr;
  std::vector<std::optional<json::value>> params;  //!< by position, as RpcMethod::params
  std::string wallet;                              //!< from /wallet/<name>, or empty
  //! A handler may set this to its result as JSON text (built on a worker thread, see
  //! RpcWorkers) instead of returning the value: the reply then carries the text as it is, so
  //! the io thread only copies and sends a large result. The returned value is then ignored.
  std::optional<std::string> raw_result;

  //! Whether the caller gave the parameter (a JSON null counts as not given).
  bool has(std::string_view name) const;
  //! The given value, else the declared default.
  const json::value& at(std::string_view name) const;
  std::string get_string(std::string_view name) const;
  std::optional<std::string> optional_string(std::string_view name) const;
  //! A string parameter that is a secret (a passphrase, a recovery phrase), moved into guarded
  //! memory: this request's JSON copy is wiped at once; the parsed document's copy is wiped when
  //! it is freed (parse_json_exact's wiping storage, util/json.hpp).
  SecretString take_secret(std::string_view name);
  std::optional<SecretString> take_optional_secret(std::string_view name);
  std::int64_t get_int(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  Amount get_amount(std::string_view name) const;
  Hash256 get_hash(std::string_view name) const;

 private:
  std::size_t index_of(std::string_view name) const;
  bool has_index(std::size_t i) const { return i < params.size() && params[i] && !params[i]->is_null(); }
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

//! The methods one caller may call: every method, or only those of a set (-rpcwhitelist, the
//! web UI's token). A call outside the set is refused before its method is even looked up.
class RpcAllowList {
 public:
  using Methods = std::set<std::string, std::less<>>;
  static RpcAllowList everything() { return RpcAllowList(std::nullopt); }
  static RpcAllowList only(Methods methods) { return RpcAllowList(std::move(methods)); }
  bool allows(std::string_view method) const { return !methods_ || methods_->contains(method); }
  //! The set, or nullptr when every method is allowed.
  const Methods* methods() const { return methods_ ? &*methods_ : nullptr; }

 private:
  explicit RpcAllowList(std::optional<Methods> methods) : methods_(std::move(methods)) {}
  std::optional<Methods> methods_;
};

//! The reply to one HTTP body of JSON-RPC: an HTTP status and a body (empty for 204).
struct RpcReply {
  int http_status = 200;
  std::string body;
  //! Methods refused by the caller's allow-list, in request order (for the log).
  std::vector<std::string> refused;
};

//! Handles a whole HTTP POST body: one request or a batch, JSON-RPC 2.0 or legacy 1.0.
//! A request for a method outside `*allowed` (nullptr: every method) does not run: it is
//! answered with a -32601 error object, even as a notification, and the reply is HTTP 403 when
//! every request of the body was refused so. `body` and `*allowed` must outlive the coroutine.
//! Pure apart from what the handlers do: no HTTP, no sockets.
boost::asio::awaitable<RpcReply> handle_jsonrpc(const RpcTable& table, std::string_view body,
                                                std::string_view wallet = {}, const RpcAllowList* allowed = nullptr);

}  // namespace cheese
