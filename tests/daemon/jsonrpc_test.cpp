// The JSON-RPC dispatcher (handle_jsonrpc) against a small table of fake methods: the rules of
// the JSON-RPC 2.0 specification (section 7's examples), bitcoind's legacy 1.0 replies and HTTP
// statuses, parameter checks, exact amounts and `help`.
#include <coroutine>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "daemon/rpc/server.hpp"
#include "daemon/rpc/wallet_errors.hpp"
#include "util/json.hpp"

namespace asio = boost::asio;
using namespace cheese;

namespace {

struct Fixture {
  RpcTable table;
  int notified = 0;

  Fixture() {
    table.add({"subtract",
               "math",
               {{"minuend", RpcType::kInt, true, "from"}, {"subtrahend", RpcType::kInt, true, "what"}},
               "minuend - subtrahend",
               "",
               [](RpcRequest& r) -> asio::awaitable<json::value> {
                 co_return json::value(r.get_int("minuend") - r.get_int("subtrahend"));
               }});
    table.add(
        {"sum",
         "math",
         {{"a", RpcType::kInt, true, ""}, {"b", RpcType::kInt, false, "", 0}, {"c", RpcType::kInt, false, "", 0}},
         "a + b + c",
         "",
         [](RpcRequest& r) -> asio::awaitable<json::value> {
           co_return json::value(r.get_int("a") + r.get_int("b") + r.get_int("c"));
         }});
    table.add({"notify_hello",
               "misc",
               {{"n", RpcType::kInt, false, ""}},
               "counts calls",
               "",
               [this](RpcRequest&) -> asio::awaitable<json::value> {
                 ++notified;
                 co_return json::value(nullptr);
               }});
    table.add({"get_data", "misc", {}, "fixed data", "", [](RpcRequest&) -> asio::awaitable<json::value> {
                 co_return json::array{"hello", 5};
               }});
    table.add({"echo",
               "misc",
               {{"value", RpcType::kAny, true, "anything"}},
               "returns its parameter",
               "",
               [](RpcRequest& r) -> asio::awaitable<json::value> { co_return r.at("value"); }});
    table.add({"fail", "misc", {}, "always -8", "", [](RpcRequest&) -> asio::awaitable<json::value> {
                 throw RpcError(kRpcInvalidParameter, "Block height out of range");
                 co_return nullptr;
               }});
    table.add({"crash", "misc", {}, "throws a std::exception", "", [](RpcRequest&) -> asio::awaitable<json::value> {
                 throw std::runtime_error("boom");
                 co_return nullptr;
               }});
    table.add(
        {"amount",
         "wallet",
         {{"amount", RpcType::kAmount, true, "CHZ"}},
         "the amount, re-printed",
         "",
         [](RpcRequest& r) -> asio::awaitable<json::value> { co_return amount_value(r.get_amount("amount")); }});
    table.add({"typed",
               "misc",
               {{"s", RpcType::kString, false, ""},
                {"b", RpcType::kBool, false, ""},
                {"h", RpcType::kHash, false, ""},
                {"o", RpcType::kObject, false, ""}},
               "type checks only",
               "",
               [](RpcRequest&) -> asio::awaitable<json::value> { co_return "ok"; }});
    table.add(
        {"wallet", "wallet", {}, "the wallet from the path", "", [](RpcRequest& r) -> asio::awaitable<json::value> {
           co_return json::value(r.wallet);
         }});
    table.add({"defaults",
               "misc",
               {{"text", RpcType::kString, false, "a string", "dflt"},
                {"flag", RpcType::kBool, false, "a flag", true},
                {"who", RpcType::kString, false, "someone", std::nullopt, "the wallet's address"},
                {"undeclared", RpcType::kBool, false, "read under a name that does not exist"}},
               "reads its parameters by name",
               "",
               [](RpcRequest& r) -> asio::awaitable<json::value> {
                 if (r.has("undeclared")) co_return json::value(r.get_bool("nosuchname"));
                 json::object o;
                 o["text"] = r.get_string("text");
                 o["flag"] = r.get_bool("flag");
                 o["who"] = r.optional_string("who") ? json::value(*r.optional_string("who")) : json::value(nullptr);
                 o["has_text"] = r.has("text");
                 co_return o;
               }});
  }

