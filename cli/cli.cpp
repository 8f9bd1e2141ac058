// cheese-cli: options, configuration, credentials and what a reply means. The conversion table
// is in convert.cpp, JSON text in json_text.cpp, the HTTP POST in http_post.cpp.
#include "cli.hpp"

#include <fmt/format.h>
#include <boost/beast/http/status.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli_detail.hpp"

#ifndef CHEESE_VERSION
#define CHEESE_VERSION "unknown"
#endif

namespace cheese::cli {

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using detail::ConnectError;
using detail::is_space;
using detail::json_options;
using detail::TransportError;

constexpr auto kRetryInterval = std::chrono::seconds(1);

std::string one_line_excerpt(std::string_view body) {
  body = body.substr(0, body.find('\n'));
  while (!body.empty() && is_space(body.back())) body.remove_suffix(1);
  if (body.size() > 200) return std::string(body.substr(0, 200)) + "...";
  return std::string(body);
}

std::string url_encode(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

struct Request {
  Endpoint endpoint;
  std::string target;
  std::string body;
  std::chrono::seconds timeout{0};
  std::optional<std::string> user_pass;  //!< from -rpcuser/-rpcpassword; else the cookie
  std::filesystem::path cookie;
};

std::optional<std::string> read_cookie(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string content;
  std::getline(in, content);
  while (!content.empty() && is_space(content.back())) content.pop_back();
  if (content.empty()) return std::nullopt;
  return content;
}

Outcome failure(std::string message, bool transient) {
  Outcome o;
  o.exit_code = 1;
  o.err = "error: " + message + "\n";
  o.transient = transient;
  o.reason = std::move(message);
  return o;
}

Outcome call_once(const Request& r) {
  std::string user_pass;
  std::string credentials;
  if (r.user_pass) {
    user_pass = *r.user_pass;
    credentials = "-rpcuser/-rpcpassword";
  } else if (auto cookie = read_cookie(r.cookie)) {
    user_pass = std::move(*cookie);
    credentials = "cookie " + r.cookie.string();
  } else {
    // Transient: cheesed writes the cookie when it starts, so -rpcwait waits for it too.
    return failure(
        fmt::format("No credentials: could not read cookie file {} and no -rpcpassword was given", r.cookie.string()),
        true);
  }
  try {
    const detail::HttpReply reply = detail::http_post(r.endpoint, r.target, user_pass, r.body, r.timeout);
    return interpret_reply(reply.status, reply.body);
  } catch (const ConnectError& e) {
    return failure(fmt::format("Could not connect to the server {} ({}): {}. Make sure cheesed is running with the "
                               "RPC port enabled.",
                               r.endpoint.display(), credentials, e.what()),
                   true);
  } catch (const TransportError& e) {
    return failure(e.what(), false);
  }
}

//! "host", "host:port", "[v6]:port" or a bare IPv6 address; the port when one is given.
std::pair<std::string, std::optional<std::int64_t>> split_host_port(std::string_view s) {
  const auto parse_port = [&](std::string_view p) {
    std::int64_t port = 0;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size()) {
      throw UsageError(fmt::format("invalid -rpcconnect={}: expected <host> or <host>:<port>", s));
    }
    return port;
  };
  if (s.starts_with('[')) {
    const auto close = s.find(']');
    if (close == std::string_view::npos) throw UsageError(fmt::format("invalid -rpcconnect={}: missing ']'", s));
    const std::string host(s.substr(1, close - 1));
    const std::string_view rest = s.substr(close + 1);
    if (rest.empty()) return {host, std::nullopt};
    if (rest.front() != ':') throw UsageError(fmt::format("invalid -rpcconnect={}", s));
    return {host, parse_port(rest.substr(1))};
  }
  const auto colon = s.find(':');
  if (colon == std::string_view::npos || s.find(':', colon + 1) != std::string_view::npos) {
    return {std::string(s), std::nullopt};
  }
  return {std::string(s.substr(0, colon)), parse_port(s.substr(colon + 1))};
}

std::chrono::seconds seconds_option(const Args& args, std::string_view name, std::int64_t fallback) {
  const std::int64_t n = args.get_int(name, fallback);
  if (n < 0) throw UsageError(fmt::format("invalid -{}={}: seconds must be 0 or more", name, n));
  return std::chrono::seconds(n);
}

//! `cheese-cli webui` prints only the address (the RPC answers {"url": ...}), ready to open.
std::string webui_url_output(const std::string& formatted) {
  boost::system::error_code ec;
  const json::value v = json::parse(formatted, ec);
  const json::object* o = ec ? nullptr : v.if_object();
  const json::value* url = o ? o->if_contains("url") : nullptr;
  if (url == nullptr || !url->is_string()) return formatted;
  return std::string(url->get_string()) + "\n";
}

std::string usage_text() {
  std::vector<OptionSpec> shown;
  for (auto& spec : cli_options()) {
    if (spec.name != "h" && spec.name != "help") shown.push_back(std::move(spec));
  }
  return fmt::format(
      "cheese-cli version v{}: the JSON-RPC client of cheesed\n"
      "\n"
      "Usage:  cheese-cli [options] <command> [params]               Send a command to cheesed\n"
      "or:     cheese-cli [options] -named <command> [name=value]...  The same, with named parameters\n"
      "or:     cheese-cli [options] help                              List commands\n"
      "or:     cheese-cli [options] help <command>                    Get help for a command\n"
      "\n"
      "Friendly commands:\n"
      "  cheese-cli mine [n] [address]             Mine n blocks (regtest: instantly)\n"
      "  cheese-cli send <address> <amount> [fee]  Send CHZ; amounts are decimal CHZ, e.g. 0.5\n"
      "  cheese-cli webui                          Print the address of the web UI with its login token\n"
      "\n"
      "Options (cheese-cli also reads cheese.conf, and ignores the options there that only cheesed uses):\n"
      "\n"
      "{}",
      CHEESE_VERSION, Args(std::move(shown)).help_text());
}

int run(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err) {
  std::vector<OptionSpec> specs = cli_options();
  for (auto& spec : daemon_config_options()) specs.push_back(std::move(spec));
  Args args(std::move(specs));
  if (auto e = args.parse_command_line(argc, argv)) throw UsageError(*e);
  if (args.get_bool("help") || args.get_bool("?") || args.get_bool("h")) {
    out << usage_text();
    return 0;
  }
  if (args.get_bool("version")) {
    out << "cheese-cli version v" CHEESE_VERSION "\n";
    return 0;
  }

  if (args.is_set("datadir") && !std::filesystem::is_directory(args.get_string("datadir"))) {
    throw UsageError(fmt::format("Specified data directory \"{}\" does not exist.", args.get_string("datadir")));
  }
  const std::filesystem::path first_datadir = args.get_string("datadir", default_data_dir().string());
  std::filesystem::path conf = args.get_string("conf", "cheese.conf");
  if (conf.is_relative()) conf = first_datadir / conf;
  if (auto e = args.read_config_file(conf, args.is_set("conf"))) throw UsageError(*e);

  std::string network_name;
  if (auto e = args.select_network(network_name)) throw UsageError(*e);
  args.use_network(network_name);
  const auto network = parse_network(network_name);
  if (!network) throw UsageError(fmt::format("unknown network {}", network_name));
  // The config file may name the data directory too (for everything but finding itself).
  const std::filesystem::path datadir = args.get_string("datadir", first_datadir.string());

  std::vector<std::string> positional = args.positional();
  if (args.get_bool("stdin")) {
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      positional.push_back(line);
    }
  }
  if (positional.empty()) throw UsageError("too few parameters (need at least a command); see cheese-cli -help");
  const std::string& method = positional.front();
  const std::vector<std::string> method_args(positional.begin() + 1, positional.end());

