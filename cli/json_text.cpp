// JSON as text: cheese-cli re-indents replies without parsing numbers, so amounts keep their digits.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

#include "cli_detail.hpp"

namespace cheese::cli {

namespace json = boost::json;

namespace detail {

json::parse_options json_options() {
  json::parse_options opt;
  opt.max_depth = 512;
  return opt;
}

bool is_valid_json(std::string_view text) {
  boost::system::error_code ec;
  json::parse(text, ec, {}, json_options());
  return !ec;
}

std::string json_string(std::string_view s) { return json::serialize(json::string_view(s.data(), s.size())); }

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace detail

namespace {

using detail::is_space;

std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

//! s[i] is the opening quote; returns the index after the closing one.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size() && s[i] != '"'; ++i) {
    if (s[i] == '\\') ++i;
  }
  return std::min(i + 1, s.size());
}

//! The index after the JSON value starting at s[i] (s is valid JSON).
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      ++i;
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i;
    }
    return i;
  }
  while (i < s.size() && !is_space(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i;
}

}  // namespace

namespace detail {

std::optional<std::string_view> raw_member(std::string_view object_json, std::string_view key) {
  std::size_t i = skip_space(object_json, 0);
  if (i >= object_json.size() || object_json[i] != '{') return std::nullopt;
  std::optional<std::string_view> found;  // the last one wins, as in boost::json::parse
  i = skip_space(object_json, i + 1);
  while (i < object_json.size() && object_json[i] == '"') {
    const std::size_t key_end = skip_string(object_json, i);
    boost::system::error_code ec;
    const json::value name = json::parse(object_json.substr(i, key_end - i), ec);
    i = skip_space(object_json, key_end);
    if (ec || i >= object_json.size() || object_json[i] != ':') return std::nullopt;
    i = skip_space(object_json, i + 1);
    const std::size_t value_end = skip_value(object_json, i);
    if (name.is_string() && name.get_string() == key) found = object_json.substr(i, value_end - i);
    i = skip_space(object_json, value_end);
    if (i < object_json.size() && object_json[i] == ',') i = skip_space(object_json, i + 1);
  }
  return found;
}

}  // namespace detail

using detail::is_space;

std::string reformat_json(std::string_view json_text, int indent) {
  std::string out;
  int level = 0;
  const auto new_line = [&] {
    if (indent <= 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(level * indent), ' ');
  };
  for (std::size_t i = 0; i < json_text.size();) {
    const char c = json_text[i];
    if (is_space(c)) {
      ++i;
    } else if (c == '"') {
      const std::size_t end = skip_string(json_text, i);
      out.append(json_text.substr(i, end - i));
      i = end;
    } else if (c == '{' || c == '[') {
      const std::size_t next = skip_space(json_text, i + 1);
      out += c;
      if (next < json_text.size() && (json_text[next] == '}' || json_text[next] == ']')) {
        out += json_text[next];  // {} and [] stay on one line
        i = next + 1;
        continue;
      }
      ++level;
      new_line();
      ++i;
    } else if (c == '}' || c == ']') {
      --level;
      new_line();
      out += c;
      ++i;
    } else if (c == ',') {
      out += c;
      new_line();
      ++i;
    } else if (c == ':') {
      out += c;
      if (indent > 0) out += ' ';
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

std::string format_result(std::string_view result_json) {
  boost::system::error_code ec;
  const json::value result = json::parse(result_json, ec, {}, detail::json_options());
  if (ec) return std::string(result_json) + "\n";  // not JSON after all: show it as it came
  if (result.is_null()) return "";
  if (const auto* s = result.if_string()) return s->empty() ? "" : std::string(*s) + "\n";
  return reformat_json(result_json, 2) + "\n";
}

}  // namespace cheese::cli