  RpcReply call(std::string_view body, std::string_view wallet = {}) {
    asio::io_context io;
    std::optional<RpcReply> out;
    std::exception_ptr error;
    asio::co_spawn(io, handle_jsonrpc(table, body, wallet), [&](std::exception_ptr e, RpcReply r) {
      error = e;
      out = std::move(r);
    });
    io.run();
    if (error) std::rethrow_exception(error);
    REQUIRE(out);
    return *out;
  }

  //! The reply body parsed (raw numbers become doubles here; amounts are checked as text).
  json::value call_json(std::string_view body, int expected_status = 200) {
    const RpcReply r = call(body);
    INFO(body << " -> " << r.body);
    CHECK(r.http_status == expected_status);
    REQUIRE(!r.body.empty());
    return json::parse(r.body);
  }
};

//! Checks a 2.0 error response object and returns its message.
std::string check_error(const json::value& v, int code, const json::value& id) {
  INFO(json::serialize(v));
  REQUIRE(v.is_object());
  const auto& o = v.get_object();
  CHECK(o.size() == 3);
  CHECK(o.at("jsonrpc") == "2.0");
  CHECK(!o.contains("result"));
  CHECK(o.at("id") == id);
  const auto& err = o.at("error").as_object();
  CHECK(err.at("code").to_number<int>() == code);
  return std::string(err.at("message").as_string());
}

void check_result(const json::value& v, const json::value& result, const json::value& id) {
  INFO(json::serialize(v));
  REQUIRE(v.is_object());
  const auto& o = v.get_object();
  CHECK(o.size() == 3);
  CHECK(o.at("jsonrpc") == "2.0");
  CHECK(!o.contains("error"));
  CHECK(o.at("result") == result);
  CHECK(o.at("id") == id);
}

}  // namespace

TEST_CASE("JSON-RPC 2.0: the specification's examples", "[daemon][jsonrpc]") {
  Fixture f;
  SECTION("positional parameters") {
    check_result(f.call_json(R"({"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1})"), 19, 1);
    check_result(f.call_json(R"({"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2})"), -19, 2);
  }
  SECTION("named parameters, in any order") {
    check_result(
        f.call_json(
            R"({"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3})"),
        19, 3);
    check_result(
        f.call_json(
            R"({"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4})"),
        19, 4);
  }
  SECTION("a notification runs and gets no reply (HTTP 204)") {
    for (const char* body : {R"({"jsonrpc": "2.0", "method": "notify_hello", "params": [7]})",
                             R"({"jsonrpc": "2.0", "method": "notify_hello"})"}) {
      const RpcReply r = f.call(body);
      CHECK(r.http_status == 204);
      CHECK(r.body.empty());
    }
    CHECK(f.notified == 2);
  }
  SECTION("a notification that fails is not answered either") {
    for (const char* body : {R"({"jsonrpc": "2.0", "method": "foobar"})", R"({"jsonrpc": "2.0", "method": "fail"})",
                             R"({"jsonrpc": "2.0", "method": "subtract", "params": ["x"]})"}) {
      const RpcReply r = f.call(body);
      CHECK(r.http_status == 204);
      CHECK(r.body.empty());
    }
  }
  SECTION("non-existent method") {
    const auto msg = check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "foobar", "id": "1"})"), -32601, "1");
    CHECK(msg.find("foobar") != std::string::npos);
  }
  SECTION("invalid JSON") {
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz])", 500), -32700, nullptr);
  }
  SECTION("invalid request object (no id: still answered, it is no notification)") {
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": 1, "params": "bar"})"), -32600, nullptr);
  }
  SECTION("batch, invalid JSON") {
    check_error(f.call_json(R"([
      {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
      {"jsonrpc": "2.0", "method"
    ])",
                            500),
                -32700, nullptr);
  }
  SECTION("empty array") { check_error(f.call_json("[]"), -32600, nullptr); }
  SECTION("invalid batch, but not empty") {
    const auto v = f.call_json("[1]");
    REQUIRE(v.is_array());
    REQUIRE(v.as_array().size() == 1);
    check_error(v.as_array()[0], -32600, nullptr);
  }
  SECTION("invalid batch") {
    const auto v = f.call_json("[1,2,3]");
    REQUIRE(v.is_array());
    REQUIRE(v.as_array().size() == 3);
    for (const auto& e : v.as_array()) check_error(e, -32600, nullptr);
  }
  SECTION("mixed batch") {
    const auto v = f.call_json(R"([
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ])");
    REQUIRE(v.is_array());
    const auto& a = v.as_array();
    REQUIRE(a.size() == 5);
    check_result(a[0], 7, "1");
    check_result(a[1], 19, "2");
    check_error(a[2], -32600, nullptr);
    check_error(a[3], -32601, "5");
    check_result(a[4], json::array{"hello", 5}, "9");
    CHECK(f.notified == 1);
  }
  SECTION("batch of notifications only: HTTP 204, no body") {
    const RpcReply r = f.call(R"([
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ])");
    CHECK(r.http_status == 204);
    CHECK(r.body.empty());
    CHECK(f.notified == 1);
  }
}

