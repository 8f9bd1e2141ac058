#include "util/args.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cheese {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_bool(std::string_view v, bool& out) {
  if (v.empty() || v == "1" || v == "true" || v == "yes") {
    out = true;
    return true;
  }
  if (v == "0" || v == "false" || v == "no") {
    out = false;
    return true;
  }
  return false;
}

bool parse_int(std::string_view v, std::int64_t& out) {
  if (v.empty()) return false;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc{} && p == v.data() + v.size();
}

}  // namespace

Args::Args(std::vector<OptionSpec> specs) : specs_(std::move(specs)) {}

const OptionSpec* Args::find(std::string_view name) const {
  for (const auto& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::optional<std::string> Args::set(std::map<std::string, std::vector<std::string>, std::less<>>& into,
                                     std::string_view name, std::optional<std::string_view> value,
                                     std::string_view origin) {
  const OptionSpec* found = find(name);
  const bool negated = !found && name.starts_with("no") && find(name.substr(2)) != nullptr;
  if (negated) found = find(name.substr(2));
  if (!found) return fmt::format("unknown option -{} ({})", name, origin);
  const OptionSpec* const spec = found;
  if (negated) {
    // -nofoo and -nofoo=1 switch foo off; a config file can only say it as nofoo=1 (or nofoo=).
    // -nofoo=0 is bitcoind's double negative: foo on, which only means something for a flag.
    bool off = true;
    if (value && !parse_bool(*value, off)) {
      return fmt::format("invalid value for -no{}: '{}' (expected 0 or 1) ({})", spec->name, *value, origin);
    }
    if (!off) {
      if (spec->kind != OptionSpec::Kind::kFlag) {
        return fmt::format("-no{}=0 is meaningless; write -{}=<value> ({})", spec->name, spec->name, origin);
      }
      into[spec->name] = {"1"};
      return std::nullopt;
    }
    switch (spec->kind) {
      case OptionSpec::Kind::kList:
        into[spec->name].clear();  // -noaddnode: none, even if the config file lists some
        break;
      case OptionSpec::Kind::kString:
        into[spec->name] = {""};  // -nopid: empty (off), not a file named "0"
        break;
      case OptionSpec::Kind::kFlag:
      case OptionSpec::Kind::kInt: into[spec->name] = {"0"}; break;
    }
    return std::nullopt;
  }
  switch (spec->kind) {
    case OptionSpec::Kind::kFlag: {
      bool b = true;
      if (value && !parse_bool(*value, b)) {
        return fmt::format("invalid value for -{}: '{}' (expected 0 or 1) ({})", spec->name, *value, origin);
      }
      into[spec->name] = {b ? "1" : "0"};
      break;
    }
    case OptionSpec::Kind::kInt: {
      std::int64_t n = 0;
      if (!value || !parse_int(*value, n)) {
        return fmt::format("invalid value for -{}: '{}' (expected an integer) ({})", spec->name, value.value_or(""),
                           origin);
      }
      into[spec->name] = {std::string(*value)};
      break;
    }
    case OptionSpec::Kind::kString:
      if (!value) return fmt::format("-{} needs a value: -{}=<value> ({})", spec->name, spec->name, origin);
      into[spec->name] = {std::string(*value)};
      break;
    case OptionSpec::Kind::kList:
      if (!value || value->empty()) {
        return fmt::format("-{} needs a value: -{}=<value> ({})", spec->name, spec->name, origin);
      }
      into[spec->name].emplace_back(*value);
      break;
  }
  return std::nullopt;
}

std::optional<std::string> Args::parse_command_line(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!positional_.empty() || arg.size() < 2 || arg[0] != '-') {
      positional_.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
    const auto eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = arg.substr(eq + 1);
    if (auto err = set(command_line_, name, value, "command line")) return err;
  }
  return std::nullopt;
}

std::optional<std::string> Args::parse_config(std::string_view text, std::string_view origin) {
  std::string section;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const std::string where = fmt::format("{} line {}", origin, line_no);
    if (line.front() == '[') {
      if (line.back() != ']') return fmt::format("malformed section header '{}' ({})", line, where);
      section = std::string(trim(line.substr(1, line.size() - 2)));
      if (section != "main" && section != "test" && section != "regtest") {
        return fmt::format("unknown section [{}] ({}); use [main], [test] or [regtest]", section, where);
      }
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return fmt::format("expected name=value, got '{}' ({})", line, where);
    }
    std::string_view name = trim(line.substr(0, eq));
    if (name.starts_with('-')) name.remove_prefix(1);
    const std::string_view value = trim(line.substr(eq + 1));
    auto& into = section.empty() ? config_top_ : config_sections_[section];
    if (auto err = set(into, name, value, where)) return err;
  }
  return std::nullopt;
}

