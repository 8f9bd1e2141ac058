#include <catch2/catch.hpp>

// GCC 12: <coroutine> before Boost.Asio.
#include <coroutine>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"  // Asio internals, after inlining (see cli.cpp)
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cli.hpp"

using namespace cheese;
using namespace cheese::cli;
using namespace std::chrono_literals;

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::string body_of(std::string_view method, const std::vector<std::string>& args, bool named = false) {
  return request_body(method, convert_params(method, args, named));
}

std::string usage_error_of(std::string_view method, const std::vector<std::string>& args, bool named) {
  try {
    convert_params(method, args, named);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

//! A fresh directory under the system temp folder, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("cheese-cli-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  void write(const std::filesystem::path& relative, std::string_view content) const {
    std::filesystem::create_directories((path / relative).parent_path());
    std::ofstream(path / relative, std::ios::binary) << content;
  }
};

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CliRun run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
  std::vector<const char*> argv{"cheese-cli"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(stdin_text);
  std::ostringstream out;
  std::ostringstream err;
  CliRun r;
  r.exit_code = run_cli(static_cast<int>(argv.size()), argv.data(), in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

//! A port on 127.0.0.1 that nothing listens on (just released by the kernel's choice).
std::uint16_t free_port() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

Args parsed_cli_args(std::vector<const char*> argv) {
  std::vector<OptionSpec> specs = cli_options();
  for (auto& s : daemon_config_options()) specs.push_back(std::move(s));
  Args args(std::move(specs));
  argv.insert(argv.begin(), "cheese-cli");
  const auto err = args.parse_command_line(static_cast<int>(argv.size()), argv.data());
  INFO(err.value_or(""));
  REQUIRE_FALSE(err.has_value());
  return args;
}

//! What the test server saw of one request.
struct Recorded {
  std::string method;
  std::string target;
  std::string authorization;
  std::string content_type;
  std::string body;
};

//! One canned reply; `delay` holds it back (to test the client timeout).
struct Canned {
  unsigned status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};
};

//! A tiny HTTP server on 127.0.0.1 in its own thread: one connection per canned reply, in order.
//! It starts listening after `listen_after` (then on a port chosen beforehand), and gives up
//! after 10 s, so that a failing client cannot hang the test.
class TestServer {
 public:
  explicit TestServer(std::vector<Canned> replies, std::chrono::milliseconds listen_after = 0ms,
                      std::function<void()> on_listen = {})
      : replies_(std::move(replies)), acceptor_(ioc_) {
    if (listen_after == 0ms) {
      port_ = listen(0);
      thread_ = std::thread([this] { serve(); });
    } else {
      port_ = free_port();
      thread_ = std::thread([this, listen_after, on_listen = std::move(on_listen)] {
        std::this_thread::sleep_for(listen_after);
        if (on_listen) on_listen();
        listen(port_);
        serve();
      });
    }
  }
  ~TestServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string port_text() const { return std::to_string(port_); }

  //! The requests seen, once every canned reply is sent (or the server gave up).
  std::vector<Recorded> requests() {
    if (thread_.joinable()) thread_.join();
    return recorded_;
  }

 private:
  std::uint16_t listen(std::uint16_t port) {
    const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(at.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(at);
    acceptor_.listen();
    acceptor_.non_blocking(true);
    return acceptor_.local_endpoint().port();
  }

  void serve() {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    for (const auto& canned : replies_) {
      tcp::socket socket(ioc_);
      for (;;) {
        boost::system::error_code ec;
        acceptor_.accept(socket, ec);
        if (!ec) break;
        if (ec != asio::error::would_block && ec != asio::error::try_again) return;
        if (stop_ || std::chrono::steady_clock::now() > give_up) return;
        std::this_thread::sleep_for(5ms);
      }
      boost::system::error_code ec;
      socket.non_blocking(false, ec);
      boost::beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      recorded_.push_back({std::string(req.method_string()), std::string(req.target()),
                           std::string(req[http::field::authorization]), std::string(req[http::field::content_type]),
                           req.body()});
      std::this_thread::sleep_for(canned.delay);
      http::response<http::string_body> res{http::int_to_status(canned.status), 11};
      res.set(http::field::content_type, "application/json");
      res.body() = canned.body;
      res.keep_alive(false);
      res.prepare_payload();
      http::write(socket, res, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  std::vector<Canned> replies_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<Recorded> recorded_;
  std::thread thread_;
};

const std::string kCookie = "__cookie__:abcd";
const std::string kCookieAuth = "Basic X19jb29raWVfXzphYmNk";  // base64("__cookie__:abcd")

}  // namespace

// ---- parameter conversion ------------------------------------------------------------------------

TEST_CASE("positional params: table entries are JSON, everything else a string", "[cli]") {
  CHECK(body_of("getblockcount", {}) == R"({"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[]})");
  CHECK(body_of("getblockhash", {"5"}) == R"({"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[5]})");
  CHECK(body_of("getblock", {"00ab", "2"}) == R"({"jsonrpc":"2.0","id":1,"method":"getblock","params":["00ab",2]})");
  CHECK(body_of("getblockheader", {"00ab", "false"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getblockheader","params":["00ab",false]})");
  CHECK(body_of("getrawtransaction", {"ff", "true"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getrawtransaction","params":["ff",true]})");
  CHECK(body_of("getrawmempool", {"true"}) == R"({"jsonrpc":"2.0","id":1,"method":"getrawmempool","params":[true]})");
  CHECK(body_of("setban", {"10.0.0.0/8", "add", "3600", "false"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"setban","params":["10.0.0.0/8","add",3600,false]})");
  CHECK(body_of("generatetoaddress", {"101", "rchz1qq", "1000000"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"generatetoaddress","params":[101,"rchz1qq",1000000]})");
  CHECK(body_of("setgenerate", {"true", "4"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"setgenerate","params":[true,4]})");
  CHECK(body_of("listtransactions", {"10", "20"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"listtransactions","params":[10,20]})");
  CHECK(body_of("walletpassphrase", {"correct horse", "60"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"walletpassphrase","params":["correct horse",60]})");
  CHECK(body_of("addnode", {"1.2.3.4:28433", "onetry"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"addnode","params":["1.2.3.4:28433","onetry"]})");
  CHECK(body_of("help", {"getblock"}) == R"({"jsonrpc":"2.0","id":1,"method":"help","params":["getblock"]})");
  CHECK(body_of("createwallet", {"alice", "123"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"createwallet","params":["alice","123"]})");
}

TEST_CASE("friendly commands are plain methods: mine, send, webui", "[cli]") {
  CHECK(body_of("mine", {}) == R"({"jsonrpc":"2.0","id":1,"method":"mine","params":[]})");
  CHECK(body_of("mine", {"10"}) == R"({"jsonrpc":"2.0","id":1,"method":"mine","params":[10]})");
  CHECK(body_of("mine", {"10", "rchz1abc"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"mine","params":[10,"rchz1abc"]})");
  CHECK(body_of("webui", {}) == R"({"jsonrpc":"2.0","id":1,"method":"webui","params":[]})");
}

TEST_CASE("amounts are sent as strings of exactly what was typed", "[cli]") {
  CHECK(body_of("send", {"rchz1abc", "0.1", "0.00001"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"send","params":["rchz1abc","0.1","0.00001"]})");
  CHECK(body_of("send", {"rchz1abc", "20999999.99999999"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"send","params":["rchz1abc","20999999.99999999"]})");
  CHECK(body_of("sendtoaddress", {"rchz1abc", "12.50000000", "0.0001"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"sendtoaddress","params":["rchz1abc","12.50000000","0.0001"]})");
  CHECK(body_of("send", {"rchz1abc", "1e-8"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"send","params":["rchz1abc","1e-8"]})");  // the server rejects it
}

TEST_CASE("string params are escaped, JSON params keep their text, compacted", "[cli]") {
  CHECK(body_of("getaccount", {"a\"b\\c\nd"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getaccount","params":["a\"b\\c\nd"]})");
  CHECK(body_of("getblockhash", {" 7 "}) == R"({"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[7]})");
  CHECK(body_of("getblockhash", {"1e2"}) == R"({"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[1e2]})");
  CHECK(body_of("generatetoaddress", {"1", "a", "{ \"x\" : [1, 2.50, \"a b\"] }"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"generatetoaddress","params":[1,"a",{"x":[1,2.50,"a b"]}]})");
  CHECK(body_of("getblockhash", {"null"}) == R"({"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[null]})");
  // Params beyond the table are strings; the server reports the wrong count.
  CHECK(body_of("getblockhash", {"1", "2"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[1,"2"]})");
}

TEST_CASE("unknown methods get every param as a string", "[cli]") {
  CHECK(body_of("frobnicate", {"1", "true", "{\"a\":1}"}) ==
        R"({"jsonrpc":"2.0","id":1,"method":"frobnicate","params":["1","true","{\"a\":1}"]})");
  CHECK(body_of("we\"ird", {}) == R"({"jsonrpc":"2.0","id":1,"method":"we\"ird","params":[]})");
}

TEST_CASE("converted params must be valid JSON", "[cli]") {
  CHECK(usage_error_of("getblockhash", {"abc"}, false) ==
        "Error parsing JSON for parameter height of getblockhash: abc");
  CHECK(usage_error_of("mine", {"rchz1abc"}, false) == "Error parsing JSON for parameter nblocks of mine: rchz1abc");
  CHECK(usage_error_of("getblock", {"00ab", "2x"}, false) ==
        "Error parsing JSON for parameter verbosity of getblock: 2x");
  CHECK(usage_error_of("setban", {"a", "add", "", "true"}, false) ==
        "Error parsing JSON for parameter bantime of setban: ");
  CHECK(usage_error_of("getblockhash", {"1 2"}, false) ==
        "Error parsing JSON for parameter height of getblockhash: 1 2");
}

TEST_CASE("booleans and integers of the wallet and net methods are sent as JSON", "[cli]") {
  // Found by tests/cli/rpc_conversion_test.cpp: these were sent as strings, which cheesed rejects.
  CHECK(body_of("unloadwallet", {"alice", "true"}, false) ==
        R"({"jsonrpc":"2.0","id":1,"method":"unloadwallet","params":["alice",true]})");
  CHECK(body_of("createwallet", {"alice", "", "false"}, false) ==
        R"({"jsonrpc":"2.0","id":1,"method":"createwallet","params":["alice","",false]})");
  CHECK(body_of("rescanblockchain", {"12"}, false) ==
        R"({"jsonrpc":"2.0","id":1,"method":"rescanblockchain","params":[12]})");
  CHECK(body_of("disconnectnode", {"nodeid=7"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"disconnectnode","params":{"nodeid":7}})");
}

TEST_CASE("named params (-named) are sent as an object, converted by name", "[cli]") {
  CHECK(body_of("getblock", {"blockhash=00ab", "verbosity=2"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getblock","params":{"blockhash":"00ab","verbosity":2}})");
  CHECK(body_of("getblock", {"verbosity=0", "blockhash=00ab"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getblock","params":{"verbosity":0,"blockhash":"00ab"}})");
  CHECK(body_of("send", {"address=rchz1abc", "amount=0.50", "fee=0.0001"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"send","params":{"address":"rchz1abc","amount":"0.50","fee":"0.0001"}})");
  CHECK(body_of("mine", {"nblocks=3"}, true) == R"({"jsonrpc":"2.0","id":1,"method":"mine","params":{"nblocks":3}})");
  CHECK(body_of("listtransactions", {"skip=5"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"listtransactions","params":{"skip":5}})");
  CHECK(body_of("getbalance", {}, true) == R"({"jsonrpc":"2.0","id":1,"method":"getbalance","params":{}})");
  // The value is everything after the first '='; it may be empty.
  CHECK(body_of("getaccount", {"address=a=b"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getaccount","params":{"address":"a=b"}})");
  CHECK(body_of("getaccount", {"address="}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getaccount","params":{"address":""}})");
  // A name the table doesn't know (even of a known method) is a string; the server judges it.
  CHECK(body_of("getblock", {"height=5"}, true) ==
        R"({"jsonrpc":"2.0","id":1,"method":"getblock","params":{"height":"5"}})");
}

TEST_CASE("named params (-named): errors for a param without '=', without a name, twice, or bad JSON", "[cli]") {
  CHECK(usage_error_of("getblock", {"00ab"}, true) ==
        "No '=' in named argument '00ab': with -named every parameter is name=value");
  CHECK(usage_error_of("getblock", {"=00ab"}, true) == "Named argument '=00ab' has no name");
  CHECK(usage_error_of("getblock", {"blockhash=a", "blockhash=b"}, true) ==
        "Parameter blockhash is given more than once");
  CHECK(usage_error_of("getblock", {"blockhash=a", "verbosity=two"}, true) ==
        "Error parsing JSON for parameter verbosity of getblock: two");
}

TEST_CASE("the conversion table has one entry per method position and name", "[cli]") {
  std::set<std::pair<std::string_view, std::size_t>> positions;
  std::set<std::pair<std::string_view, std::string_view>> names;
  for (const auto& p : converted_params()) {
    INFO(p.method << " " << p.index << " " << p.name);
    CHECK(positions.emplace(p.method, p.index).second);
    CHECK(names.emplace(p.method, p.name).second);
  }
  // No amount is ever converted: they go as strings, parsed exactly by the server.
  for (const auto& p : converted_params()) {
    CHECK(p.name != "amount");
    CHECK(p.name != "fee");
  }
  CHECK(positions.size() == 21);  // tests/cli/rpc_conversion_test.cpp checks which, against cheesed
}

// ---- output --------------------------------------------------------------------------------------

TEST_CASE("reformat_json indents by 2 like bitcoin-cli and keeps numbers and strings as sent", "[cli]") {
  const std::string compact =
      R"({"a":1,"b":[true,null,"x, y: [z]"],"amount":50.00000000,"e":{},"f":[],"g":{"h":"\"q\""}})";
  CHECK(reformat_json(compact, 2) ==
        "{\n"
        "  \"a\": 1,\n"
        "  \"b\": [\n"
        "    true,\n"
        "    null,\n"
        "    \"x, y: [z]\"\n"
        "  ],\n"
        "  \"amount\": 50.00000000,\n"
        "  \"e\": {},\n"
        "  \"f\": [],\n"
        "  \"g\": {\n"
        "    \"h\": \"\\\"q\\\"\"\n"
        "  }\n"
        "}");
  CHECK(reformat_json(reformat_json(compact, 2), 0) == compact);
  CHECK(reformat_json(" [ 1 , { } , [ ] ] ", 0) == "[1,{},[]]");
  CHECK(reformat_json("\"a\\\\\"", 2) == "\"a\\\\\"");
}

TEST_CASE("format_result: strings raw, null nothing, the rest pretty JSON", "[cli]") {
  CHECK(format_result("\"00000000abc\"") == "00000000abc\n");
  CHECK(format_result("\"line\\nnext \\\"quoted\\\" \\u00e9\"") == "line\nnext \"quoted\" \xc3\xa9\n");
  CHECK(format_result("null").empty());
  CHECK(format_result("\"\"").empty());  // as bitcoin-cli: nothing to print
  CHECK(format_result("42") == "42\n");
  CHECK(format_result("12.34000000") == "12.34000000\n");
  CHECK(format_result("true") == "true\n");
  CHECK(format_result("[]") == "[]\n");
  CHECK(format_result(R"({"blocks":5,"chain":"regtest"})") == "{\n  \"blocks\": 5,\n  \"chain\": \"regtest\"\n}\n");
  CHECK(format_result(R"(["a","b"])") == "[\n  \"a\",\n  \"b\"\n]\n");
}

TEST_CASE("exit codes: |rpc error code| within 1..127", "[cli]") {
  CHECK(exit_code_for(-1) == 1);
  CHECK(exit_code_for(-8) == 8);
  CHECK(exit_code_for(-28) == 28);
  CHECK(exit_code_for(-127) == 127);
  CHECK(exit_code_for(-128) == 127);
  CHECK(exit_code_for(-32601) == 127);
  CHECK(exit_code_for(0) == 1);
  CHECK(exit_code_for(5) == 5);
  CHECK(exit_code_for(100000) == 127);
}

TEST_CASE("interpret_reply: results", "[cli]") {
  auto ok = interpret_reply(200, R"({"jsonrpc":"2.0","result":"abc","id":1})");
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "abc\n");
  CHECK(ok.err.empty());
  CHECK_FALSE(ok.transient);

  auto null = interpret_reply(200, R"({"jsonrpc":"2.0","result":null,"id":1})");
  CHECK(null.exit_code == 0);
  CHECK(null.out.empty());

  // Legacy 1.0 replies carry "error": null next to the result.
  auto legacy = interpret_reply(200, R"({"result":{"balance":1.50000000},"error":null,"id":1})");
  CHECK(legacy.exit_code == 0);
  CHECK(legacy.out == "{\n  \"balance\": 1.50000000\n}\n");
}

TEST_CASE("interpret_reply: JSON-RPC errors, also inside HTTP errors", "[cli]") {
  auto not_found = interpret_reply(
      200, R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1})");
  CHECK(not_found.exit_code == 127);
  CHECK(not_found.out.empty());
  CHECK(not_found.err == "error code: -32601\nerror message:\nMethod not found\n");

  auto legacy_500 = interpret_reply(
      500, R"({"result":null,"error":{"code":-8,"message":"Block height out of range"},"id":1})");
  CHECK(legacy_500.exit_code == 8);
  CHECK(legacy_500.err == "error code: -8\nerror message:\nBlock height out of range\n");
  CHECK_FALSE(legacy_500.transient);

  auto legacy_404 = interpret_reply(404,
                                    R"({"result":null,"error":{"code":-32601,"message":"Method not found"},"id":1})");
  CHECK(legacy_404.exit_code == 127);
  CHECK(legacy_404.err == "error code: -32601\nerror message:\nMethod not found\n");

  auto warming = interpret_reply(200,
                                 R"({"jsonrpc":"2.0","error":{"code":-28,"message":"Loading block index"},"id":1})");
  CHECK(warming.exit_code == 28);
  CHECK(warming.transient);
  CHECK(warming.reason == "error code -28: Loading block index");

  auto odd = interpret_reply(200, R"({"jsonrpc":"2.0","error":"boom","id":1})");
  CHECK(odd.exit_code == 1);
  CHECK(odd.err == "error: \"boom\"\n");
}

TEST_CASE("interpret_reply: HTTP errors without a JSON-RPC body", "[cli]") {
  auto unauthorized = interpret_reply(401, "");
  CHECK(unauthorized.exit_code == 1);
  CHECK(unauthorized.err == "error: Authorization failed: Incorrect rpcuser or rpcpassword\n");
  CHECK_FALSE(unauthorized.transient);

  auto not_found = interpret_reply(404, "no such page\nmore");
  CHECK(not_found.exit_code == 1);
  CHECK(not_found.err == "error: server returned HTTP error 404 Not Found: no such page\n");

  auto unavailable = interpret_reply(503, "");
  CHECK(unavailable.exit_code == 1);
  CHECK(unavailable.err == "error: server returned HTTP error 503 Service Unavailable\n");
  CHECK(unavailable.transient);

  auto garbage = interpret_reply(200, "<html>hello</html>");
  CHECK(garbage.exit_code == 1);
  CHECK(garbage.err == "error: the server's reply is not a JSON-RPC reply: <html>hello</html>\n");
}

TEST_CASE("cookie path per network", "[cli]") {
  const std::filesystem::path dir = "/home/u/.cheesechain";
  CHECK(cookie_path(dir, Network::kMain) == "/home/u/.cheesechain/.cookie");
  CHECK(cookie_path(dir, Network::kTest) == "/home/u/.cheesechain/testnet/.cookie");
  CHECK(cookie_path(dir, Network::kRegtest) == "/home/u/.cheesechain/regtest/.cookie");
}

TEST_CASE("RPC endpoint: default port per network, -rpcconnect and -rpcport", "[cli]") {
  auto none = parsed_cli_args({});
  CHECK(rpc_endpoint(none, Network::kMain).display() == "127.0.0.1:8432");
  CHECK(rpc_endpoint(none, Network::kTest).display() == "127.0.0.1:18432");
  CHECK(rpc_endpoint(none, Network::kRegtest).display() == "127.0.0.1:28432");

  auto port = parsed_cli_args({"-rpcport=1234"});
  CHECK(rpc_endpoint(port, Network::kRegtest).display() == "127.0.0.1:1234");
  auto host = parsed_cli_args({"-rpcconnect=node.example"});
  CHECK(rpc_endpoint(host, Network::kTest).display() == "node.example:18432");
  auto host_port = parsed_cli_args({"-rpcconnect=10.0.0.2:9000"});
  CHECK(rpc_endpoint(host_port, Network::kMain).display() == "10.0.0.2:9000");
  auto both = parsed_cli_args({"-rpcconnect=10.0.0.2:9000", "-rpcport=9001"});
  CHECK(rpc_endpoint(both, Network::kMain).display() == "10.0.0.2:9001");
  auto v6 = parsed_cli_args({"-rpcconnect=[::1]:9002"});
  CHECK(rpc_endpoint(v6, Network::kMain).host == "::1");
  CHECK(rpc_endpoint(v6, Network::kMain).display() == "[::1]:9002");
  auto bare_v6 = parsed_cli_args({"-rpcconnect=::1"});
  CHECK(rpc_endpoint(bare_v6, Network::kRegtest).display() == "[::1]:28432");

  auto bad_port = parsed_cli_args({"-rpcport=70000"});
  CHECK_THROWS_WITH(rpc_endpoint(bad_port, Network::kMain), "invalid RPC port 70000: a port is 1..65535");
  auto bad_host_port = parsed_cli_args({"-rpcconnect=host:http"});
  CHECK_THROWS_WITH(rpc_endpoint(bad_host_port, Network::kMain),
                    "invalid -rpcconnect=host:http: expected <host> or <host>:<port>");
}

// ---- the program ---------------------------------------------------------------------------------

TEST_CASE("help (-help, -?, -h) prints the usage and every option, and -version the version", "[cli]") {
  for (const char* flag : {"-help", "-?", "-h", "--help"}) {
    INFO(flag);
    const auto r = run({flag, "getblockcount"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(r.out.find("Usage:  cheese-cli [options] <command> [params]") != std::string::npos);
    CHECK(r.out.find("cheese-cli send <address> <amount> [fee]") != std::string::npos);
    for (const auto& spec : cli_options()) {
      if (spec.name == "h" || spec.name == "help") continue;
      INFO(spec.name);
      CHECK(r.out.find("  -" + spec.name) != std::string::npos);
    }
    CHECK(r.out.find("  -addnode") == std::string::npos);  // cheesed's options are not the CLI's
  }
  const auto v = run({"-version"});
  CHECK(v.exit_code == 0);
  CHECK(v.out.starts_with("cheese-cli version v"));
}

TEST_CASE("usage errors are one line on stderr and exit 1", "[cli]") {
  TempDir dir;
  const std::string datadir = "-datadir=" + dir.path.string();
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const Case cases[] = {
      {{datadir}, "error: too few parameters (need at least a command); see cheese-cli -help\n"},
      {{datadir, "-bogus", "getblockcount"}, "error: unknown option -bogus (command line)\n"},
      {{datadir, "-regtest", "-testnet", "getblockcount"},
       "error: choose one network: -chain=<name>, -regtest or -testnet\n"},
      {{datadir, "-chain=foo", "getblockcount"}, "error: invalid -chain=foo: use main, test or regtest\n"},
      {{datadir, "-named", "getblock", "00ab"},
       "error: No '=' in named argument '00ab': with -named every parameter is name=value\n"},
      {{datadir, "getblockhash", "tip"}, "error: Error parsing JSON for parameter height of getblockhash: tip\n"},
      {{datadir, "-rpcport=0", "getblockcount"}, "error: invalid RPC port 0: a port is 1..65535\n"},
      {{datadir, "-rpcclienttimeout=-1", "getblockcount"},
       "error: invalid -rpcclienttimeout=-1: seconds must be 0 or more\n"},
      {{"-datadir=" + (dir.path / "nope").string(), "getblockcount"},
       "error: Specified data directory \"" + (dir.path / "nope").string() + "\" does not exist.\n"},
      {{datadir, "-conf=missing.conf", "getblockcount"},
       "error: cannot read config file " + (dir.path / "missing.conf").string() + "\n"},
  };
  for (const auto& c : cases) {
    INFO(c.args.back());
    const auto r = run(c.args);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == c.err);
  }
}

TEST_CASE("a malformed config file is reported with its line", "[cli]") {
  TempDir dir;
  dir.write("cheese.conf", "listen=1\n[regtest]\nrpcport 28432\n");
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "getblockcount"});
  CHECK(r.exit_code == 1);
  CHECK(r.err ==
        "error: expected name=value, got 'rpcport 28432' (" + (dir.path / "cheese.conf").string() + " line 3)\n");
}

TEST_CASE("no cookie and no -rpcpassword: a clear error before connecting", "[cli]") {
  TempDir dir;
  const auto r = run({"-datadir=" + dir.path.string(), "-testnet", "getblockcount"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "error: No credentials: could not read cookie file " + (dir.path / "testnet" / ".cookie").string() +
                     " and no -rpcpassword was given\n");
}

TEST_CASE("connection refused says what was tried", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie);
  const auto port = std::to_string(free_port());
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + port, "getblockcount"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "error: Could not connect to the server 127.0.0.1:" + port + " (cookie " +
                     (dir.path / "regtest" / ".cookie").string() +
                     "): Connection refused. Make sure cheesed is running with the RPC port enabled.\n");
}

TEST_CASE("end to end: cookie auth, request and pretty output", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie + "\n");
  TestServer server(
      {{200,
        R"({"jsonrpc":"2.0","result":{"chain":"regtest","blocks":5,"difficulty":4.656542373906925e-10},"id":1})"}});
  const auto r = run(
      {"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + server.port_text(), "getblockchaininfo"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out == "{\n  \"chain\": \"regtest\",\n  \"blocks\": 5,\n  \"difficulty\": 4.656542373906925e-10\n}\n");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].target == "/");
  CHECK(requests[0].authorization == kCookieAuth);
  CHECK(requests[0].content_type == "application/json");
  CHECK(requests[0].body == R"({"jsonrpc":"2.0","id":1,"method":"getblockchaininfo","params":[]})");
}

TEST_CASE("end to end: a string result prints raw, null prints nothing", "[cli]") {
  TempDir dir;
  dir.write(".cookie", kCookie);
  TestServer server(
      {{200, R"({"jsonrpc":"2.0","result":"0000abcd","id":1})"}, {200, R"({"jsonrpc":"2.0","result":null,"id":1})"}});
  const auto hash = run({"-datadir=" + dir.path.string(), "-rpcport=" + server.port_text(), "getblockhash", "0"});
  CHECK(hash.exit_code == 0);
  CHECK(hash.out == "0000abcd\n");
  const auto stop = run({"-datadir=" + dir.path.string(), "-rpcport=" + server.port_text(), "stop"});
  CHECK(stop.exit_code == 0);
  CHECK(stop.out.empty());
  CHECK(stop.err.empty());
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].body == R"({"jsonrpc":"2.0","id":1,"method":"getblockhash","params":[0]})");
  CHECK(requests[1].body == R"({"jsonrpc":"2.0","id":1,"method":"stop","params":[]})");
}

TEST_CASE("end to end: cheese.conf with cheesed's options, a [regtest] section, -rpcwallet and -stdin", "[cli]") {
  TempDir dir;
  TestServer server({{200, R"({"jsonrpc":"2.0","result":"9f00","id":1})"}});
  dir.write("cheese.conf",
            "# the node's own settings\n"
            "regtest=1\n"
            "listen=1\n"
            "daemon=1\n"
            "tracker=tracker.example:9999\n"
            "addnode=10.0.0.1\n"
            "rpcallowip=127.0.0.1\n"
            "debug=net\n"
            "wallet=alice\n"
            "maxmempool=300\n"
            "\n"
            "[regtest]\n"
            "port=28433\n"
            "rpcport=" +
                server.port_text() +
                "\n"
                "rpcuser=alice\n"
                "rpcpassword=s3cret\n");
  const auto r = run({"-datadir=" + dir.path.string(), "-rpcwallet=my wallet", "-stdin", "send", "rchz1abc"},
                     "0.5\n0.0001\r\n");
  CHECK(r.err.empty());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "9f00\n");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].target == "/wallet/my%20wallet");
  CHECK(requests[0].authorization == "Basic YWxpY2U6czNjcmV0");  // alice:s3cret
  CHECK(requests[0].body == R"({"jsonrpc":"2.0","id":1,"method":"send","params":["rchz1abc","0.5","0.0001"]})");
}

TEST_CASE("end to end: -named and the command line's -rpcpassword", "[cli]") {
  TempDir dir;
  TestServer server({{200, R"({"jsonrpc":"2.0","result":[],"id":1})"}});
  const auto r = run({"-datadir=" + dir.path.string(), "-rpcuser=u", "-rpcpassword=p",
                      "-rpcport=" + server.port_text(), "-named", "listtransactions", "count=10", "skip=0"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "[]\n");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].authorization == "Basic dTpw");
  CHECK(requests[0].body == R"({"jsonrpc":"2.0","id":1,"method":"listtransactions","params":{"count":10,"skip":0}})");
}

TEST_CASE("end to end: RPC errors, legacy HTTP 500 errors and 401", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie);
  TestServer server({
      {200, R"({"jsonrpc":"2.0","error":{"code":-5,"message":"Invalid address"},"id":1})"},
      {500, R"({"result":null,"error":{"code":-32601,"message":"Method not found"},"id":1})"},
      {401, ""},
  });
  const std::vector<std::string> common{"-datadir=" + dir.path.string(), "-regtest",
                                        "-rpcport=" + server.port_text()};
  auto with = [&](std::vector<std::string> extra) {
    auto args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  const auto invalid = with({"getaccount", "nonsense"});
  CHECK(invalid.exit_code == 5);
  CHECK(invalid.out.empty());
  CHECK(invalid.err == "error code: -5\nerror message:\nInvalid address\n");
  const auto unknown = with({"frobnicate"});
  CHECK(unknown.exit_code == 127);
  CHECK(unknown.err == "error code: -32601\nerror message:\nMethod not found\n");
  const auto denied = with({"getblockcount"});
  CHECK(denied.exit_code == 1);
  CHECK(denied.err == "error: Authorization failed: Incorrect rpcuser or rpcpassword\n");
  CHECK(server.requests().size() == 3);
}

TEST_CASE("rpcwait: waits for a server that starts late (and writes its cookie then)", "[cli]") {
  TempDir dir;
  TestServer server({{200, R"({"jsonrpc":"2.0","result":7,"id":1})"}}, 1500ms,
                    [&dir] { dir.write("regtest/.cookie", kCookie); });
  const auto started = std::chrono::steady_clock::now();
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + server.port_text(), "-rpcwait",
                      "-rpcwaittimeout=10", "getblockcount"});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(r.err.empty());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "7\n");
  CHECK(elapsed >= 1400ms);
  CHECK(elapsed < 10s);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].authorization == kCookieAuth);
}

TEST_CASE("rpcwait: retries HTTP 503 and error -28 (warming up)", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie);
  TestServer server({
      {503, ""},
      {200, R"({"jsonrpc":"2.0","error":{"code":-28,"message":"Loading block index"},"id":1})"},
      {200, R"({"jsonrpc":"2.0","result":"ready","id":1})"},
  });
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + server.port_text(), "-rpcwait",
                      "-rpcwaittimeout=10", "uptime"});
  CHECK(r.err.empty());
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ready\n");
  CHECK(server.requests().size() == 3);
}

TEST_CASE("without -rpcwait, warming up is an ordinary error", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie);
  TestServer server({{200, R"({"jsonrpc":"2.0","error":{"code":-28,"message":"Loading block index"},"id":1})"}});
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + server.port_text(), "uptime"});
  CHECK(r.exit_code == 28);
  CHECK(r.err == "error code: -28\nerror message:\nLoading block index\n");
}

