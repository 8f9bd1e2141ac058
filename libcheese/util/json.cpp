#include "util/json.hpp"

#include <fmt/format.h>

#include <cmath>
#include <new>

namespace cheese {

namespace json = boost::json;

namespace {

// A string that cannot come from JSON text by accident: it starts with NUL.
constexpr std::string_view kRawPrefix{"\0#", 2};

//! The text being serialized: its freed blocks (when it grows) are wiped.
using OutText = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

//! Appends a string serialized by Boost.JSON, wiping the temporary copy.
void append_serialized(OutText& out, std::string s) {
  out += s;
  wipe_string(s);
}

void write(OutText& out, const json::value& v, int indent, int depth);

void newline(OutText& out, int indent, int depth) {
  if (indent <= 0) return;
  out.push_back('\n');
  out.append(static_cast<std::size_t>(indent * depth), ' ');
}

void write(OutText& out, const json::value& v, int indent, int depth) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out.push_back(',');
        first = false;
        newline(out, indent, depth + 1);
        append_serialized(out, json::serialize(json::string_view(kv.key())));
        out += indent > 0 ? ": " : ":";
        write(out, kv.value(), indent, depth + 1);
      }
      newline(out, indent, depth);
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      bool first = true;
      for (const auto& e : a) {
        if (!first) out.push_back(',');
        first = false;
        newline(out, indent, depth + 1);
        write(out, e, indent, depth + 1);
      }
      newline(out, indent, depth);
      out.push_back(']');
      return;
    }
    case json::kind::string:
      if (auto raw = as_raw_number(v)) {
        out += *raw;
        return;
      }
      append_serialized(out, json::serialize(v));
      return;
    case json::kind::double_: {
      const double d = v.get_double();
      // Shortest round-trip form ("1", "0.5", "4.6e-10"); JSON has no NaN or infinity.
      out += std::isfinite(d) ? fmt::format("{}", d) : "null";
      return;
    }
    default: out += json::serialize(v); return;
  }
}

}  // namespace

bool is_json_number_text(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

json::value raw_number(std::string_view text) {
  std::string s(kRawPrefix);
  s += text;
  return json::value(json::string(s));
}

std::optional<std::string_view> as_raw_number(const json::value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string_view s(v.get_string().data(), v.get_string().size());
  if (!s.starts_with(kRawPrefix)) return std::nullopt;
  s.remove_prefix(kRawPrefix.size());
  if (!is_json_number_text(s)) return std::nullopt;
  return s;
}

namespace {

//! Parses a whole document into wiping storage, with the parser's temporary storage wiped too.
std::optional<json::value> parse_wiped(std::string_view text, json::error_code& ec) {
  alignas(std::max_align_t) unsigned char temp[4096];
  std::optional<json::value> out;
  {
    json::parser p(wiping_storage(), {}, temp, sizeof temp);
    p.reset(wiping_storage());
    p.write(text.data(), text.size(), ec);
    if (!ec) out = p.release();
  }
  wipe_memory(temp, sizeof temp);
  return out;
}

}  // namespace

void WipingJsonResource::wipe_and_free(void* p, std::size_t n, std::size_t align) noexcept {
  wipe_memory(p, n);
  ::operator delete(p, n, std::align_val_t(align));
}

void* WipingJsonResource::do_allocate(std::size_t n, std::size_t align) {
  if (upstream_ != nullptr) return upstream_->allocate(n, align);
  return ::operator new(n, std::align_val_t(align));
}

void WipingJsonResource::do_deallocate(void* p, std::size_t n, std::size_t align) {
  if (upstream_ == nullptr) return wipe_and_free(p, n, align);
  wipe_memory(p, n);
  upstream_->deallocate(p, n, align);
}

json::storage_ptr wiping_storage() {
  static WipingJsonResource resource;
  return json::storage_ptr(&resource);
}

std::optional<json::value> parse_json_exact(std::string_view text, std::string* error) {
  // Validate the text as it is first, so the rewrite below only ever sees well-formed JSON.
  json::error_code ec;
  parse_wiped(text, ec);
  if (ec) {
    if (error) *error = ec.message();
    return std::nullopt;
  }
  // Rewrite non-integer numbers as raw-number strings: outside strings, a token starting with
  // '-' or a digit is a number.
  OutText rewritten;
  rewritten.reserve(text.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      rewritten.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        rewritten.push_back(text[i + 1]);
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      rewritten.push_back(c);
      ++i;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t j = i;
      bool integer = true;
      while (j < text.size() && (text[j] == '-' || text[j] == '+' || text[j] == '.' || text[j] == 'e' ||
                                 text[j] == 'E' || (text[j] >= '0' && text[j] <= '9'))) {
        if (text[j] == '.' || text[j] == 'e' || text[j] == 'E') integer = false;
        ++j;
      }
      const std::string_view token = text.substr(i, j - i);
      if (integer) {
        rewritten += token;
      } else {
        rewritten += "\"\\u0000#";
        rewritten += token;
        rewritten += '"';
      }
      i = j;
      continue;
    }
    rewritten.push_back(c);
    ++i;
  }
  auto v = parse_wiped(rewritten, ec);
  if (ec) {
    if (error) *error = ec.message();
    return std::nullopt;
  }
  return v;
}

std::string serialize_json(const json::value& v, int indent) {
  OutText text;
  write(text, v, indent, 0);
  std::string out;
  out.reserve(text.size() + 1);  // room for the '\n' an RPC reply appends: no second block
  out.append(text.data(), text.size());
  return out;
}

}  // namespace cheese
