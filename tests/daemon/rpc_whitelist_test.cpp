// Per-credential method allow-lists (issue 18): parsing -rpcwhitelist / -rpcwhitelistdefault as
// bitcoind does, and handle_jsonrpc refusing calls outside a list: HTTP 403, a JSON-RPC error,
// and the refused handler never runs; batches are checked entry by entry.
#include <coroutine>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/rpc/rpc_whitelist.hpp"
#include "daemon/rpc/server.hpp"

namespace asio = boost::asio;
using namespace cheese;

namespace {

using Methods = RpcAllowList::Methods;

RpcWhitelist parse_ok(const std::vector<std::string>& lines, std::optional<bool> default_none = std::nullopt) {
  RpcWhitelist w;
  const auto err = parse_rpc_whitelist(lines, default_none, w);
  INFO(err.value_or(""));
  REQUIRE_FALSE(err);
  return w;
}

std::string parse_error(const std::vector<std::string>& lines) {
  RpcWhitelist w;
  const auto err = parse_rpc_whitelist(lines, std::nullopt, w);
  REQUIRE(err);
  return *err;
}

//! A table whose methods count their calls, so a test can tell that a refused one did not run.
struct Counting {
  RpcTable table;
  int reads = 0;
  int stops = 0;

  Counting() {
    table.add({"getblockcount", "chain", {}, "", "", [this](RpcRequest&) -> asio::awaitable<json::value> {
                 ++reads;
                 co_return json::value(7);
               }});
    table.add({"stop", "control", {}, "", "", [this](RpcRequest&) -> asio::awaitable<json::value> {
                 ++stops;
                 co_return json::value("cheesed stopping");
               }});
  }

  RpcReply call(std::string_view body, const RpcAllowList* allowed) {
    asio::io_context io;
    std::optional<RpcReply> out;
    asio::co_spawn(io, handle_jsonrpc(table, body, {}, allowed), [&](std::exception_ptr e, RpcReply r) {
      if (e) std::rethrow_exception(e);
      out = std::move(r);
    });
    io.run();
    REQUIRE(out);
    return *out;
  }
};

void check_refused(const json::value& v, const json::value& id, std::string_view method) {
  INFO(json::serialize(v));
  REQUIRE(v.is_object());
  CHECK(v.at("id") == id);
  CHECK_FALSE(v.as_object().contains("result"));
  CHECK(v.at("error").at("code").to_number<int>() == kRpcMethodNotFound);
  const std::string message(v.at("error").at("message").as_string());
  CHECK(message.starts_with("Forbidden: "));
  CHECK(message.find(method) != std::string::npos);
}

}  // namespace

TEST_CASE("allow-list option -rpcwhitelist lines: users, methods split at commas and spaces",
          "[daemon][rpc][whitelist]") {
  const auto w = parse_ok({"alice:getblockcount,getblock", "bob: getpeerinfo , help ,,", "carol:"});
  CHECK(w.users.at("alice") == Methods{"getblock", "getblockcount"});
  CHECK(w.users.at("bob") == Methods{"getpeerinfo", "help"});
  CHECK(w.users.at("carol").empty());
  CHECK(w.named == Methods{"getblock", "getblockcount", "getpeerinfo", "help"});
  CHECK(w.users.size() == 3);
}

TEST_CASE("allow-list option -rpcwhitelist: several lines for one user intersect, as bitcoind",
          "[daemon][rpc][whitelist]") {
  const auto w = parse_ok({"alice:getblockcount,getblock,stop", "alice:getblock,getblockcount,help"});
  CHECK(w.users.at("alice") == Methods{"getblock", "getblockcount"});
  // Every method named is still checked against the table, also those the intersection dropped.
  CHECK(w.named.contains("stop"));
  CHECK(w.named.contains("help"));
  CHECK(parse_ok({"alice:getblock", "alice:"}).users.at("alice").empty());
  CHECK(parse_ok({"alice:getblock", "alice:stop"}).users.at("alice").empty());
}

