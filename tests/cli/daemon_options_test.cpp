#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "cli.hpp"
#include "daemon/node/options.hpp"  // cheesed's option table (daemon/)

using namespace cheese;

TEST_CASE("cheese-cli accepts every cheesed option found in the shared cheese.conf", "[cli]") {
  std::set<std::string> known;
  for (const auto& spec : cli::cli_options()) known.insert(spec.name);
  for (const auto& spec : cli::daemon_config_options()) known.insert(spec.name);
  for (const auto& spec : node_option_specs()) {
    INFO("cheesed option -" << spec.name << " is unknown to cheese-cli: add it to daemon_config_options()");
    CHECK(known.count(spec.name) == 1);
  }
  // Repeatable in cheesed means repeatable here: a list given twice in cheese.conf must parse.
  for (const auto& spec : node_option_specs()) {
    if (spec.kind != OptionSpec::Kind::kList) continue;
    for (const auto& ours : cli::daemon_config_options()) {
      if (ours.name == spec.name) {
        INFO(spec.name);
        CHECK(ours.kind == OptionSpec::Kind::kList);
      }
    }
  }
}
