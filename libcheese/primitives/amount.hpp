#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "primitives/result.hpp"

namespace cheese {

//! An amount of crumbs; 1 CHZ = 100,000,000 crumbs. Never a float.
using Amount = std::uint64_t;

inline constexpr Amount kCoin = 100'000'000;
inline constexpr int kAmountDecimals = 8;
//! No amount (balance, output, fee, sum) may exceed the total supply: 21 million CHZ.
inline constexpr Amount kMaxMoney = 21'000'000 * kCoin;

constexpr bool money_range(Amount a) { return a <= kMaxMoney; }

//! a + b, or nullopt when the sum leaves the money range.
constexpr std::optional<Amount> add_amounts(Amount a, Amount b) {
  if (a > kMaxMoney || b > kMaxMoney - a) return std::nullopt;
  return a + b;
}

enum class AmountError {
  kEmpty,
  kInvalidCharacter,  //!< anything but digits and one '.': signs, exponents, spaces, NaN, Infinity
  kTooManyDecimals,   //!< more than 8 places after the point
  kOutOfRange,        //!< more than the total supply (21,000,000 CHZ)
};

std::string_view to_string(AmountError e);

//! Parses a CHZ decimal string ("12.5", "0.00000001", "21000000") exactly into crumbs.
Result<Amount, AmountError> parse_amount(std::string_view chz);
//! Formats crumbs as CHZ with exactly 8 decimals ("12.50000000"), as bitcoind prints amounts.
std::string format_amount(Amount crumbs);

}  // namespace cheese