TEST_CASE("allow-list option -rpcwhitelistdefault: on when any -rpcwhitelist is given, unless set",
          "[daemon][rpc][whitelist]") {
  SECTION("no lines, not set: everyone may call everything") {
    const auto w = parse_ok({});
    CHECK_FALSE(w.default_none);
    CHECK(w.allow_list_for(kCookieUser).methods() == nullptr);
  }
  SECTION("a line, not set: users without a line may call nothing") {
    const auto w = parse_ok({"alice:getblockcount"});
    CHECK(w.default_none);
    const auto cookie = w.allow_list_for(kCookieUser);
    REQUIRE(cookie.methods() != nullptr);
    CHECK(cookie.methods()->empty());
    CHECK_FALSE(cookie.allows("getblockcount"));
    CHECK(w.allow_list_for("alice").allows("getblockcount"));
    CHECK_FALSE(w.allow_list_for("alice").allows("stop"));
  }
  SECTION("a line, -rpcwhitelistdefault=0: users without a line may call everything") {
    const auto w = parse_ok({"alice:getblockcount"}, false);
    CHECK(w.allow_list_for(kCookieUser).allows("stop"));
    CHECK_FALSE(w.allow_list_for("alice").allows("stop"));
  }
  SECTION("no line, -rpcwhitelistdefault=1: nobody may call anything") {
    const auto w = parse_ok({}, true);
    CHECK_FALSE(w.allow_list_for(kCookieUser).allows("getblockcount"));
    CHECK_FALSE(w.allow_list_for("alice").allows("help"));
  }
}

TEST_CASE("allow-list option -rpcwhitelist: malformed lines are startup errors that say what to write",
          "[daemon][rpc][whitelist]") {
  const std::string no_colon = parse_error({"alice"});
  CHECK(no_colon.find("invalid -rpcwhitelist=alice") != std::string::npos);
  CHECK(no_colon.find("'alice:'") != std::string::npos);
  CHECK(parse_error({":getblockcount"}).find("user name before ':' is empty") != std::string::npos);
  CHECK(parse_error({"alice:help", ":x"}).find("-rpcwhitelist=:x") != std::string::npos);
}

TEST_CASE("allow-list option -rpcwhitelist: a method the node does not have is an error",
          "[daemon][rpc][whitelist]") {
  Counting c;
  CHECK_FALSE(check_rpc_whitelist_methods(parse_ok({"alice:getblockcount,stop"}), c.table));
  const auto typo = check_rpc_whitelist_methods(parse_ok({"alice:getblockcount", "alice:getblokcount"}), c.table);
  REQUIRE(typo);
  CHECK(typo->find("getblokcount") != std::string::npos);
}