TEST_CASE("JSON-RPC 2.0: request object rules", "[daemon][jsonrpc]") {
  Fixture f;
  SECTION("jsonrpc must be \"2.0\" (or legacy \"1.0\")") {
    check_error(f.call_json(R"({"jsonrpc": "3.0", "method": "get_data", "id": 1})"), -32600, 1);
    check_error(f.call_json(R"({"jsonrpc": 2, "method": "get_data", "id": 1})"), -32600, 1);
  }
  SECTION("ids: string, number, null are echoed exactly; anything else is invalid") {
    check_result(f.call_json(R"({"jsonrpc": "2.0", "method": "get_data", "id": null})"), json::array{"hello", 5},
                 nullptr);
    const RpcReply r = f.call(R"({"jsonrpc": "2.0", "method": "sum", "params": [1], "id": 1.50})");
    CHECK(r.body.find("\"id\":1.50") != std::string::npos);
    check_result(f.call_json(R"({"jsonrpc": "2.0", "method": "sum", "params": [1], "id": -7})"), 1, -7);
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "sum", "params": [1], "id": [1]})"), -32600, nullptr);
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "sum", "params": [1], "id": {"a": 1}})"), -32600,
                nullptr);
  }
  SECTION("params must be structured") {
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "sum", "params": 1, "id": 1})"), -32600, 1);
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "sum", "params": "1", "id": 1})"), -32600, 1);
    // ... even in what would be a notification: an invalid request is always answered
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "sum", "params": "1"})"), -32600, nullptr);
  }
  SECTION("null params are no params") {
    check_result(f.call_json(R"({"jsonrpc": "2.0", "method": "get_data", "params": null, "id": 1})"),
                 json::array{"hello", 5}, 1);
  }
  SECTION("top-level scalars are invalid requests") {
    check_error(f.call_json("1"), -32600, nullptr);
    check_error(f.call_json("\"getblockcount\""), -32600, nullptr);
    check_error(f.call_json("null"), -32600, nullptr);
  }
  SECTION("an empty body or trailing garbage is a parse error") {
    check_error(f.call_json("", 500), -32700, nullptr);
    check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "get_data", "id": 1} x)", 500), -32700, nullptr);
  }
  SECTION("handler errors") {
    const auto msg = check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "fail", "id": 1})"), -8, 1);
    CHECK(msg == "Block height out of range");
    const auto crash = check_error(f.call_json(R"({"jsonrpc": "2.0", "method": "crash", "id": 1})"), -32603, 1);
    CHECK(crash.find("boom") != std::string::npos);
  }
  SECTION("the wallet of the URL reaches the handler") {
    const RpcReply r = f.call(R"({"jsonrpc": "2.0", "method": "wallet", "id": 1})", "alice");
    check_result(json::parse(r.body), "alice", 1);
  }
}