  Request request;
  request.body = request_body(method, convert_params(method, method_args, args.get_bool("named")));
  request.endpoint = rpc_endpoint(args, *network);
  request.target = args.is_set("rpcwallet") ? "/wallet/" + url_encode(args.get_string("rpcwallet")) : "/";
  request.timeout = seconds_option(args, "rpcclienttimeout", 900);
  if (args.is_set("rpcpassword")) {
    request.user_pass = args.get_string("rpcuser") + ":" + args.get_string("rpcpassword");
  }
  request.cookie = cookie_path(datadir, *network);

  const bool wait = args.get_bool("rpcwait");
  const auto wait_timeout = seconds_option(args, "rpcwaittimeout", 0);
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    Outcome outcome = call_once(request);
    if (wait && outcome.transient) {
      const auto waited = std::chrono::steady_clock::now() - started;
      if (wait_timeout.count() > 0 && waited >= wait_timeout) {
        err << "error: timeout on transient error: " << outcome.reason << "\n";
        return 1;
      }
      auto pause = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kRetryInterval);
      if (wait_timeout.count() > 0) pause = std::min(pause, wait_timeout - waited);
      std::this_thread::sleep_for(pause);
      continue;
    }
    if (method == "webui" && outcome.exit_code == 0) outcome.out = webui_url_output(outcome.out);
    out << outcome.out;
    err << outcome.err;
    return outcome.exit_code;
  }
}

}  // namespace