TEST_CASE("a call outside the allow-list gets 403 and a JSON-RPC error, and does not run",
          "[daemon][rpc][whitelist]") {
  Counting c;
  const auto reads_only = RpcAllowList::only({"getblockcount"});
  SECTION("single 2.0 request") {
    const RpcReply r = c.call(R"({"jsonrpc":"2.0","id":5,"method":"stop"})", &reads_only);
    CHECK(r.http_status == 403);
    check_refused(json::parse(r.body), 5, "stop");
    CHECK(r.refused == std::vector<std::string>{"stop"});
    CHECK(c.stops == 0);
  }
  SECTION("a notification is answered too: the caller learns that nothing ran") {
    const RpcReply r = c.call(R"({"jsonrpc":"2.0","method":"stop"})", &reads_only);
    CHECK(r.http_status == 403);
    check_refused(json::parse(r.body), nullptr, "stop");
    CHECK(c.stops == 0);
  }
  SECTION("legacy 1.0 request: 403 (not bitcoind's 404 for -32601), result null") {
    const RpcReply r = c.call(R"({"id":"x","method":"stop","params":[]})", &reads_only);
    CHECK(r.http_status == 403);
    const auto v = json::parse(r.body);
    CHECK(v.at("result").is_null());
    CHECK(v.at("error").at("code").to_number<int>() == kRpcMethodNotFound);
    CHECK(c.stops == 0);
  }
  SECTION("a method that does not exist is refused the same way (the list is checked first)") {
    const RpcReply r = c.call(R"({"jsonrpc":"2.0","id":1,"method":"nosuchmethod"})", &reads_only);
    CHECK(r.http_status == 403);
    check_refused(json::parse(r.body), 1, "nosuchmethod");
  }
  SECTION("an allowed call runs as usual") {
    const RpcReply r = c.call(R"({"jsonrpc":"2.0","id":1,"method":"getblockcount"})", &reads_only);
    CHECK(r.http_status == 200);
    CHECK(json::parse(r.body).at("result") == 7);
    CHECK(r.refused.empty());
    CHECK(c.reads == 1);
  }
  SECTION("an empty list refuses everything; no list refuses nothing") {
    const auto nothing = RpcAllowList::only({});
    CHECK(c.call(R"({"jsonrpc":"2.0","id":1,"method":"getblockcount"})", &nothing).http_status == 403);
    CHECK(c.reads == 0);
    const auto everything = RpcAllowList::everything();
    CHECK(c.call(R"({"jsonrpc":"2.0","id":1,"method":"stop"})", &everything).http_status == 200);
    CHECK(c.call(R"({"jsonrpc":"2.0","id":2,"method":"stop"})", nullptr).http_status == 200);
    CHECK(c.stops == 2);
  }
  SECTION("a body that is no JSON is still a parse error (500), not a refusal") {
    const RpcReply r = c.call("{", &reads_only);
    CHECK(r.http_status == 500);
    CHECK(r.refused.empty());
  }
}

TEST_CASE("a batch is checked entry by entry", "[daemon][rpc][whitelist]") {
  Counting c;
  const auto reads_only = RpcAllowList::only({"getblockcount"});
  SECTION("mixed: allowed entries run, refused ones get an error each, HTTP 200") {
    const RpcReply r = c.call(R"([{"jsonrpc":"2.0","id":1,"method":"getblockcount"},
                                  {"jsonrpc":"2.0","id":2,"method":"stop"},
                                  {"jsonrpc":"2.0","method":"stop"},
                                  {"jsonrpc":"2.0","id":4,"method":"getblockcount"}])",
                              &reads_only);
    CHECK(r.http_status == 200);
    const auto v = json::parse(r.body);
    REQUIRE(v.as_array().size() == 4);
    CHECK(v.as_array()[0].at("result") == 7);
    check_refused(v.as_array()[1], 2, "stop");
    check_refused(v.as_array()[2], nullptr, "stop");  // a refused notification is answered
    CHECK(v.as_array()[3].at("result") == 7);
    CHECK(r.refused == std::vector<std::string>{"stop", "stop"});
    CHECK(c.reads == 2);
    CHECK(c.stops == 0);
  }
  SECTION("every entry refused: HTTP 403, with the error of each") {
    const RpcReply r = c.call(
        R"([{"jsonrpc":"2.0","id":1,"method":"stop"},{"jsonrpc":"2.0","id":2,"method":"help"}])", &reads_only);
    CHECK(r.http_status == 403);
    const auto v = json::parse(r.body);
    REQUIRE(v.as_array().size() == 2);
    check_refused(v.as_array()[0], 1, "stop");
    check_refused(v.as_array()[1], 2, "help");
    CHECK(c.stops == 0);
  }
  SECTION("an invalid entry is no refusal: [invalid, refused] is HTTP 200") {
    const RpcReply r = c.call(R"([1, {"jsonrpc":"2.0","id":2,"method":"stop"}])", &reads_only);
    CHECK(r.http_status == 200);
    const auto v = json::parse(r.body);
    CHECK(v.as_array()[0].at("error").at("code").to_number<int>() == kRpcInvalidRequest);
    check_refused(v.as_array()[1], 2, "stop");
  }
}
