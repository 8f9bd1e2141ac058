#include "primitives/amount.hpp"

#include <fmt/format.h>

namespace cheese {

std::string_view to_string(AmountError e) {
  switch (e) {
    case AmountError::kEmpty: return "amount is empty";
    case AmountError::kInvalidCharacter:
      return "amount must be a plain decimal number of CHZ (digits and at most one '.')";
    case AmountError::kTooManyDecimals: return "amount has more than 8 decimal places";
    case AmountError::kOutOfRange: return "amount is larger than 21,000,000 CHZ";
  }
  return "invalid amount";
}

Result<Amount, AmountError> parse_amount(std::string_view s) {
  if (s.empty()) return Unexpected{AmountError::kEmpty};
  const auto dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  // "5." and ".5" are rejected: a person who types them probably made a mistake.
  if (whole.empty() || (dot != std::string_view::npos && frac.empty())) {
    return Unexpected{AmountError::kInvalidCharacter};
  }
  auto all_digits = [](std::string_view d) {
    for (char c : d)
      if (c < '0' || c > '9') return false;
    return true;
  };
  if (!all_digits(whole) || !all_digits(frac)) return Unexpected{AmountError::kInvalidCharacter};
  if (frac.size() > kAmountDecimals) return Unexpected{AmountError::kTooManyDecimals};

  // Leading zeros do not change the value; anything longer than the supply's digits is out of range.
  std::string_view digits = whole;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > 8) return Unexpected{AmountError::kOutOfRange};
  Amount crumbs = 0;
  for (char c : digits) crumbs = crumbs * 10 + static_cast<Amount>(c - '0');
  if (crumbs > kMaxMoney / kCoin) return Unexpected{AmountError::kOutOfRange};
  crumbs *= kCoin;
  Amount scale = kCoin;
  for (char c : frac) {
    scale /= 10;
    crumbs += static_cast<Amount>(c - '0') * scale;
  }
  if (!money_range(crumbs)) return Unexpected{AmountError::kOutOfRange};
  return crumbs;
}

std::string format_amount(Amount crumbs) { return fmt::format("{}.{:08}", crumbs / kCoin, crumbs % kCoin); }

}  // namespace cheese
