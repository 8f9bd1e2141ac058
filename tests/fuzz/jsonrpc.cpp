// The node's JSON-RPC handler over its real method table, like Bitcoin Core's
// src/test/fuzz/rpc.cpp. A regtest cheese::Node (no listeners, data directory in a temporary
// directory on /dev/shm when writable) runs on its own thread for the whole process, built once:
// wallet w0 holds 12 mined blocks' rewards (two mature), w1 is empty. Each input is one HTTP body
// for handle_jsonrpc, run on the node's io thread (where the handlers live), with the wallet of
// the URL (/wallet/<name>) chosen among a few. The first byte picks the form of the body:
//   - the rest of the input as the body (any bytes);
//   - a request assembled from a method of the table, chosen by the input, with fuzzed
//     parameters (by position or by name; strings, numbers, booleans, null, arrays, objects,
//     values that mean something here: block hashes, heights, addresses, hex of a block or a
//     transaction, wallet names), as JSON-RPC 2.0, 1.0, a notification or a batch.
// A byte after an assembled request may restrict the caller to the web UI token's methods
// (kWebUiMethods), as HttpRpc does for that token.
// Methods that stop the node, mine, write outside the data directory, dial out or run Argon2id
// are never called (kExcluded); the wallet names that a request may create or load are a fixed
// few, so the data directory stays bounded however long the fuzzer runs.
//
// Properties: no crash or sanitizer finding; handle_jsonrpc completes (within 30 s); the HTTP
// status is one server.cpp can return (200, 204, 400, 404, 500, and 403 only for a restricted
// caller, with a refused method); every refused method is outside the caller's list; 204 exactly
// with an empty body;
// otherwise the body is one JSON object or a non-empty array of them, each a JSON-RPC response
// with a result or an error object {code: integer, message: string}; the node keeps running and
// its chain keeps a tip.

#include <coroutine>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chain/chainstate.hpp"
#include "chain_fuzz_util.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/server.hpp"
#include "daemon/webui/web_ui.hpp"
#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "primitives/serialize.hpp"
#include "util/json.hpp"

using namespace cheese;
using cheese::fuzz::FuzzInput;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

//! Never called with fuzzed input, and why:
const std::set<std::string, std::less<>> kExcluded = {
    "stop",               // stops the node
    "setgenerate",        // mines continuously in the background
    "generatetoaddress",  // mines: nblocks and maxtries are fuzzed, an input could mine for minutes
    "mine",               // the same
    "backupwallet",       // writes a file wherever its argument says
    "addnode",            // dials (and resolves) fuzzed hosts
    "encryptwallet",      // Argon2id at regtest's cost (0.1 s, 64 MiB): far over an input's budget;
    "walletpassphrase",   //   an encrypted wallet would also make every later send need it
    "walletpassphrasechange",
};

//! Methods that create or load a wallet file, and the parameter naming it.
const std::set<std::string, std::less<>> kWalletFileMethods = {"createwallet", "restorewallet", "loadwallet"};
//! The only names they get: three valid ones and invalid ones (nothing but these is ever written).
const std::array<std::string_view, 8> kWalletNames = {"w0", "w1", "w2", "", ".", "..", "a/b", "w0.wallet"};
//! Wallets in the URL (/wallet/<name>): none, the two set up, one that does not exist.
const std::array<std::string_view, 4> kUrlWallets = {"", "w0", "w1", "nope"};

//! A regtest node running on its own thread until the process exits.
class FuzzNode {
 public:
  FuzzNode() {
    NodeOptions o;
    o.params = &chain_params(Network::kRegtest);
    o.datadir = dir_.path();
    o.listen = false;  // no P2P listener; rpc_bind is empty, so no RPC listener either
    o.gen_threads = 1;
    node_ = std::make_unique<Node>(std::move(o));
    thread_ = std::thread([this] { node_->run(); });

    // Wallet w0 with coins, w1 empty (set up through the RPCs themselves).
    rpc_ok(R"({"jsonrpc":"2.0","id":1,"method":"createwallet","params":["w0"]})");
    rpc_ok(R"({"jsonrpc":"2.0","id":1,"method":"createwallet","params":["w1"]})");
    const json::value addr = rpc_ok(R"({"jsonrpc":"2.0","id":1,"method":"getnewaddress","params":[]})", "w0");
    address = std::string(addr.as_string());
    rpc_ok(R"({"jsonrpc":"2.0","id":1,"method":"generatetoaddress","params":[12,")" + address + R"("]})");
    on_io([this] {
      for (const auto* m : node_->context().rpc.sorted()) {
        if (!kExcluded.contains(m->name)) methods.push_back(m);
      }
      // Block hashes, the tip's hex, a transaction's hex: values the handlers look up.
      const Chainstate& chain = *node_->context().chain;
      FUZZ_CHECK(chain.height() == 12);
      for (std::uint64_t h = 0; h <= chain.height(); ++h) {
        block_hashes.push_back(chain.at_height(h)->hash.to_display_hex());
      }
      tip_hex = to_hex(*chain.read_block_bytes(chain.tip()->hash));
      tx_hex = to_hex(serialize(chain.read_block(chain.tip()->hash)->txs.front()));
    });
  }

