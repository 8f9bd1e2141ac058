#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cheese {

//! One option a program accepts.
struct OptionSpec {
  enum class Kind { kFlag, kString, kInt, kList };
  std::string name;  //!< without the dash: "datadir"
  Kind kind;
  std::string default_text;  //!< shown by -help; "" for none
  std::string help;
};

//! Command-line and config-file options in the conventions of bitcoind:
//! `-name=value`, `--name=value`, `-name` (a flag), `-noname` (a flag set false), repeatable
//! list options; a config file of `name=value` lines with `[main]`, `[test]`, `[regtest]`
//! sections. The command line wins over the file; a network section wins over the top of the
//! file. Unknown options and malformed values are errors, never silently ignored.
class Args {
 public:
  explicit Args(std::vector<OptionSpec> specs);

  //! Parses argv; options stop at the first argument not starting with '-' (the rest are
  //! positional, e.g. cheese-cli's method and params). Returns an error message or nullopt.
  std::optional<std::string> parse_command_line(int argc, const char* const* argv);
  //! Reads a config file; a missing file is fine only when `required` is false.
  std::optional<std::string> read_config_file(const std::filesystem::path& path, bool required);
  //! Parses config text (for tests); `origin` names it in error messages.
  std::optional<std::string> parse_config(std::string_view text, std::string_view origin);

  //! The selected network name ("main", "test", "regtest") from -chain/-testnet/-regtest, or an
  //! error when they contradict each other or name no network.
  std::optional<std::string> select_network(std::string& network) const;
  //! Sets the network whose config section applies (after select_network).
  void use_network(std::string network) { network_ = std::move(network); }

  bool is_set(std::string_view name) const;
  std::string get_string(std::string_view name, std::string_view fallback = "") const;
  std::int64_t get_int(std::string_view name, std::int64_t fallback) const;
  bool get_bool(std::string_view name, bool fallback = false) const;
  std::vector<std::string> get_list(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  //! "  -name=<default>\n       help" for every option, sorted by name.
  std::string help_text() const;

 private:
  const OptionSpec* find(std::string_view name) const;
  std::optional<std::string> set(std::map<std::string, std::vector<std::string>, std::less<>>& into,
                                 std::string_view name, std::optional<std::string_view> value,
                                 std::string_view origin);
  const std::vector<std::string>* lookup(std::string_view name) const;

  std::vector<OptionSpec> specs_;
  std::map<std::string, std::vector<std::string>, std::less<>> command_line_;
  std::map<std::string, std::vector<std::string>, std::less<>> config_top_;
  std::map<std::string, std::map<std::string, std::vector<std::string>, std::less<>>, std::less<>> config_sections_;
  std::vector<std::string> positional_;
  std::string network_;
};

//! The default data directory: $HOME/.cheesechain.
std::filesystem::path default_data_dir();

}  // namespace cheese
