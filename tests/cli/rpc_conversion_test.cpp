// cheese-cli's argument conversion table (cli/convert.cpp) against the parameter types of the
// server's RPC table, as Bitcoin Core's rpc_tests check vRPCConvertParams against the RPC
// commands: a number, boolean or object typed on the command line must reach cheesed as JSON,
// and a string must stay a string however it looks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "cli.hpp"
#include "daemon/in_process_node.hpp"
#include "daemon/rpc/server.hpp"

using namespace cheese;

namespace {

//! Non-string parameters that cheese-cli deliberately sends as the typed text: (method, name).
//! Empty today; an entry needs a comment saying why the server accepts the text.
const std::set<std::pair<std::string, std::string>> kSentAsText = {};

enum class Cli { kConvert, kText, kEither };

//! How cheese-cli must send a parameter of this type.
Cli expected(RpcType t) {
  switch (t) {
    case RpcType::kInt:
    case RpcType::kBool:
    case RpcType::kObject: return Cli::kConvert;
    // Amounts travel as the typed text: the server parses a string exactly, a JSON number could
    // only be re-printed by the CLI (cli.hpp, converted_params).
    case RpcType::kAmount:
    case RpcType::kString:
    case RpcType::kHash: return Cli::kText;
    case RpcType::kAny: return Cli::kEither;
  }
  return Cli::kEither;
}

bool converted(std::string_view method, std::size_t index, std::string_view name) {
  const auto table = cli::converted_params();
  return std::any_of(table.begin(), table.end(), [&](const cli::ConvertedParam& c) {
    return c.method == method && c.index == index && c.name == name;
  });
}

}  // namespace

TEST_CASE("every parameter cheese-cli converts is a non-string parameter of the server", "[cli][rpc]") {
  test::InProcessNode n;
  const RpcTable& table = n.ctx().rpc;
  for (const auto& c : cli::converted_params()) {
    INFO("cheese-cli converts " << c.method << " #" << c.index << " (" << c.name << ")");
    const RpcMethod* m = table.find(c.method);
    CHECK(m != nullptr);
    if (m == nullptr) continue;
    CHECK(c.index < m->params.size());
    if (c.index >= m->params.size()) continue;
    const RpcParam& p = m->params[c.index];
    CHECK(p.name == c.name);
    CHECK(expected(p.type) != Cli::kText);
  }
}

TEST_CASE("cheese-cli converts every non-string parameter of the server", "[cli][rpc]") {
  test::InProcessNode n;
  const RpcTable& table = n.ctx().rpc;
  std::size_t checked = 0;
  for (const RpcMethod* m : table.sorted()) {
    for (std::size_t i = 0; i < m->params.size(); ++i) {
      const RpcParam& p = m->params[i];
      if (expected(p.type) == Cli::kText) continue;
      if (kSentAsText.count({m->name, p.name}) == 1) continue;
      INFO(m->name << " #" << i << " (" << p.name
                   << ") is not a string: add it to kConvertedParams in cli/convert.cpp");
      CHECK(converted(m->name, i, p.name));
      ++checked;
    }
  }
  CHECK(checked >= cli::converted_params().size());
  // An exception for a parameter that no longer exists (or became a string) is stale.
  for (const auto& [method, name] : kSentAsText) {
    INFO(method << " " << name);
    const RpcMethod* m = table.find(method);
    REQUIRE(m != nullptr);
    CHECK(std::any_of(m->params.begin(), m->params.end(),
                      [&](const RpcParam& p) { return p.name == name && expected(p.type) != Cli::kText; }));
  }
}
