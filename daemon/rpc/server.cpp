#include "daemon/rpc/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "io/io_watchdog.hpp"
#include "util/json.hpp"

namespace cheese {

namespace {

std::string_view type_name(RpcType t) {
  switch (t) {
    case RpcType::kString: return "a string";
    case RpcType::kInt: return "an integer";
    case RpcType::kBool: return "a boolean";
    case RpcType::kAmount: return "an amount in CHZ (number or string, at most 8 decimals)";
    case RpcType::kHash: return "a 64-character hex hash";
    case RpcType::kAny: return "a value";
    case RpcType::kObject: return "an object";
  }
  return "a value";
}

bool type_matches(RpcType t, const json::value& v) {
  switch (t) {
    case RpcType::kString: return v.is_string() && !as_raw_number(v);
    case RpcType::kInt: return v.is_int64() || (v.is_uint64() && v.get_uint64() <= INT64_MAX);
    case RpcType::kBool: return v.is_bool();
    case RpcType::kAmount: return v.is_string() || v.is_int64() || v.is_uint64();
    case RpcType::kHash: return v.is_string() && v.get_string().size() == 64;
    case RpcType::kAny: return true;
    case RpcType::kObject: return v.is_object();
  }
  return false;
}

//! "required", "optional", or "optional, default=<value or description>".
std::string requirement(const RpcParam& p) {
  if (p.required) return "required";
  if (!p.default_hint.empty()) return "optional, default=" + p.default_hint;
  if (p.default_value) return "optional, default=" + serialize_json(*p.default_value);
  return "optional";
}

json::object error_object(int code, std::string_view message) {
  return json::object{{"code", code}, {"message", message}};
}

int legacy_http_status(int code) {
  if (code == kRpcInvalidRequest) return 400;
  if (code == kRpcMethodNotFound) return 404;
  return 500;
}

struct Outcome {
  std::optional<json::value> response;    //!< nullopt: a notification, nothing to send
  std::optional<std::string> raw_result;  //!< the result as JSON text (RpcRequest::raw_result)
  bool legacy = false;                    //!< answered as JSON-RPC 1.0 (bitcoind's HTTP statuses apply)
  int legacy_status = 200;
  std::optional<std::string> refused;  //!< the method, when the caller's allow-list refused it
};

// The text around a raw result, as make_response orders the members (kept out of the function
// body: tests/lint/size_test.py counts the braces of string literals too).
constexpr std::string_view kHead = "{\"jsonrpc\":\"2.0\",\"result\":";
constexpr std::string_view kTail = ",\"id\":";
constexpr std::string_view kLegacyHead = "{\"result\":";
constexpr std::string_view kLegacyTail = ",\"error\":null,\"id\":";
constexpr std::string_view kClose = "}";

//! A response as text: serialize_json of `response`, with a raw result put in verbatim where
//! make_response puts "result" (after "jsonrpc", or first in a legacy reply).
std::string response_text(const Outcome& o) {
  if (!o.raw_result) return serialize_json(*o.response);
  const std::string id = serialize_json(o.response->as_object().at("id"));
  const std::string_view head = o.legacy ? kLegacyHead : kHead;
  const std::string_view tail = o.legacy ? kLegacyTail : kTail;
  std::string out;
  // One allocation for a result of megabytes (plus the '\n' handle_jsonrpc appends).
  out.reserve(head.size() + o.raw_result->size() + tail.size() + id.size() + 2);
  out += head;
  out += *o.raw_result;
  out += tail;
  out += id;
  out += kClose;
  return out;
}

json::value make_response(bool v2, const json::value& id, const json::value* result, const json::object* error) {
  json::object out(wiping_storage());  // a result may carry a secret (createwallet's phrase)
  if (v2) {
    out["jsonrpc"] = "2.0";
    if (error) {
      out["error"] = *error;
    } else {
      out["result"] = *result;
    }
  } else {
    out["result"] = result ? *result : json::value(nullptr);
    out["error"] = error ? json::value(*error) : json::value(nullptr);
  }
  out["id"] = id;
  return out;
}

//! The request a handler sees: `params` (array, object or absent) placed by position and
//! checked against the method's declarations. Throws RpcError.
RpcRequest bind_params(const RpcMethod& method, const json::value* params, std::string_view wallet) {
  RpcRequest request;
  request.method = &method;
  request.wallet = std::string(wallet);
  if (params && !params->is_null()) {
    if (params->is_array()) {
      const auto& arr = params->get_array();
      if (arr.size() > method.params.size()) {
        throw RpcError(kRpcInvalidParams,
                       fmt::format("Invalid params: {} takes at most {} parameter{}, got {}", method.name,
                                   method.params.size(), method.params.size() == 1 ? "" : "s", arr.size()));
      }
      for (const auto& v : arr) request.params.emplace_back(v);
    } else if (params->is_object()) {
      request.params.resize(method.params.size());
      for (const auto& kv : params->get_object()) {
        const auto it = std::find_if(method.params.begin(), method.params.end(),
                                     [&](const RpcParam& p) { return p.name == kv.key(); });
        if (it == method.params.end()) {
          throw RpcError(kRpcInvalidParams,
                         fmt::format("Invalid params: unknown named parameter '{}'", std::string_view(kv.key())));
        }
        request.params[static_cast<std::size_t>(it - method.params.begin())] = kv.value();
      }
    } else {
      throw RpcError(kRpcInvalidRequest, "Invalid Request: params must be an array or an object");
    }
  }
  for (std::size_t i = 0; i < method.params.size(); ++i) {
    const RpcParam& p = method.params[i];
    if (i >= request.params.size() || !request.params[i] || request.params[i]->is_null()) {
      if (p.required) {
        throw RpcError(kRpcInvalidParams, fmt::format("Invalid params: missing required parameter '{}' ({})", p.name,
                                                      type_name(p.type)));
      }
      continue;
    }
    if (!type_matches(p.type, *request.params[i])) {
      throw RpcError(kRpcInvalidParams,
                     fmt::format("Invalid params: parameter '{}' must be {}", p.name, type_name(p.type)));
    }
  }
  return request;
}

//! The answer to a call the caller may not make: always sent (also to a notification), so
//! that the caller learns that nothing ran.
Outcome refusal(bool v2, const json::value& id, std::string_view method) {
  Outcome o;
  o.legacy = !v2;
  o.legacy_status = 403;
  o.refused = std::string(method);
  const auto err = error_object(
      kRpcMethodNotFound,
      fmt::format("Forbidden: these credentials may not call {} (their method allow-list, docs/rpc.md)", method));
  o.response = make_response(v2, id, nullptr, &err);
  return o;
}

boost::asio::awaitable<Outcome> process_one(const RpcTable& table, const json::value& req, std::string_view wallet,
                                            const RpcAllowList* allowed) {
  Outcome outcome;
  if (!req.is_object()) {
    auto err = error_object(kRpcInvalidRequest, "Invalid Request: a request must be an object");
    outcome.response = make_response(true, nullptr, nullptr, &err);
    outcome.legacy_status = 400;
    co_return outcome;
  }
  const auto& obj = req.get_object();
  const json::value* version = obj.if_contains("jsonrpc");
  // A legacy request has no "jsonrpc" member, or "1.0" as bitcoind's documentation long showed.
  // An object with neither "jsonrpc" nor "method" is no request of any version: it is answered
  // as the 2.0 specification says.
  const bool says_v1 = version && version->is_string() && version->get_string() == "1.0";
  const bool v2 = version ? !says_v1 : !obj.contains("method");
  outcome.legacy = !v2;
  const json::value* id_ptr = obj.if_contains("id");
  // Only a valid request can be a notification: an invalid one is always answered.
  const bool notification = v2 && id_ptr == nullptr;
  const json::value id = id_ptr ? *id_ptr : json::value(nullptr);

  auto fail = [&](int code, std::string_view message) {
    auto err = error_object(code, message);
    Outcome o;
    o.legacy = !v2;
    o.legacy_status = legacy_http_status(code);
    if (!notification || code == kRpcInvalidRequest) o.response = make_response(v2, id, nullptr, &err);
    return o;
  };

  if (version && !says_v1 && !(version->is_string() && version->get_string() == "2.0")) {
    co_return fail(kRpcInvalidRequest,
                   "Invalid Request: \"jsonrpc\" must be \"2.0\" (or \"1.0\" for legacy replies)");
  }
  if (id_ptr && !(id.is_string() || id.is_number() || id.is_null())) {
    auto err = error_object(kRpcInvalidRequest, "Invalid Request: id must be a string, number or null");
    outcome.response = make_response(v2, nullptr, nullptr, &err);
    outcome.legacy_status = 400;
    co_return outcome;
  }
  const json::value* method_v = obj.if_contains("method");
  if (!method_v || !method_v->is_string()) {
    co_return fail(kRpcInvalidRequest, "Invalid Request: method must be a string");
  }
  const std::string_view method_name(method_v->get_string().data(), method_v->get_string().size());
  if (allowed && !allowed->allows(method_name)) co_return refusal(v2, id, method_name);
  const RpcMethod* method = table.find(method_name);
  if (!method) co_return fail(kRpcMethodNotFound, fmt::format("Method not found: {}", method_name));

  try {
    RpcRequest request = bind_params(*method, obj.if_contains("params"), wallet);
    const auto named = io::IoWatchdog::scope_here("rpc", method->name);
    json::value result = co_await method->handler(request);
    if (request.raw_result) result = nullptr;
    if (!notification) outcome.response = make_response(v2, id, &result, nullptr);
    if (!notification) outcome.raw_result = std::move(request.raw_result);
  } catch (const RpcError& e) {
    co_return fail(e.code, e.what());
  } catch (const std::exception& e) {
    co_return fail(kRpcInternalError, fmt::format("Internal error: {}", e.what()));
  }
  co_return outcome;
}

}  // namespace

std::size_t RpcRequest::index_of(std::string_view name) const {
  for (std::size_t i = 0; i < method->params.size(); ++i) {
    if (method->params[i].name == name) return i;
  }
  throw std::logic_error(fmt::format("{} declares no parameter '{}'", method->name, name));
}

bool RpcRequest::has(std::string_view name) const { return has_index(index_of(name)); }

const json::value& RpcRequest::at(std::string_view name) const {
  const std::size_t i = index_of(name);
  if (has_index(i)) return *params[i];
  const RpcParam& p = method->params[i];
  if (p.default_value) return *p.default_value;
  throw RpcError(kRpcInvalidParams, fmt::format("missing parameter '{}'", p.name));
}

std::string RpcRequest::get_string(std::string_view name) const {
  const auto& v = at(name);
  if (!v.is_string()) throw RpcError(kRpcInvalidParams, "expected a string");
  return std::string(v.get_string());
}

std::optional<std::string> RpcRequest::optional_string(std::string_view name) const {
  if (!has(name)) return std::nullopt;
  return get_string(name);
}

SecretString RpcRequest::take_secret(std::string_view name) {
  const std::size_t i = index_of(name);
  if (!has_index(i)) throw RpcError(kRpcInvalidParams, fmt::format("missing parameter '{}'", name));
  if (!params[i]->is_string()) throw RpcError(kRpcInvalidParams, "expected a string");
  json::string& s = params[i]->get_string();
  SecretString out = SecretString::copy_of(std::string_view(s.data(), s.size()));
  secure_wipe(s.data(), s.size());
  s.clear();
  return out;
}

std::optional<SecretString> RpcRequest::take_optional_secret(std::string_view name) {
  if (!has(name)) return std::nullopt;
  return take_secret(name);
}

std::int64_t RpcRequest::get_int(std::string_view name) const {
  const auto& v = at(name);
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= INT64_MAX) return static_cast<std::int64_t>(v.get_uint64());
  throw RpcError(kRpcInvalidParams, "expected an integer");
}

