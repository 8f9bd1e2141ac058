// cheese-cli's argument conversion table (bitcoin-cli's vRPCConvertParams) and the request body.
// tests/cli/rpc_conversion_test.cpp checks the table against the server's parameter types.
#include <fmt/format.h>

#include <algorithm>

#include "cli_detail.hpp"

namespace cheese::cli {

namespace {

using detail::json_string;

constexpr ConvertedParam kConvertedParams[] = {
    {"getblockhash", 0, "height"},
    {"getblock", 1, "verbosity"},
    {"getblockheader", 1, "verbose"},
    {"getrawtransaction", 1, "verbose"},
    {"getrawmempool", 0, "verbose"},
    {"setban", 2, "bantime"},
    {"setban", 3, "absolute"},
    {"disconnectnode", 1, "nodeid"},
    {"generatetoaddress", 0, "nblocks"},
    {"generatetoaddress", 2, "maxtries"},
    {"mine", 0, "nblocks"},
    {"setgenerate", 0, "generate"},
    {"setgenerate", 1, "genproclimit"},
    {"listtransactions", 0, "count"},
    {"listtransactions", 1, "skip"},
    {"walletpassphrase", 1, "timeout"},
    {"createwallet", 2, "load_on_startup"},
    {"restorewallet", 3, "load_on_startup"},
    {"loadwallet", 1, "load_on_startup"},
    {"unloadwallet", 1, "load_on_startup"},
    {"rescanblockchain", 0, "start_height"},
};

const ConvertedParam* find_converted(std::string_view method, std::size_t index) {
  for (const auto& p : kConvertedParams) {
    if (p.method == method && p.index == index) return &p;
  }
  return nullptr;
}

const ConvertedParam* find_converted(std::string_view method, std::string_view name) {
  for (const auto& p : kConvertedParams) {
    if (p.method == method && p.name == name) return &p;
  }
  return nullptr;
}

std::string converted_json(std::string_view text, std::string_view method, std::string_view name) {
  if (!detail::is_valid_json(text)) {
    throw UsageError(fmt::format("Error parsing JSON for parameter {} of {}: {}", name, method, text));
  }
  return reformat_json(text, 0);
}

}  // namespace

std::span<const ConvertedParam> converted_params() { return kConvertedParams; }

RpcParams convert_params(std::string_view method, const std::vector<std::string>& args, bool named) {
  RpcParams result;
  result.named = named;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!named) {
      const ConvertedParam* converted = find_converted(method, i);
      result.items.emplace_back("", converted ? converted_json(arg, method, converted->name) : json_string(arg));
      continue;
    }
    const auto eq = arg.find('=');
    if (eq == std::string::npos) {
      throw UsageError(fmt::format("No '=' in named argument '{}': with -named every parameter is name=value", arg));
    }
    std::string name = arg.substr(0, eq);
    const std::string_view value = std::string_view(arg).substr(eq + 1);
    if (name.empty()) throw UsageError(fmt::format("Named argument '{}' has no name", arg));
    if (std::any_of(result.items.begin(), result.items.end(), [&](const auto& item) { return item.first == name; })) {
      throw UsageError(fmt::format("Parameter {} is given more than once", name));
    }
    const ConvertedParam* converted = find_converted(method, name);
    std::string value_json = converted ? converted_json(value, method, name) : json_string(value);
    result.items.emplace_back(std::move(name), std::move(value_json));
  }
  return result;
}

std::string request_body(std::string_view method, const RpcParams& params) {
  std::string body = R"({"jsonrpc":"2.0","id":1,"method":)" + json_string(method) + R"(,"params":)";
  body += params.named ? '{' : '[';
  for (std::size_t i = 0; i < params.items.size(); ++i) {
    if (i > 0) body += ',';
    if (params.named) body += json_string(params.items[i].first) + ':';
    body += params.items[i].second;
  }
  body += params.named ? "}}" : "]}";
  return body;
}

}  // namespace cheese::cli