int exit_code_for(std::int64_t rpc_error_code) {
  if (rpc_error_code < -127 || rpc_error_code > 127) return 127;
  if (rpc_error_code == 0) return 1;
  return static_cast<int>(rpc_error_code < 0 ? -rpc_error_code : rpc_error_code);
}

Outcome interpret_reply(unsigned http_status, std::string_view body) {
  if (http_status == 401) return failure("Authorization failed: Incorrect rpcuser or rpcpassword", false);
  Outcome o;
  boost::system::error_code ec;
  const json::value reply = json::parse(body, ec, {}, json_options());
  const json::object* object = ec ? nullptr : reply.if_object();
  if (object != nullptr && (object->contains("error") || object->contains("result"))) {
    const json::value* error = object->if_contains("error");
    if (error != nullptr && !error->is_null()) {
      const json::object* fields = error->if_object();
      const json::value* code = fields ? fields->if_contains("code") : nullptr;
      const json::value* message = fields ? fields->if_contains("message") : nullptr;
      if (code == nullptr || !code->is_int64() || message == nullptr || !message->is_string()) {
        return failure(json::serialize(*error), http_status == 503);
      }
      const std::int64_t c = code->get_int64();
      const std::string_view m = message->get_string();
      o.exit_code = exit_code_for(c);
      o.err = fmt::format("error code: {}\nerror message:\n{}\n", c, m);
      o.transient = c == -28 || http_status == 503;  // -28: the server is warming up
      o.reason = fmt::format("error code {}: {}", c, m);
      return o;
    }
    if (auto raw = detail::raw_member(body, "result")) o.out = format_result(*raw);
    return o;
  }
  if (http_status == 200) {
    return failure(fmt::format("the server's reply is not a JSON-RPC reply: {}", one_line_excerpt(body)), false);
  }
  const auto status = http::int_to_status(http_status);
  std::string message = status == http::status::unknown ? fmt::format("server returned HTTP error {}", http_status)
                                                        : fmt::format("server returned HTTP error {} {}", http_status,
                                                                      http::obsolete_reason(status));
  if (auto excerpt = one_line_excerpt(body); !excerpt.empty()) message += ": " + excerpt;
  return failure(std::move(message), http_status == 503);
}

std::string Endpoint::display() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Endpoint rpc_endpoint(const Args& args, Network network) {
  auto [host, port_in_host] = split_host_port(args.get_string("rpcconnect", "127.0.0.1"));
  if (host.empty()) throw UsageError("invalid -rpcconnect: no host");
  std::int64_t port = port_in_host.value_or(chain_params(network).default_rpc_port);
  if (args.is_set("rpcport")) port = args.get_int("rpcport", port);
  if (port < 1 || port > 65535) throw UsageError(fmt::format("invalid RPC port {}: a port is 1..65535", port));
  return {std::move(host), static_cast<std::uint16_t>(port)};
}

std::filesystem::path cookie_path(const std::filesystem::path& datadir, Network network) {
  const std::string& subdir = chain_params(network).data_subdir;
  return subdir.empty() ? datadir / ".cookie" : datadir / subdir / ".cookie";
}