std::optional<std::string> Args::read_config_file(const std::filesystem::path& path, bool required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!required) return std::nullopt;
    return fmt::format("cannot read config file {}", path.string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path.string());
}

const std::vector<std::string>* Args::lookup(std::string_view name) const {
  if (auto it = command_line_.find(name); it != command_line_.end()) return &it->second;
  if (!network_.empty()) {
    if (auto s = config_sections_.find(network_); s != config_sections_.end()) {
      if (auto it = s->second.find(name); it != s->second.end()) return &it->second;
    }
  }
  if (auto it = config_top_.find(name); it != config_top_.end()) return &it->second;
  return nullptr;
}

std::optional<std::string> Args::select_network(std::string& network) const {
  const bool regtest = get_bool("regtest");
  const bool testnet = get_bool("testnet");
  const std::string chain = get_string("chain");
  int chosen = int{regtest} + int{testnet} + int{!chain.empty()};
  if (chosen > 1) return std::string("choose one network: -chain=<name>, -regtest or -testnet");
  if (regtest) {
    network = "regtest";
  } else if (testnet) {
    network = "test";
  } else if (!chain.empty()) {
    if (chain != "main" && chain != "test" && chain != "regtest") {
      return fmt::format("invalid -chain={}: use main, test or regtest", chain);
    }
    network = chain;
  } else {
    network = "main";
  }
  return std::nullopt;
}

bool Args::is_set(std::string_view name) const { return lookup(name) != nullptr; }

std::string Args::get_string(std::string_view name, std::string_view fallback) const {
  const auto* v = lookup(name);
  if (!v || v->empty()) return std::string(fallback);
  return v->back();
}

std::int64_t Args::get_int(std::string_view name, std::int64_t fallback) const {
  const auto* v = lookup(name);
  std::int64_t n = fallback;
  if (v && !v->empty()) parse_int(v->back(), n);
  return n;
}

bool Args::get_bool(std::string_view name, bool fallback) const {
  const auto* v = lookup(name);
  if (!v || v->empty()) return fallback;
  bool b = fallback;
  parse_bool(v->back(), b);
  return b;
}

std::vector<std::string> Args::get_list(std::string_view name) const {
  const auto* v = lookup(name);
  return v ? *v : std::vector<std::string>{};
}

std::string Args::help_text() const {
  std::vector<const OptionSpec*> sorted;
  for (const auto& s : specs_) sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  std::string out;
  for (const auto* s : sorted) {
    std::string head = "  -" + s->name;
    if (s->kind != OptionSpec::Kind::kFlag)
      head += "=<" + (s->default_text.empty() ? "value" : s->default_text) + ">";
    out += head + "\n       " + s->help;
    if (s->kind == OptionSpec::Kind::kFlag && !s->default_text.empty()) out += " (default: " + s->default_text + ")";
    out += "\n\n";
  }
  return out;
}

std::filesystem::path default_data_dir() {
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home && *home ? home : "/") / ".cheesechain";
}

}  // namespace cheese