TEST_CASE("JSON-RPC: parameter checks", "[daemon][jsonrpc]") {
  Fixture f;
  auto error_message = [&](std::string_view params) {
    const std::string body = std::string(R"({"jsonrpc": "2.0", "id": 1, "method": )") + std::string(params) + "}";
    const auto v = f.call_json(body);
    return check_error(v, -32602, 1);
  };
  SECTION("too many positional parameters") {
    const auto msg = error_message(R"("subtract", "params": [1, 2, 3])");
    CHECK(msg.find("at most 2 parameters, got 3") != std::string::npos);
  }
  SECTION("missing required parameter, by position or by name") {
    CHECK(error_message(R"("subtract", "params": [1])").find("missing required parameter 'subtrahend'") !=
          std::string::npos);
    CHECK(error_message(R"("subtract", "params": {"subtrahend": 1})").find("'minuend'") != std::string::npos);
    CHECK(error_message(R"("subtract")").find("'minuend'") != std::string::npos);
    CHECK(error_message(R"("subtract", "params": [null, 1])").find("'minuend'") != std::string::npos);
  }
  SECTION("unknown named parameter") {
    CHECK(error_message(R"("subtract", "params": {"minuend": 1, "subtrahend": 2, "extra": 3})")
              .find("unknown named parameter 'extra'") != std::string::npos);
  }
  SECTION("wrong types") {
    CHECK(error_message(R"("subtract", "params": ["42", 23])").find("'minuend' must be an integer") !=
          std::string::npos);
    CHECK(error_message(R"("subtract", "params": [4.2, 23])").find("'minuend' must be an integer") !=
          std::string::npos);
    CHECK(error_message(R"("subtract", "params": [1e3, 23])").find("must be an integer") != std::string::npos);
    CHECK(error_message(R"("subtract", "params": [true, 23])").find("must be an integer") != std::string::npos);
    CHECK(error_message(R"("subtract", "params": [18446744073709551615, 1])").find("must be an integer") !=
          std::string::npos);
    CHECK(error_message(R"("subtract", "params": [99999999999999999999999, 1])").find("must be an integer") !=
          std::string::npos);
    CHECK(error_message(R"("typed", "params": [1])").find("'s' must be a string") != std::string::npos);
    CHECK(error_message(R"("typed", "params": [1.5])").find("'s' must be a string") != std::string::npos);
    CHECK(error_message(R"("typed", "params": [null, "true"])").find("'b' must be a boolean") != std::string::npos);
    CHECK(error_message(R"("typed", "params": [null, null, "00"])").find("'h' must be a 64-character hex hash") !=
          std::string::npos);
    CHECK(error_message(R"("typed", "params": {"o": []})").find("'o' must be an object") != std::string::npos);
    CHECK(error_message(R"("amount", "params": [true])").find("'amount' must be an amount") != std::string::npos);
  }
  SECTION("named and positional params give the same result") {
    check_result(f.call_json(R"({"jsonrpc": "2.0", "id": 1, "method": "sum", "params": {"c": 3, "a": 1}})"), 4, 1);
    check_result(f.call_json(R"({"jsonrpc": "2.0", "id": 1, "method": "sum", "params": [1, null, 3]})"), 4, 1);
    check_result(f.call_json(R"({"jsonrpc": "2.0", "id": 1, "method": "typed", "params": {"b": false}})"), "ok", 1);
  }
  SECTION("a raw-number string in a request is kept as sent") {
    const RpcReply r = f.call(R"({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": [0.10000000000000000001]})");
    CHECK(r.body.find("\"result\":0.10000000000000000001") != std::string::npos);
  }
}

