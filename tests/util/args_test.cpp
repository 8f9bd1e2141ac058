#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "util/args.hpp"

using namespace cheese;
using Kind = OptionSpec::Kind;

namespace {

std::vector<OptionSpec> test_specs() {
  return {
      {"datadir", Kind::kString, "dir", "Data directory"},
      {"pid", Kind::kString, "file", "PID file"},
      {"rpcport", Kind::kInt, "port", "RPC port"},
      {"maxconnections", Kind::kInt, "n", "Maximum peers"},
      {"listen", Kind::kFlag, "1", "Accept inbound connections"},
      {"daemon", Kind::kFlag, "", "Run in the background"},
      {"regtest", Kind::kFlag, "", "Use the regression test network"},
      {"testnet", Kind::kFlag, "", "Use the test network"},
      {"chain", Kind::kString, "name", "Network: main, test or regtest"},
      {"addnode", Kind::kList, "ip", "Add a node to connect to (repeatable)"},
      {"tracker", Kind::kList, "host:port", "Tracker (repeatable)"},
      {"named", Kind::kFlag, "", "Named parameters"},
  };
}

//! Parses a command line (the program name is added in front); REQUIREs success.
Args parsed(std::initializer_list<const char*> argv) {
  Args args(test_specs());
  std::vector<const char*> full{"cheese-test"};
  full.insert(full.end(), argv.begin(), argv.end());
  const auto err = args.parse_command_line(static_cast<int>(full.size()), full.data());
  INFO(err.value_or(""));
  REQUIRE_FALSE(err.has_value());
  return args;
}

//! The error a command line produces ("" when it parses).
std::string command_line_error(std::initializer_list<const char*> argv) {
  Args args(test_specs());
  std::vector<const char*> full{"cheese-test"};
  full.insert(full.end(), argv.begin(), argv.end());
  return args.parse_command_line(static_cast<int>(full.size()), full.data()).value_or("");
}

std::string config_error(std::string_view text) {
  Args args(test_specs());
  return args.parse_config(text, "test.conf").value_or("");
}

std::string network_of(Args& args) {
  std::string network;
  const auto err = args.select_network(network);
  if (err) return "error: " + *err;
  return network;
}

//! A fresh directory under the system temp folder, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("cheese-args-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace

TEST_CASE("options are set by -name=value and --name=value", "[util][args]") {
  auto args = parsed({"-datadir=/tmp/a", "--rpcport=28432", "--pid=p.pid"});
  CHECK(args.is_set("datadir"));
  CHECK(args.get_string("datadir") == "/tmp/a");
  CHECK(args.get_int("rpcport", 0) == 28432);
  CHECK(args.get_string("pid") == "p.pid");
  CHECK(args.positional().empty());
}

TEST_CASE("a value may contain '=' and may be empty", "[util][args]") {
  auto args = parsed({"-datadir=a=b", "-pid="});
  CHECK(args.get_string("datadir") == "a=b");
  CHECK(args.is_set("pid"));
  CHECK(args.get_string("pid", "fallback").empty());
}

TEST_CASE("unset options answer their fallbacks", "[util][args]") {
  auto args = parsed({});
  CHECK_FALSE(args.is_set("datadir"));
  CHECK(args.get_string("datadir", "/default") == "/default");
  CHECK(args.get_string("datadir").empty());
  CHECK(args.get_int("rpcport", 8432) == 8432);
  CHECK(args.get_bool("listen", true));
  CHECK_FALSE(args.get_bool("listen", false));
  CHECK(args.get_list("addnode").empty());
}

TEST_CASE("the last of repeated single-value options wins", "[util][args]") {
  auto args = parsed({"-rpcport=1", "-rpcport=2", "-datadir=x", "--datadir=y"});
  CHECK(args.get_int("rpcport", 0) == 2);
  CHECK(args.get_string("datadir") == "y");
}

TEST_CASE("flags: -flag, -flag=<bool>, -noflag and -noflag=0", "[util][args]") {
  CHECK(parsed({"-daemon"}).get_bool("daemon"));
  CHECK(parsed({"--daemon"}).get_bool("daemon"));
  CHECK(parsed({"-daemon="}).get_bool("daemon"));
  for (const char* on : {"-daemon=1", "-daemon=true", "-daemon=yes"}) {
    INFO(on);
    CHECK(parsed({on}).get_bool("daemon", false));
  }
  for (const char* off : {"-daemon=0", "-daemon=false", "-daemon=no"}) {
    INFO(off);
    auto args = parsed({off});
    CHECK(args.is_set("daemon"));
    CHECK_FALSE(args.get_bool("daemon", true));
  }
  CHECK_FALSE(parsed({"-nolisten"}).get_bool("listen", true));
  CHECK_FALSE(parsed({"--nolisten"}).get_bool("listen", true));
  CHECK_FALSE(parsed({"-nolisten=1"}).get_bool("listen", true));
  CHECK(parsed({"-nolisten=0"}).get_bool("listen", false));  // bitcoind's double negative
  CHECK(parsed({"-nolisten", "-listen"}).get_bool("listen", false));
  CHECK_FALSE(parsed({"-listen", "-nolisten"}).get_bool("listen", true));
}

TEST_CASE("a flag with a bad value is an error naming the option and the value", "[util][args]") {
  CHECK(command_line_error({"-daemon=maybe"}) ==
        "invalid value for -daemon: 'maybe' (expected 0 or 1) (command line)");
  CHECK(command_line_error({"-daemon=2"}) == "invalid value for -daemon: '2' (expected 0 or 1) (command line)");
  CHECK(command_line_error({"-nolisten=perhaps"}) ==
        "invalid value for -nolisten: 'perhaps' (expected 0 or 1) (command line)");
}

TEST_CASE("integer options reject what is not an integer", "[util][args]") {
  CHECK(parsed({"-rpcport=-5"}).get_int("rpcport", 0) == -5);
  CHECK(command_line_error({"-rpcport=abc"}) ==
        "invalid value for -rpcport: 'abc' (expected an integer) (command line)");
  CHECK(command_line_error({"-rpcport=12x"}) ==
        "invalid value for -rpcport: '12x' (expected an integer) (command line)");
  CHECK(command_line_error({"-rpcport=1.5"}) ==
        "invalid value for -rpcport: '1.5' (expected an integer) (command line)");
  CHECK(command_line_error({"-rpcport="}) == "invalid value for -rpcport: '' (expected an integer) (command line)");
  CHECK(command_line_error({"-rpcport"}) == "invalid value for -rpcport: '' (expected an integer) (command line)");
  CHECK(command_line_error({"-rpcport=99999999999999999999"}) ==
        "invalid value for -rpcport: '99999999999999999999' (expected an integer) (command line)");
  CHECK(parsed({"-nomaxconnections"}).get_int("maxconnections", 125) == 0);
}

TEST_CASE("a string option without a value is an error", "[util][args]") {
  CHECK(command_line_error({"-datadir"}) == "-datadir needs a value: -datadir=<value> (command line)");
  CHECK(command_line_error({"--pid"}) == "-pid needs a value: -pid=<value> (command line)");
}

TEST_CASE("negating a string option (-nopid) leaves it empty, not 0", "[util][args]") {
  auto args = parsed({"-pid=cheesed.pid", "-nopid"});
  CHECK(args.is_set("pid"));
  CHECK(args.get_string("pid", "fallback").empty());
  CHECK(command_line_error({"-nopid=0"}) == "-nopid=0 is meaningless; write -pid=<value> (command line)");
}

TEST_CASE("list options repeat and -nolist clears them", "[util][args]") {
  auto args = parsed({"-addnode=1.2.3.4", "-addnode=5.6.7.8:28433", "--addnode=host"});
  CHECK(args.get_list("addnode") == std::vector<std::string>{"1.2.3.4", "5.6.7.8:28433", "host"});
  CHECK(args.get_string("addnode") == "host");

  auto cleared = parsed({"-addnode=1.2.3.4", "-noaddnode"});
  CHECK(cleared.get_list("addnode").empty());
  CHECK(cleared.is_set("addnode"));  // set, to nothing: it hides what a config file lists

  auto restarted = parsed({"-addnode=a", "-noaddnode", "-addnode=b"});
  CHECK(restarted.get_list("addnode") == std::vector<std::string>{"b"});

  CHECK(command_line_error({"-addnode"}) == "-addnode needs a value: -addnode=<value> (command line)");
  CHECK(command_line_error({"-addnode="}) == "-addnode needs a value: -addnode=<value> (command line)");
  CHECK(command_line_error({"-noaddnode=0"}) == "-noaddnode=0 is meaningless; write -addnode=<value> (command line)");
}

TEST_CASE("unknown options are errors that name the option", "[util][args]") {
  CHECK(command_line_error({"-bogus"}) == "unknown option -bogus (command line)");
  CHECK(command_line_error({"--bogus=1"}) == "unknown option -bogus (command line)");
  CHECK(command_line_error({"-nobogus"}) == "unknown option -nobogus (command line)");
  CHECK(command_line_error({"-Datadir=x"}) == "unknown option -Datadir (command line)");
  CHECK(command_line_error({"-regtest", "-rpcport=1", "-whatever"}) == "unknown option -whatever (command line)");
}

TEST_CASE("the first positional argument stops option parsing", "[util][args]") {
  auto args = parsed({"-regtest", "getblock", "abc", "-named"});
  CHECK(args.get_bool("regtest"));
  CHECK_FALSE(args.is_set("named"));
  CHECK(args.positional() == std::vector<std::string>{"getblock", "abc", "-named"});

  // Negative numbers and unknown-looking words after the method are parameters.
  auto numbers = parsed({"-datadir=d", "getblockhash", "-1", "-bogus=2"});
  CHECK(numbers.positional() == std::vector<std::string>{"getblockhash", "-1", "-bogus=2"});

  // A lone "-" is positional (the conventional name of stdin).
  CHECK(parsed({"-", "-daemon"}).positional() == std::vector<std::string>{"-", "-daemon"});
  CHECK_FALSE(parsed({"-", "-daemon"}).is_set("daemon"));
}

TEST_CASE("config text: comments, blank lines, spaces and dashes are allowed", "[util][args]") {
  Args args(test_specs());
  const auto err = args.parse_config(
      "# a comment line\n"
      "\n"
      "   \t\n"
      "datadir = /srv/cheese   # trailing comment\n"
      "-rpcport=123\r\n"
      "addnode=1.1.1.1\n"
      "  addnode =2.2.2.2\n"
      "listen=0\n"
      "daemon=\n",
      "test.conf");
  REQUIRE_FALSE(err.has_value());
  CHECK(args.get_string("datadir") == "/srv/cheese");
  CHECK(args.get_int("rpcport", 0) == 123);
  CHECK(args.get_list("addnode") == std::vector<std::string>{"1.1.1.1", "2.2.2.2"});
  CHECK_FALSE(args.get_bool("listen", true));
  CHECK(args.get_bool("daemon", false));  // "daemon=" means on, as -daemon does
  CHECK(args.positional().empty());
}

TEST_CASE("config: a network section overrides the top of the file for that network only", "[util][args]") {
  constexpr std::string_view text =
      "rpcport=8432\n"
      "addnode=top\n"
      "pid=top.pid\n"
      "[regtest]\n"
      "rpcport=28432\n"
      "addnode=reg1\n"
      "addnode=reg2\n"
      "[test]\n"
      "rpcport=18432\n"
      "[main]\n"
      "maxconnections=8\n";

  Args no_network(test_specs());
  REQUIRE_FALSE(no_network.parse_config(text, "test.conf").has_value());
  CHECK(no_network.get_int("rpcport", 0) == 8432);
  CHECK_FALSE(no_network.is_set("maxconnections"));

  Args regtest(test_specs());
  REQUIRE_FALSE(regtest.parse_config(text, "test.conf").has_value());
  regtest.use_network("regtest");
  CHECK(regtest.get_int("rpcport", 0) == 28432);
  CHECK(regtest.get_list("addnode") == std::vector<std::string>{"reg1", "reg2"});
  CHECK(regtest.get_string("pid") == "top.pid");  // not in the section: the top of the file
  CHECK_FALSE(regtest.is_set("maxconnections"));

  Args test(test_specs());
  REQUIRE_FALSE(test.parse_config(text, "test.conf").has_value());
  test.use_network("test");
  CHECK(test.get_int("rpcport", 0) == 18432);
  CHECK(test.get_list("addnode") == std::vector<std::string>{"top"});

  Args main(test_specs());
  REQUIRE_FALSE(main.parse_config(text, "test.conf").has_value());
  main.use_network("main");
  CHECK(main.get_int("rpcport", 0) == 8432);
  CHECK(main.get_int("maxconnections", 0) == 8);
}

TEST_CASE("config: negations are written nofoo=1", "[util][args]") {
  Args args(test_specs());
  REQUIRE_FALSE(args.parse_config("addnode=a\nlisten=1\npid=x\n"
                                  "[regtest]\nnoaddnode=1\nnolisten=1\nnopid=\n",
                                  "test.conf")
                    .has_value());
  args.use_network("regtest");
  CHECK(args.get_list("addnode").empty());
  CHECK_FALSE(args.get_bool("listen", true));
  CHECK(args.get_string("pid", "fallback").empty());

  Args flag_on(test_specs());
  REQUIRE_FALSE(flag_on.parse_config("nolisten=0\n", "test.conf").has_value());
  CHECK(flag_on.get_bool("listen", false));
}

TEST_CASE("the command line overrides the config file", "[util][args]") {
  auto args = parsed({"-rpcport=1", "-addnode=cmd", "-nolisten", "-notracker"});
  REQUIRE_FALSE(args.parse_config("rpcport=2\naddnode=cfg\nlisten=1\ntracker=t:9999\ndatadir=/cfg\n"
                                  "[regtest]\nrpcport=3\n",
                                  "test.conf")
                    .has_value());
  args.use_network("regtest");
  CHECK(args.get_int("rpcport", 0) == 1);
  CHECK(args.get_list("addnode") == std::vector<std::string>{"cmd"});
  CHECK_FALSE(args.get_bool("listen", true));
  CHECK(args.get_list("tracker").empty());
  CHECK(args.get_string("datadir") == "/cfg");  // the file still fills in what the command line left out
}

TEST_CASE("config errors name the file and the line", "[util][args]") {
  CHECK(config_error("rpcport=1\n\n[regtest]\n[foo]\n") ==
        "unknown section [foo] (test.conf line 4); use [main], [test] or [regtest]");
  CHECK(config_error("[testnet]\n") ==
        "unknown section [testnet] (test.conf line 1); use [main], [test] or [regtest]");
  CHECK(config_error("# header\nrpcport=1\n\n  garbage  \n") ==
        "expected name=value, got 'garbage' (test.conf line 4)");
  CHECK(config_error("[regtest\n") == "malformed section header '[regtest' (test.conf line 1)");
  CHECK(config_error("listen=1\nbogus=1\n") == "unknown option -bogus (test.conf line 2)");
  CHECK(config_error("\n\n\nrpcport=eight\n") ==
        "invalid value for -rpcport: 'eight' (expected an integer) (test.conf line 4)");
  CHECK(config_error("listen=sometimes") ==
        "invalid value for -listen: 'sometimes' (expected 0 or 1) (test.conf line 1)");
  CHECK(config_error("addnode=\n") == "-addnode needs a value: -addnode=<value> (test.conf line 1)");
  CHECK(config_error("[regtest]\nnoaddnode=0\n") ==
        "-noaddnode=0 is meaningless; write -addnode=<value> (test.conf line 2)");
}

TEST_CASE("read_config_file: a missing file is an error only when required", "[util][args]") {
  TempDir dir;
  const auto missing = dir.path / "missing.conf";
  Args optional(test_specs());
  CHECK_FALSE(optional.read_config_file(missing, false).has_value());
  Args required(test_specs());
  CHECK(required.read_config_file(missing, true).value_or("") == "cannot read config file " + missing.string());

  const auto file = dir.path / "cheese.conf";
  std::ofstream(file) << "rpcport=77\n[regtest]\nbad line\n";
  Args args(test_specs());
  CHECK(args.read_config_file(file, true).value_or("") ==
        "expected name=value, got 'bad line' (" + file.string() + " line 3)");
  CHECK(args.get_int("rpcport", 0) == 77);  // lines before the error were read
}

TEST_CASE("select_network: -regtest, -testnet, -chain= and their contradictions", "[util][args]") {
  auto none = parsed({});
  CHECK(network_of(none) == "main");
  auto regtest = parsed({"-regtest"});
  CHECK(network_of(regtest) == "regtest");
  auto testnet = parsed({"-testnet"});
  CHECK(network_of(testnet) == "test");
  for (const char* name : {"main", "test", "regtest"}) {
    const std::string arg = std::string("-chain=") + name;
    auto chain = parsed({arg.c_str()});
    CHECK(network_of(chain) == name);
  }
  auto not_regtest = parsed({"-noregtest", "-testnet"});
  CHECK(network_of(not_regtest) == "test");

  const std::string contradiction = "error: choose one network: -chain=<name>, -regtest or -testnet";
  auto both = parsed({"-regtest", "-testnet"});
  CHECK(network_of(both) == contradiction);
  auto chain_and_flag = parsed({"-chain=regtest", "-regtest"});
  CHECK(network_of(chain_and_flag) == contradiction);
  auto bogus = parsed({"-chain=testnet3"});
  CHECK(network_of(bogus) == "error: invalid -chain=testnet3: use main, test or regtest");

  Args from_config(test_specs());
  REQUIRE_FALSE(from_config.parse_config("regtest=1\n", "test.conf").has_value());
  CHECK(network_of(from_config) == "regtest");
}

TEST_CASE("help_text lists every option, sorted, with placeholders and flag defaults", "[util][args]") {
  const Args args(test_specs());
  const std::string help = args.help_text();
  for (const auto& spec : test_specs()) {
    INFO(spec.name);
    CHECK(help.find("  -" + spec.name) != std::string::npos);
    CHECK(help.find(spec.help) != std::string::npos);
  }
  CHECK(help.find("  -datadir=<dir>\n       Data directory\n") != std::string::npos);
  CHECK(help.find("  -listen\n       Accept inbound connections (default: 1)\n") != std::string::npos);
  CHECK(help.find("  -daemon\n       Run in the background\n") != std::string::npos);
  CHECK(help.find("  -addnode=<ip>") < help.find("  -chain=<name>"));
  CHECK(help.find("  -testnet") < help.find("  -tracker=<host:port>"));
}

TEST_CASE("default_data_dir is ~/.cheesechain", "[util][args]") {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return;
  CHECK(default_data_dir() == std::filesystem::path(home) / ".cheesechain");
}
