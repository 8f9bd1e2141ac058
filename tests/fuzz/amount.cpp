// parse_amount over arbitrary strings, against a reference written from the spec: digits with
// at most one '.', digits on both sides of it, at most 8 decimals, at most 21,000,000 CHZ.
// Properties: it accepts exactly what the reference accepts (so never a sign, space, exponent
// or second '.'); the value is in the money range; format_amount gives the normalized input
// (no leading zeros, 8 decimals) and parses back to the same value; any amount in range
// survives format_amount -> parse_amount.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_check.hpp"
#include "primitives/amount.hpp"

using namespace cheese;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

//! The input written as format_amount would write it, or "" when the spec rejects it.
std::string reference_normalized(std::string_view s) {
  if (std::count(s.begin(), s.end(), '.') > 1) return {};
  if (!std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || c == '.'; })) return {};
  const auto dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty()) || frac.size() > 8) {
    return {};
  }
  while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
  std::string out(whole);
  out += '.';
  out += frac;
  out.append(8 - frac.size(), '0');
  // Compare with the maximum as fixed-width decimal strings: no integer can overflow here.
  const std::string max = "21000000.00000000";
  if (out.size() > max.size() || (out.size() == max.size() && out > max)) return {};
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view s = fuzz::input_string(data, size);
  const auto parsed = parse_amount(s);
  const std::string expected = reference_normalized(s);
  FUZZ_CHECK(parsed.has_value() == !expected.empty());
  if (parsed) {
    FUZZ_CHECK(std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c) || c == '.'; }));
    FUZZ_CHECK(std::count(s.begin(), s.end(), '.') <= 1);
    FUZZ_CHECK(money_range(*parsed));
    const std::string formatted = format_amount(*parsed);
    FUZZ_CHECK(formatted == expected);
    const auto again = parse_amount(formatted);
    FUZZ_CHECK(again && *again == *parsed);
  } else {
    FUZZ_CHECK(!s.empty() || parsed.error() == AmountError::kEmpty);
  }

  // Any amount in the money range formats and parses back to itself.
  std::uint64_t raw = 0;
  if (size > 0) std::memcpy(&raw, data, std::min<std::size_t>(size, sizeof raw));
  const Amount a = raw % (kMaxMoney + 1);
  const auto back = parse_amount(format_amount(a));
  FUZZ_CHECK(back && *back == a);
  return 0;
}