TEST_CASE("JSON-RPC 1.0 legacy requests are answered as bitcoind does", "[daemon][jsonrpc]") {
  Fixture f;
  auto legacy = [&](std::string_view body, int status) {
    const auto v = f.call_json(body, status);
    REQUIRE(v.is_object());
    const auto& o = v.as_object();
    CHECK(!o.contains("jsonrpc"));
    CHECK(o.size() == 3);
    CHECK(o.contains("result"));
    CHECK(o.contains("error"));
    CHECK(o.contains("id"));
    return o;
  };
  SECTION("success: HTTP 200, error null") {
    const auto o = legacy(R"({"method": "subtract", "params": [42, 23], "id": "curltest"})", 200);
    CHECK(o.at("result") == 19);
    CHECK(o.at("error").is_null());
    CHECK(o.at("id") == "curltest");
    // bitcoind's documentation shows "jsonrpc": "1.0": also legacy
    const auto o2 = legacy(R"({"jsonrpc": "1.0", "method": "subtract", "params": [42, 23], "id": 7})", 200);
    CHECK(o2.at("result") == 19);
  }
  SECTION("no id: answered with id null (legacy has no notifications)") {
    const auto o = legacy(R"({"method": "get_data"})", 200);
    CHECK(o.at("id").is_null());
    CHECK(o.at("result") == json::array{"hello", 5});
  }
  SECTION("method not found: HTTP 404") {
    const auto o = legacy(R"({"method": "nope", "params": [], "id": 1})", 404);
    CHECK(o.at("result").is_null());
    CHECK(o.at("error").at("code") == -32601);
  }
  SECTION("other errors: HTTP 500") {
    CHECK(legacy(R"({"method": "fail", "id": 1})", 500).at("error").at("code") == -8);
    CHECK(legacy(R"({"method": "subtract", "params": [1], "id": 1})", 500).at("error").at("code") == -32602);
    CHECK(legacy(R"({"method": "crash", "id": 1})", 500).at("error").at("code") == -32603);
  }
  SECTION("invalid request: HTTP 400") {
    CHECK(legacy(R"({"method": 5, "id": 1})", 400).at("error").at("code") == -32600);
    CHECK(legacy(R"({"method": "get_data", "params": "x", "id": 1})", 400).at("error").at("code") == -32600);
    CHECK(legacy(R"({"method": "get_data", "id": [1]})", 400).at("error").at("code") == -32600);
  }
  SECTION("a legacy request inside a batch is answered in legacy form; the batch gets HTTP 200") {
    const auto v = f.call_json(R"([{"method": "nope", "id": 1}, {"jsonrpc": "2.0", "method": "get_data", "id": 2}])");
    const auto& a = v.as_array();
    REQUIRE(a.size() == 2);
    CHECK(!a[0].as_object().contains("jsonrpc"));
    CHECK(a[0].at("result").is_null());
    CHECK(a[0].at("error").at("code") == -32601);
    check_result(a[1], json::array{"hello", 5}, 2);
  }
  SECTION("2.0 errors always come with HTTP 200") {
    f.call_json(R"({"jsonrpc": "2.0", "method": "nope", "id": 1})", 200);
    f.call_json(R"({"jsonrpc": "2.0", "method": "fail", "id": 1})", 200);
    f.call_json(R"({"jsonrpc": "2.0", "method": 5, "id": 1})", 200);
  }
}