std::vector<OptionSpec> cli_options() {
  using Kind = OptionSpec::Kind;
  return {
      {"?", Kind::kFlag, "", "Print this help message and exit (also -h, -help)"},
      {"h", Kind::kFlag, "", "Print this help message and exit"},
      {"help", Kind::kFlag, "", "Print this help message and exit"},
      {"version", Kind::kFlag, "", "Print the version and exit"},
      {"datadir", Kind::kString, "dir", "Data directory (default: ~/.cheesechain)"},
      {"conf", Kind::kString, "file",
       "Configuration file; a relative path is read from the data directory (default: cheese.conf)"},
      {"chain", Kind::kString, "name", "Use the network <name>: main, test or regtest (default: main)"},
      {"regtest", Kind::kFlag, "", "Use the regression test network (-chain=regtest)"},
      {"testnet", Kind::kFlag, "", "Use the test network (-chain=test)"},
      {"rpcconnect", Kind::kString, "host",
       "Send commands to the node at <host>, or <host>:<port> (default: 127.0.0.1)"},
      {"rpcport", Kind::kInt, "port", "Connect to JSON-RPC on <port> (default: 8432, test: 18432, regtest: 28432)"},
      {"rpcuser", Kind::kString, "user", "Username for JSON-RPC connections"},
      {"rpcpassword", Kind::kString, "pw",
       "Password for JSON-RPC connections (default: the cookie file <datadir>/[testnet/|regtest/].cookie)"},
      {"rpcwait", Kind::kFlag, "", "Wait for the RPC server to start"},
      {"rpcwaittimeout", Kind::kInt, "n",
       "Seconds to wait for the RPC server to start, or 0 for no limit (default: 0)"},
      {"rpcclienttimeout", Kind::kInt, "n", "Seconds to wait for a reply, or 0 for no limit (default: 900)"},
      {"rpcwallet", Kind::kString, "name", "Send wallet RPCs to the wallet <name> (POST /wallet/<name>)"},
      {"named", Kind::kFlag, "", "Pass named instead of positional parameters: name=value"},
      {"stdin", Kind::kFlag, "", "Read extra parameters from standard input, one per line until EOF"},
  };
}

std::vector<OptionSpec> daemon_config_options() {
  // Values are cheesed's to check, so cheese-cli takes any (kString); repeatable ones are lists.
  // tests/cli/daemon_options_test.cpp checks this against cheesed's own table.
  constexpr std::string_view kSingle[] = {
      "blocksonly",
      "blockstalltimeout",
      "daemon",
      "discover",
      "dnsseed",
      "feelerinterval",
      "extrablockrelayinterval",
      "feelers",
      "fixedseeds",
      "genthreads",
      "handshaketimeout",
      "listen",
      "logtimestamps",
      "maxconnections",
      "maxmempool",
      "mempoolexpiry",
      "minimumchainwork",
      "outboundfullrelay",
      "peertimeout",
      "pid",
      "port",
      "printtoconsole",
      "reindex",
      "reindex-chainstate",
      "rpcservertimeout",
      "rpcthreads",
      "rpcwhitelistdefault",
      "txindex",
      "upnp",
  };
  constexpr std::string_view kRepeatable[] = {"addnode",      "bind",          "connect", "debug",      "dnsseedhost",
                                              "externalip",   "fixedseedaddr", "onlynet", "rpcallowip", "rpcbind",
                                              "rpcwhitelist", "seednode",      "tracker", "wallet"};
  std::vector<OptionSpec> specs;
  for (const auto name : kSingle) {
    specs.push_back({std::string(name), OptionSpec::Kind::kString, "", "(cheesed option, ignored by cheese-cli)"});
  }
  for (const auto name : kRepeatable) {
    specs.push_back({std::string(name), OptionSpec::Kind::kList, "", "(cheesed option, ignored by cheese-cli)"});
  }
  return specs;
}

int run_cli(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err) {
  try {
    return run(argc, argv, in, out, err);
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace cheese::cli