  ~FuzzNode() {
    asio::post(node_->io(), [this] { node_->request_stop(); });
    thread_.join();
    node_.reset();
  }

  //! handle_jsonrpc on the io thread; aborts if it does not complete in 30 s.
  RpcReply call(std::string_view body, std::string_view wallet = {}, const RpcAllowList* caller_list = nullptr) {
    std::promise<RpcReply> done;
    auto result = done.get_future();
    const RpcTable& table = node_->context().rpc;
    asio::post(node_->io(), [&] {
      asio::co_spawn(node_->io(), handle_jsonrpc(table, body, wallet, caller_list),
                     [&done](std::exception_ptr e, RpcReply r) {
                       if (e) {
                         done.set_exception(e);
                       } else {
                         done.set_value(std::move(r));
                       }
                     });
    });
    FUZZ_CHECK(result.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    return result.get();
  }

  //! Runs f on the io thread and waits for it.
  template <typename F>
  void on_io(F f) {
    std::promise<void> done;
    asio::post(node_->io(), [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  bool has_tip() {
    bool ok = false;
    on_io([&] { ok = node_->context().chain->tip() != nullptr; });
    return ok;
  }
  bool running() { return !node_->io().stopped(); }

  std::vector<const RpcMethod*> methods;
  std::string address;
  std::vector<std::string> block_hashes;
  std::string tip_hex, tx_hex;

 private:
  json::value rpc_ok(const std::string& body, std::string_view wallet = {}) {
    const RpcReply r = call(body, wallet);
    const auto v = parse_json_exact(r.body);
    const json::value* error = v && v->is_object() ? v->as_object().if_contains("error") : nullptr;
    if (r.http_status != 200 || !v || !v->is_object() || (error && !error->is_null()) ||
        !v->as_object().contains("result")) {
      std::fprintf(stderr, "setup call failed: %s -> %d %s\n", body.c_str(), r.http_status, r.body.c_str());
      std::abort();
    }
    return v->as_object().at("result");
  }

  fuzz::TempDir dir_{"jsonrpc"};
  std::unique_ptr<Node> node_;
  std::thread thread_;
};

FuzzNode& node() {
  static FuzzNode n;
  return n;
}

// ---- assembling requests

json::value fuzzed_value(FuzzInput& in, int depth = 0) {
  FuzzNode& n = node();
  switch (in.range<std::uint8_t>(0, depth < 2 ? 13 : 11)) {
    case 0: return nullptr;
    case 1: return in.flag();
    case 2: return static_cast<std::int64_t>(in.range<std::uint8_t>(0, 20)) - 2;  // small, heights
    case 3: return static_cast<std::int64_t>(in.integral<std::uint64_t>());
    case 4: return raw_number(std::to_string(in.integral<std::uint32_t>()) + "." + std::to_string(in.byte()));
    case 5: {
      const auto b = in.bytes(in.range<std::size_t>(0, 40));
      return json::string(std::string(b.begin(), b.end()));
    }
    case 6: return json::string(n.block_hashes[in.pick(n.block_hashes.size())]);
    case 7: return json::string(n.address);
    case 8: return json::string(in.flag() ? n.tip_hex : n.tx_hex);
    case 9: return json::string(kWalletNames[in.pick(kWalletNames.size())]);
    case 10: {
      static constexpr std::array<std::string_view, 8> kWords = {"add", "remove",     "onetry",   "127.0.0.1",
                                                                 "1.5", "0.00000001", "21000000", "-1"};
      return json::string(kWords[in.pick(kWords.size())]);
    }
    case 11: return raw_number(std::string(in.flag() ? "1e400" : "-0.000000001"));
    case 12: {
      json::array a;
      for (std::size_t i = in.range<std::size_t>(0, 3); i > 0; --i) a.push_back(fuzzed_value(in, depth + 1));
      return a;
    }
    default: {
      json::object o;
      for (std::size_t i = in.range<std::size_t>(0, 3); i > 0; --i) {
        o[in.flag() ? "address" : "amount"] = fuzzed_value(in, depth + 1);
      }
      return o;
    }
  }
}

json::value request(FuzzInput& in) {
  FuzzNode& n = node();
  const RpcMethod& m = *n.methods[in.pick(n.methods.size())];
  json::object req;
  const std::uint8_t form = in.byte();
  if (form & 1) req["jsonrpc"] = (form & 2) ? "2.0" : "1.0";
  if (!(form & 4)) req["id"] = (form & 8) ? json::value(json::string("x")) : json::value(in.byte());
  req["method"] = m.name;
  const std::size_t count = in.range<std::size_t>(0, std::max<std::size_t>(m.params.size() + 1, 2));
  if (form & 16) {
    json::object named;
    for (std::size_t i = 0; i < count; ++i) {
      const bool known = i < m.params.size() && !in.flag();
      named[known ? m.params[i].name : std::string("bogus")] = fuzzed_value(in);
    }
    req["params"] = std::move(named);
  } else if (!(form & 32) || count > 0) {
    json::array positional;
    for (std::size_t i = 0; i < count; ++i) positional.push_back(fuzzed_value(in));
    req["params"] = std::move(positional);
  }
  return req;
}

// ---- the filter

//! The wallet-file name a request names, if it is one of kWalletFileMethods.
const json::value* wallet_file_param(const json::object& req) {
  const auto* params = req.if_contains("params");
  if (!params) return nullptr;
  if (params->is_array()) return params->as_array().empty() ? nullptr : &params->as_array()[0];
  if (params->is_object()) {
    for (const char* key : {"wallet_name", "filename"}) {
      if (const auto* v = params->as_object().if_contains(key)) return v;
    }
  }
  return nullptr;
}

bool allowed_request(const json::value& v) {
  if (!v.is_object()) return true;
  const auto* method = v.as_object().if_contains("method");
  if (!method || !method->is_string()) return true;
  const std::string_view name = method->as_string();
  if (kExcluded.contains(name)) return false;
  if (kWalletFileMethods.contains(name)) {
    const json::value* file = wallet_file_param(v.as_object());
    if (file && file->is_string() &&
        std::find(kWalletNames.begin(), kWalletNames.end(), std::string_view(file->as_string())) ==
            kWalletNames.end()) {
      return false;
    }
  }
  return true;
}

//! False for a body that would call an excluded method or name a wallet file outside the few.
bool allowed(std::string_view body) {
  const auto v = parse_json_exact(body);
  if (!v) return true;  // a parse error: nothing is called
  if (!v->is_array()) return allowed_request(*v);
  return std::all_of(v->as_array().begin(), v->as_array().end(), allowed_request);
}

// ---- the properties

void check_response(const json::value& v) {
  FUZZ_CHECK(v.is_object());
  const auto& o = v.as_object();
  const auto* error = o.if_contains("error");
  const auto* result = o.if_contains("result");
  FUZZ_CHECK(error || result);
  FUZZ_CHECK(o.contains("id"));
  if (error && !error->is_null()) {
    FUZZ_CHECK(error->is_object());
    const auto* code = error->as_object().if_contains("code");
    const auto* message = error->as_object().if_contains("message");
    FUZZ_CHECK(code && (code->is_int64() || as_raw_number(*code)));
    FUZZ_CHECK(message && message->is_string());
  }
}

void check_reply(const RpcReply& r, const RpcAllowList* caller_list) {
  static constexpr std::array<int, 5> kStatuses = {200, 204, 400, 404, 500};
  FUZZ_CHECK(std::find(kStatuses.begin(), kStatuses.end(), r.http_status) != kStatuses.end() ||
             (r.http_status == 403 && !r.refused.empty()));
  for (const auto& m : r.refused) FUZZ_CHECK(caller_list && !caller_list->allows(m));
  FUZZ_CHECK((r.http_status == 204) == r.body.empty());
  if (r.body.empty()) return;
  const auto v = parse_json_exact(r.body);
  FUZZ_CHECK(v.has_value());
  if (v->is_array()) {
    FUZZ_CHECK(!v->as_array().empty());
    for (const auto& one : v->as_array()) check_response(one);
  } else {
    check_response(*v);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzNode& n = node();
  FuzzInput in(data, size);
  const std::string_view wallet = kUrlWallets[in.range<std::uint8_t>(0, 7) % kUrlWallets.size()];
  std::string body;
  switch (in.range<std::uint8_t>(0, 3)) {
    case 0: {
      const auto rest = in.rest();
      body.assign(rest.begin(), rest.end());
      break;
    }
    case 1: {  // a batch
      json::array batch;
      for (std::size_t i = in.range<std::size_t>(0, 3); i > 0; --i) batch.push_back(request(in));
      body = serialize_json(batch);
      break;
    }
    default: body = serialize_json(request(in)); break;
  }
  if (!allowed(body)) return 0;
  static const RpcAllowList kWebUiList = RpcAllowList::only({kWebUiMethods.begin(), kWebUiMethods.end()});
  const RpcAllowList* caller_list = in.flag() ? &kWebUiList : nullptr;
  const RpcReply reply = n.call(body, wallet, caller_list);
  // CHEESE_FUZZ_TRACE=1 prints each request and its reply (to replay a failing input).
  static const bool trace = std::getenv("CHEESE_FUZZ_TRACE") != nullptr;
  if (trace) {
    std::fprintf(stderr, "wallet '%.*s' body %s\n-> %d %s\n", static_cast<int>(wallet.size()), wallet.data(),
                 body.c_str(), reply.http_status, reply.body.c_str());
  }
  check_reply(reply, caller_list);
  FUZZ_CHECK(n.running());
  FUZZ_CHECK(n.has_tip());
  return 0;
}
