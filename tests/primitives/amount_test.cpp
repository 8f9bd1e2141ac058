#include <catch2/catch.hpp>

#include "primitives/amount.hpp"

using namespace cheese;

TEST_CASE("CHZ decimal strings parse exactly into crumbs", "[primitives][amount]") {
  struct Case {
    const char* text;
    Amount crumbs;
  };
  const Case cases[] = {
      {"0", 0},
      {"12.5", 1'250'000'000},
      {"0.00000001", 1},
      {"1", kCoin},
      {"1.0", kCoin},
      {"00012.50000000", 1'250'000'000},
      {"0.1", 10'000'000},
      {"20999999.99999999", kMaxMoney - 1},
      {"21000000", kMaxMoney},
      {"21000000.00000000", kMaxMoney},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = parse_amount(c.text);
    REQUIRE(r.has_value());
    CHECK(*r == c.crumbs);
  }
}

TEST_CASE("amount parsing rejects what is not an exact CHZ amount", "[primitives][amount]") {
  struct Case {
    const char* text;
    AmountError error;
  };
  const Case cases[] = {
      {"", AmountError::kEmpty},
      {"-1", AmountError::kInvalidCharacter},
      {"-0.00000001", AmountError::kInvalidCharacter},
      {"+1", AmountError::kInvalidCharacter},
      {"1e3", AmountError::kInvalidCharacter},
      {"1E-8", AmountError::kInvalidCharacter},
      {"NaN", AmountError::kInvalidCharacter},
      {"nan", AmountError::kInvalidCharacter},
      {"Infinity", AmountError::kInvalidCharacter},
      {"inf", AmountError::kInvalidCharacter},
      {" 1", AmountError::kInvalidCharacter},
      {"1 ", AmountError::kInvalidCharacter},
      {"1,5", AmountError::kInvalidCharacter},
      {"1.2.3", AmountError::kInvalidCharacter},
      {".5", AmountError::kInvalidCharacter},
      {"5.", AmountError::kInvalidCharacter},
      {"0x10", AmountError::kInvalidCharacter},
      {"0.000000001", AmountError::kTooManyDecimals},
      {"1.123456789", AmountError::kTooManyDecimals},
      {"21000000.00000001", AmountError::kOutOfRange},
      {"21000001", AmountError::kOutOfRange},
      {"99999999999999999999", AmountError::kOutOfRange},
      {"18446744073709551616", AmountError::kOutOfRange},   // 2^64
      {"184467440737.09551616", AmountError::kOutOfRange},  // 2^64 crumbs
  };
  for (const auto& c : cases) {
    INFO('"' << c.text << '"');
    auto r = parse_amount(c.text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == c.error);
  }
}

TEST_CASE("amounts format with exactly 8 decimals and round-trip", "[primitives][amount]") {
  CHECK(format_amount(0) == "0.00000000");
  CHECK(format_amount(1) == "0.00000001");
  CHECK(format_amount(1'250'000'000) == "12.50000000");
  CHECK(format_amount(kMaxMoney) == "21000000.00000000");
  for (Amount a : {Amount{0}, Amount{1}, Amount{99'999'999}, kCoin, kMaxMoney - 1, kMaxMoney}) {
    auto r = parse_amount(format_amount(a));
    REQUIRE(r.has_value());
    CHECK(*r == a);
  }
}

TEST_CASE("amount sums stay within the money range", "[primitives][amount]") {
  CHECK(add_amounts(1, 2) == Amount{3});
  CHECK(add_amounts(kMaxMoney, 0) == kMaxMoney);
  CHECK_FALSE(add_amounts(kMaxMoney, 1).has_value());
  CHECK_FALSE(add_amounts(~Amount{0}, 1).has_value());
  CHECK_FALSE(add_amounts(1, ~Amount{0}).has_value());
}