bool RpcRequest::get_bool(std::string_view name) const {
  const auto& v = at(name);
  if (!v.is_bool()) throw RpcError(kRpcInvalidParams, "expected true or false");
  return v.get_bool();
}

Amount RpcRequest::get_amount(std::string_view name) const { return parse_rpc_amount(at(name)); }

Hash256 RpcRequest::get_hash(std::string_view name) const {
  const std::string s = get_string(name);
  auto h = Hash256::from_display_hex(s);
  if (!h) throw RpcError(kRpcInvalidParameter, fmt::format("'{}' is not a 64-character hex hash", s));
  return *h;
}

json::value amount_value(Amount crumbs) { return raw_number(format_amount(crumbs)); }

Amount parse_rpc_amount(const json::value& v) {
  std::string text;
  if (auto raw = as_raw_number(v)) {
    text = *raw;
  } else if (v.is_string()) {
    text = v.get_string();
  } else if (v.is_int64()) {
    if (v.get_int64() < 0) throw RpcError(kRpcTypeError, "Invalid amount: amounts cannot be negative");
    text = std::to_string(v.get_int64());
  } else if (v.is_uint64()) {
    text = std::to_string(v.get_uint64());
  } else {
    throw RpcError(kRpcTypeError, "Invalid amount: expected a number or a string of CHZ");
  }
  if (text.starts_with('-')) throw RpcError(kRpcTypeError, "Invalid amount: amounts cannot be negative");
  auto parsed = parse_amount(text);
  if (!parsed) throw RpcError(kRpcTypeError, fmt::format("Invalid amount '{}': {}", text, to_string(parsed.error())));
  return *parsed;
}

