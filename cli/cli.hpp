#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consensus/params.hpp"
#include "util/args.hpp"

// cheese-cli: a thin JSON-RPC client in the conventions of bitcoin-cli. Everything here is a
// pure function of its inputs except run_cli, which also reads files and makes one HTTP POST.
namespace cheese::cli {

//! A mistake in what the user typed; run_cli prints "error: <what>" and exits 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

//! One parameter that is sent as JSON rather than as a string (bitcoin-cli's vRPCConvertParams).
struct ConvertedParam {
  std::string_view method;
  std::size_t index;      //!< position among the positional params
  std::string_view name;  //!< name for -named
};

//! The conversion table. Every parameter not listed (addresses, hashes, amounts, ...) is sent as
//! a JSON string holding exactly what was typed; the server parses amounts exactly from strings.
std::span<const ConvertedParam> converted_params();

//! The params of one request, each as JSON text: positional, or by name with -named.
struct RpcParams {
  bool named = false;
  std::vector<std::pair<std::string, std::string>> items;  //!< (name or "", JSON text)
};

//! Applies the conversion table to the command-line params of `method`. With `named`, each
//! argument is `name=value`. Throws UsageError on an argument without '=' (named), a repeated
//! name, or invalid JSON for a converted param.
RpcParams convert_params(std::string_view method, const std::vector<std::string>& args, bool named);

//! {"jsonrpc":"2.0","id":1,"method":...,"params":[...] or {...}}
std::string request_body(std::string_view method, const RpcParams& params);

//! Valid JSON text re-indented by `indent` spaces per level, or compacted when `indent` is 0.
//! Strings and numbers are kept byte for byte (so amounts like 50.00000000 stay as sent).
std::string reformat_json(std::string_view json, int indent);

//! What is printed on stdout for a result given as JSON text: a string raw, null (and "")
//! nothing, anything else JSON indented by 2; followed by a newline when not empty.
std::string format_result(std::string_view result_json);

//! What a finished call prints, and its exit code.
struct Outcome {
  int exit_code = 0;
  std::string out;         //!< for stdout
  std::string err;         //!< for stderr
  bool transient = false;  //!< the server is not (yet) there: -rpcwait retries
  std::string reason;      //!< one line, for "timeout on transient error: <reason>"
};

//! Exit code for a JSON-RPC error code: |code| clamped to 1..127.
int exit_code_for(std::int64_t rpc_error_code);

//! Interprets the server's HTTP reply: result, JSON-RPC error (also inside HTTP 4xx/5xx, as
//! legacy 1.0 replies come), 401, other HTTP errors. HTTP 503 and RPC error -28 (warming up) are
//! transient.
Outcome interpret_reply(unsigned http_status, std::string_view body);

//! Where requests go.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  //! "host:port", or "[host]:port" for an IPv6 address.
  std::string display() const;
};

//! -rpcconnect (<host> or <host>:<port>, default 127.0.0.1) and -rpcport, which wins over a port
//! in -rpcconnect; otherwise the network's default RPC port. Throws UsageError.
Endpoint rpc_endpoint(const Args& args, Network network);

//! <datadir>/<network subdir>/.cookie, the file cheesed writes its RPC credentials to.
std::filesystem::path cookie_path(const std::filesystem::path& datadir, Network network);

//! The options of cheese-cli itself (what -help lists).
std::vector<OptionSpec> cli_options();
//! cheesed's options, accepted in the shared cheese.conf and ignored by cheese-cli.
std::vector<OptionSpec> daemon_config_options();

//! The whole program: `cheese-cli [options] <method> [params...]`. Returns the exit code.
int run_cli(int argc, const char* const* argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace cheese::cli