TEST_CASE("parse_rpc_amount reads CHZ exactly", "[daemon][jsonrpc]") {
  auto parse = [](std::string_view json_text) {
    auto v = parse_json_exact(json_text);
    REQUIRE(v);
    return parse_rpc_amount(*v);
  };
  auto rejected = [&](std::string_view json_text) {
    INFO(json_text);
    try {
      (void)parse(json_text);
    } catch (const RpcError& e) {
      CHECK(e.code == kRpcTypeError);
      CHECK(std::string(e.what()).find("Invalid amount") != std::string::npos);
      return;
    }
    FAIL("accepted " << json_text);
  };
  SECTION("numbers") {
    CHECK(parse("0.1") == 10'000'000);  // a double would give 0.1000000000000000055...
    CHECK(parse("12.5") == 1'250'000'000);
    CHECK(parse("21000000") == kMaxMoney);
    CHECK(parse("21000000.00000000") == kMaxMoney);
    CHECK(parse("0.00000001") == 1);
    CHECK(parse("0") == 0);
    CHECK(parse("0.29") == 29'000'000);
    CHECK(parse("1") == kCoin);
  }
  SECTION("strings") {
    CHECK(parse("\"0.1\"") == 10'000'000);
    CHECK(parse("\"12.50000000\"") == 1'250'000'000);
    CHECK(parse("\"21000000\"") == kMaxMoney);
  }
  SECTION("rejected") {
    rejected("1e3");
    rejected("1E-2");
    rejected("-1");
    rejected("-0.5");
    rejected("\"-1\"");
    rejected("0.000000001");
    rejected("\"0.000000001\"");
    rejected("\"NaN\"");
    rejected("\"Infinity\"");
    rejected("\"\"");
    rejected("\" 1\"");
    rejected("\"1,5\"");
    rejected("\"0x10\"");
    rejected("21000000.00000001");
    rejected("21000001");
    rejected("99999999999999999999999");  // beyond 64 bits: a double, never accepted
    rejected("18446744073709551615");
    rejected("true");
    rejected("null");
    rejected("[1]");
  }
  SECTION("through a method: amounts echo with 8 decimals") {
    Fixture f;
    CHECK(f.call(R"({"jsonrpc": "2.0", "id": 1, "method": "amount", "params": [12.5]})").body ==
          "{\"jsonrpc\":\"2.0\",\"result\":12.50000000,\"id\":1}\n");
    CHECK(f.call(R"({"jsonrpc": "2.0", "id": 1, "method": "amount", "params": ["0.1"]})")
              .body.find("\"result\":0.10000000") != std::string::npos);
    const auto v = f.call_json(R"({"jsonrpc": "2.0", "id": 1, "method": "amount", "params": [1e3]})");
    CHECK(check_error(v, -3, 1).find("Invalid amount") != std::string::npos);
  }
}

TEST_CASE("amount_value prints 8 decimals as a JSON number", "[daemon][jsonrpc]") {
  CHECK(serialize_json(amount_value(1'250'000'000)) == "12.50000000");
  CHECK(serialize_json(amount_value(0)) == "0.00000000");
  CHECK(serialize_json(amount_value(1)) == "0.00000001");
  CHECK(serialize_json(amount_value(kMaxMoney)) == "21000000.00000000");
  CHECK(serialize_json(json::object{{"fee", amount_value(10'000)}}) == R"({"fee":0.00010000})");
  // and what is printed reads back exactly
  const auto back = parse_json_exact(serialize_json(amount_value(123'456'789)));
  REQUIRE(back);
  CHECK(parse_rpc_amount(*back) == 123'456'789);
}

TEST_CASE("help lists every method by category and describes one", "[daemon][jsonrpc]") {
  Fixture f;
  const std::string all = f.table.help_text("");
  CHECK(all.find("== math ==\nsubtract minuend subtrahend\nsum a ( b ) ( c )\n") != std::string::npos);
  CHECK(all.find("== misc ==\n") != std::string::npos);
  CHECK(all.find("== wallet ==\namount amount\nwallet\n") != std::string::npos);
  // categories sorted, methods sorted within a category
  CHECK(all.find("== math ==") < all.find("== misc =="));
  CHECK(all.find("crash") < all.find("echo"));
  const std::string one = f.table.help_text("subtract");
  CHECK(one.starts_with("subtract minuend subtrahend\n\nminuend - subtrahend\n"));
  CHECK(one.find("1. minuend (an integer, required) from") != std::string::npos);
  CHECK(one.find("2. subtrahend (an integer, required) what") != std::string::npos);
  CHECK_THROWS_AS(f.table.help_text("nope"), RpcError);
  const auto sorted = f.table.sorted();
  REQUIRE(sorted.size() == 11);
  CHECK(sorted.front()->name == "subtract");
}

TEST_CASE("handlers read parameters by name, omitted ones as their declared default", "[daemon][jsonrpc]") {
  Fixture f;
  auto result = [&](std::string_view params) {
    const std::string body = std::string(R"({"jsonrpc": "2.0", "id": 1, "method": "defaults", "params": )") +
                             std::string(params) + "}";
    const auto v = f.call_json(body);
    INFO(json::serialize(v));
    return v.as_object().at("result");
  };
  CHECK(result("[]") == json::parse(R"({"text": "dflt", "flag": true, "who": null, "has_text": false})"));
  CHECK(result(R"(["x", false, "me"])") ==
        json::parse(R"({"text": "x", "flag": false, "who": "me", "has_text": true})"));
  CHECK(result(R"({"who": "me", "flag": false})") ==
        json::parse(R"({"text": "dflt", "flag": false, "who": "me", "has_text": false})"));
  CHECK(result("[null, null]") == json::parse(R"({"text": "dflt", "flag": true, "who": null, "has_text": false})"));
  SECTION("a name the method does not declare is a bug of the handler: an internal error") {
    const auto v = f.call_json(
        R"({"jsonrpc": "2.0", "id": 1, "method": "defaults", "params": {"undeclared": true}})");
    CHECK(check_error(v, -32603, 1).find("declares no parameter 'nosuchname'") != std::string::npos);
  }
}

TEST_CASE("help shows the defaults of optional parameters", "[daemon][jsonrpc]") {
  Fixture f;
  const std::string one = f.table.help_text("defaults");
  CHECK(one.starts_with("defaults ( text ) ( flag ) ( who ) ( undeclared )\n"));
  CHECK(one.find("1. text (a string, optional, default=\"dflt\") a string\n") != std::string::npos);
  CHECK(one.find("2. flag (a boolean, optional, default=true) a flag\n") != std::string::npos);
  CHECK(one.find("3. who (a string, optional, default=the wallet's address) someone\n") != std::string::npos);
  CHECK(one.find("4. undeclared (a boolean, optional) read under") != std::string::npos);
  CHECK(f.table.help_text("sum").find("2. b (an integer, optional, default=0) \n") != std::string::npos);
}

TEST_CASE("wallet library errors map to bitcoind's RPC codes at the RPC edge", "[daemon][jsonrpc]") {
  CHECK(rpc_error_code(WalletErrc::kLocked) == -13);
  CHECK(rpc_error_code(WalletErrc::kWrongPassphrase) == -14);
  CHECK(rpc_error_code(WalletErrc::kNotEncrypted) == -15);
  CHECK(rpc_error_code(WalletErrc::kAlreadyEncrypted) == -15);
  CHECK(rpc_error_code(WalletErrc::kKeypoolRanOut) == -12);
  CHECK(rpc_error_code(WalletErrc::kNotFound) == -18);
  CHECK(rpc_error_code(WalletErrc::kInvalidMnemonic) == -5);
  CHECK(rpc_error_code(WalletErrc::kCorrupt) == -4);
  CHECK(rpc_error_code(WalletErrc::kOutOfMemory) == -7);
}

TEST_CASE("take_secret moves a passphrase into guarded memory and wipes the request's copy", "[daemon][jsonrpc]") {
  Fixture f;
  std::optional<std::string> taken, left, optional_absent;
  bool storage_wipes = false;
  f.table.add({"unlock",
               "wallet",
               {{"passphrase", RpcType::kString, true, ""}, {"other", RpcType::kString, false, ""}},
               "takes a secret",
               "",
               [&](RpcRequest& r) -> asio::awaitable<json::value> {
                 storage_wipes = r.params[0]->storage().get() == wiping_storage().get();
                 const SecretString s = r.take_secret("passphrase");
                 taken = std::string(s.view());
                 left = std::string(r.params[0]->as_string());
                 optional_absent = r.take_optional_secret("other") ? "present" : "absent";
                 co_return json::value(nullptr);
               }});
  const auto v = f.call_json(R"({"jsonrpc": "2.0", "id": 1, "method": "unlock", "params": ["correct horse"]})");
  CHECK(v.as_object().at("result").is_null());
  CHECK(taken == "correct horse");
  CHECK(left == "");  // the request's JSON string was zeroed and emptied
  CHECK(optional_absent == "absent");
  CHECK(storage_wipes);  // the parsed document's copies are zeroed when freed
}