void RpcTable::add(RpcMethod m) { methods_.push_back(std::move(m)); }

const RpcMethod* RpcTable::find(std::string_view name) const {
  for (const auto& m : methods_) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::vector<const RpcMethod*> RpcTable::sorted() const {
  std::vector<const RpcMethod*> out;
  for (const auto& m : methods_) out.push_back(&m);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) {
    return a->category != b->category ? a->category < b->category : a->name < b->name;
  });
  return out;
}

std::string RpcTable::help_text(std::string_view name) const {
  auto signature = [](const RpcMethod& m) {
    std::string s = m.name;
    for (const auto& p : m.params) s += p.required ? " " + p.name : " ( " + p.name + " )";
    return s;
  };
  if (!name.empty()) {
    const RpcMethod* m = find(name);
    if (!m) throw RpcError(kRpcInvalidParameter, fmt::format("help: unknown command: {}", name));
    std::string out = signature(*m) + "\n\n" + m->help + "\n";
    if (!m->params.empty()) {
      out += "\nArguments:\n";
      for (std::size_t i = 0; i < m->params.size(); ++i) {
        const auto& p = m->params[i];
        out += fmt::format("{}. {} ({}, {}) {}\n", i + 1, p.name, type_name(p.type), requirement(p), p.help);
      }
    }
    if (!m->example.empty()) out += "\nExample:\n" + m->example + "\n";
    return out;
  }
  std::string out;
  std::string category;
  for (const RpcMethod* m : sorted()) {
    if (m->category != category) {
      if (!category.empty()) out += "\n";
      category = m->category;
      out += "== " + category + " ==\n";
    }
    out += signature(*m) + "\n";
  }
  return out;
}