TEST_CASE("rpcwait: -rpcwaittimeout ends the wait with the last transient error", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie);
  const auto port = std::to_string(free_port());
  const auto started = std::chrono::steady_clock::now();
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + port, "-rpcwait",
                      "-rpcwaittimeout=1", "getblockcount"});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err == "error: timeout on transient error: Could not connect to the server 127.0.0.1:" + port +
                     " (cookie " + (dir.path / "regtest" / ".cookie").string() +
                     "): Connection refused. Make sure cheesed is running with the RPC port enabled.\n");
  CHECK(elapsed >= 900ms);
  CHECK(elapsed < 5s);
}

TEST_CASE("client timeout: -rpcclienttimeout bounds the wait for a reply", "[cli]") {
  TempDir dir;
  dir.write("regtest/.cookie", kCookie);
  TestServer server({{200, R"({"jsonrpc":"2.0","result":1,"id":1})", 2500ms}});
  const auto started = std::chrono::steady_clock::now();
  const auto r = run({"-datadir=" + dir.path.string(), "-regtest", "-rpcport=" + server.port_text(),
                      "-rpcclienttimeout=1", "getblockcount"});
  CHECK(std::chrono::steady_clock::now() - started < 2400ms);
  CHECK(r.exit_code == 1);
  CHECK(r.err == "error: no reply from 127.0.0.1:" + server.port_text() + " within 1 s (see -rpcclienttimeout)\n");
}