boost::asio::awaitable<RpcReply> handle_jsonrpc(const RpcTable& table, std::string_view body, std::string_view wallet,
                                                const RpcAllowList* allowed) {
  RpcReply reply;
  std::string error;
  auto parsed = parse_json_exact(body, &error);
  if (!parsed) {
    auto err = error_object(kRpcParseError, "Parse error: " + error);
    reply.http_status = 500;
    reply.body = serialize_json(make_response(true, nullptr, nullptr, &err)) + "\n";
    co_return reply;
  }
  if (parsed->is_array()) {
    const auto& batch = parsed->get_array();
    if (batch.empty()) {
      auto err = error_object(kRpcInvalidRequest, "Invalid Request: empty batch");
      reply.body = serialize_json(make_response(true, nullptr, nullptr, &err)) + "\n";
      co_return reply;
    }
    std::vector<std::string> responses;
    for (const auto& req : batch) {
      Outcome o = co_await process_one(table, req, wallet, allowed);
      if (o.refused) reply.refused.push_back(std::move(*o.refused));
      if (o.response) responses.push_back(response_text(o));
    }
    // Each entry is checked on its own; the batch is forbidden only when nothing in it was allowed.
    if (reply.refused.size() == batch.size()) reply.http_status = 403;
    if (responses.empty()) {
      reply.http_status = 204;
      co_return reply;
    }
    // One block for the whole reply, and the parts wiped: a part may carry a secret.
    std::size_t size = 3;
    for (const auto& r : responses) size += r.size() + 1;
    reply.body.reserve(size);
    reply.body = "[";
    for (std::size_t i = 0; i < responses.size(); ++i) {
      if (i > 0) reply.body += ',';
      reply.body += responses[i];
      wipe_string(responses[i]);
    }
    reply.body += "]\n";
    co_return reply;
  }
  Outcome o = co_await process_one(table, *parsed, wallet, allowed);
  if (o.refused) {
    reply.http_status = 403;
    reply.refused.push_back(std::move(*o.refused));
  }
  if (!o.response) {
    reply.http_status = 204;
    co_return reply;
  }
  const bool is_error = o.response->as_object().contains("error") && !o.response->as_object().at("error").is_null();
  if (!o.refused) reply.http_status = (o.legacy && is_error) ? o.legacy_status : 200;
  reply.body = response_text(o);
  reply.body += '\n';
  co_return reply;
}

}  // namespace cheese
