#include "consensus/asert.hpp"

#include <catch2/catch.hpp>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "consensus/pow.hpp"
#include "primitives/uint256.hpp"
#include "test_util.hpp"

using namespace cheese;

namespace {

// Parameters of the published aserti3-2d vectors (../shared/vectors/README.md).
AsertParams vector_params() { return {600, 172800, decode_compact(0x1d00ffff).target}; }

template <typename T>
std::optional<T> parse_number(std::string_view s) {
  int base = 10;
  if (s.starts_with("0x")) {
    s.remove_prefix(2);
    base = 16;
  }
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

struct VectorLine {
  std::uint64_t iteration;
  std::uint64_t height;
  std::int64_t time;
  std::uint32_t bits;
};

struct VectorRun {
  std::string description;
  std::uint64_t anchor_height = 0;
  std::int64_t anchor_parent_time = 0;
  std::uint32_t anchor_bits = 0;
  std::uint64_t iterations = 0;
  std::vector<VectorLine> lines;
};

// Header lines look like "##   anchor height: 1"; data lines "1 2 1200 0x1d00ffff".
VectorRun parse_run(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) FAIL("cannot open " << file);
  VectorRun run;
  bool have_height = false;
  bool have_time = false;
  bool have_bits = false;
  bool have_iterations = false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.starts_with("##")) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string key = line.substr(2, colon - 2);
      key.erase(0, key.find_first_not_of(' '));
      std::string_view value{line};
      value.remove_prefix(colon + 1);
      while (value.starts_with(' ')) value.remove_prefix(1);
      while (value.ends_with(' ') || value.ends_with('\r')) value.remove_suffix(1);
      if (key == "description") {
        run.description = std::string{value};
      } else if (key == "anchor height") {
        auto v = parse_number<std::uint64_t>(value);
        REQUIRE(v);
        run.anchor_height = *v;
        have_height = true;
      } else if (key == "anchor parent time") {
        auto v = parse_number<std::int64_t>(value);
        REQUIRE(v);
        run.anchor_parent_time = *v;
        have_time = true;
      } else if (key == "anchor nBits") {
        auto v = parse_number<std::uint32_t>(value);
        REQUIRE(v);
        run.anchor_bits = *v;
        have_bits = true;
      } else if (key == "iterations") {
        auto v = parse_number<std::uint64_t>(value);
        REQUIRE(v);
        run.iterations = *v;
        have_iterations = true;
      }
      continue;
    }
    if (line.starts_with("#")) continue;  // column names
    std::istringstream fields(line);
    std::string it;
    std::string height;
    std::string time;
    std::string bits;
    std::string extra;
    if (!(fields >> it >> height >> time >> bits) || (fields >> extra)) {
      FAIL("malformed vector line in " << file << ": " << line);
    }
    const auto i = parse_number<std::uint64_t>(it);
    const auto hgt = parse_number<std::uint64_t>(height);
    const auto t = parse_number<std::int64_t>(time);
    const auto b = parse_number<std::uint32_t>(bits);
    if (!i || !hgt || !t || !b) FAIL("malformed vector line in " << file << ": " << line);
    run.lines.push_back({*i, *hgt, *t, *b});
  }
  REQUIRE(have_height);
  REQUIRE(have_time);
  REQUIRE(have_bits);
  REQUIRE(have_iterations);
  return run;
}

}  // namespace

TEST_CASE("aserti3-2d matches every published test vector", "[consensus][asert]") {
  const auto dir = test::shared_vectors_dir();
  if (!dir) return;
  const AsertParams p = vector_params();
  std::size_t checked = 0;
  for (int n = 1; n <= 12; ++n) {
    const std::string name = (n < 10 ? "run0" : "run") + std::to_string(n);
    const auto file = *dir / "aserti3-2d" / name;
    REQUIRE(std::filesystem::exists(file));
    const VectorRun run = parse_run(file);
    INFO(name << ": " << run.description);
    REQUIRE(run.lines.size() == run.iterations);
    std::size_t mismatches = 0;
    for (std::size_t k = 0; k < run.lines.size(); ++k) {
      const VectorLine& v = run.lines[k];
      REQUIRE(v.iteration == k + 1);
      REQUIRE(v.height > run.anchor_height);
      // Each line is a block (height, time) and the nBits of its child, which the spec computes
      // with height_delta = height - anchor height and time_delta = time - anchor parent time.
      // Heights may exceed INT64_MAX (run10); their difference is small.
      const auto height_diff = static_cast<std::int64_t>(v.height - run.anchor_height);
      const std::int64_t time_diff = v.time - run.anchor_parent_time;
      const std::uint32_t got = asert_next_bits(run.anchor_bits, time_diff, height_diff, p);
      if (got != v.bits) {
        ++mismatches;
        // Report the first few in full; one failed assertion per run is enough otherwise.
        if (mismatches <= 3) {
          FAIL_CHECK("iteration " << v.iteration << " height " << v.height << " time " << v.time << ": expected 0x"
                                  << std::hex << v.bits << ", got 0x" << got);
        }
      }
      ++checked;
    }
    CHECK(mismatches == 0);
  }
  CHECK(checked == 14000);  // 10+10+10+225+225+1000+1000+500+10+10+1000+10000
}

TEST_CASE("aserti3-2d keeps the target on schedule", "[consensus][asert]") {
  const AsertParams bch = vector_params();
  const AsertParams cheese_like{60, 3600, decode_compact(0x1d00ffff).target};
  for (const AsertParams& p : {bch, cheese_like}) {
    for (std::uint32_t anchor : {0x1d00ffffu, 0x1802aee8u, 0x1a2b3c4du, 0x01010000u, 0x03123456u}) {
      for (std::int64_t height_diff : {std::int64_t{0}, std::int64_t{1}, std::int64_t{2}, std::int64_t{143},
                                       std::int64_t{100'000}, std::int64_t{2'147'483'647}, std::int64_t{1} << 40}) {
        INFO("spacing " << p.target_spacing << " anchor 0x" << std::hex << anchor << std::dec << " height_diff "
                        << height_diff);
        const std::int64_t time_diff = p.target_spacing * (height_diff + 1);
        CHECK(asert_next_bits(anchor, time_diff, height_diff, p) == anchor);
      }
    }
  }
}

TEST_CASE("aserti3-2d doubles per half-life behind schedule, halves per half-life ahead", "[consensus][asert]") {
  const AsertParams p = vector_params();
  const U256 anchor = decode_compact(0x1802aee8).target;
  const std::int64_t height_diff = 1000;
  const std::int64_t on_time = p.target_spacing * (height_diff + 1);
  CHECK(asert_next_bits(0x1802aee8, on_time + p.half_life, height_diff, p) == encode_compact(anchor * 2));
  CHECK(asert_next_bits(0x1802aee8, on_time + 3 * p.half_life, height_diff, p) == encode_compact(anchor * 8));
  CHECK(asert_next_bits(0x1802aee8, on_time - p.half_life, height_diff, p) == encode_compact(anchor >> 1));
  CHECK(asert_next_bits(0x1802aee8, on_time - 4 * p.half_life, height_diff, p) == encode_compact(anchor >> 4));
  // Half a half-life late: 2^0.5 = 1.414214; the spec's cubic gives 92674 / 65536 = 1.414093.
  CHECK(asert_next_bits(0x1802aee8, on_time + p.half_life / 2, height_diff, p) ==
        encode_compact(anchor * 92674 >> 16));
  // The exponent's division truncates toward zero: 2 s early is -131072 / 172800 -> 0, unchanged
  // (floor division would give -1, a lower target); 3 s early is -196608 / 172800 -> -1.
  CHECK(asert_next_bits(0x1802aee8, on_time - 2, height_diff, p) == 0x1802aee8u);
  CHECK(asert_next_bits(0x1802aee8, on_time - 3, height_diff, p) == encode_compact(anchor * 131071 >> 17));
  CHECK(asert_next_bits(0x1802aee8, on_time - 3, height_diff, p) != 0x1802aee8u);
  // Slightly late raises the target, slightly early lowers it.
  const U256 late = decode_compact(asert_next_bits(0x1802aee8, on_time + 600, height_diff, p)).target;
  const U256 early = decode_compact(asert_next_bits(0x1802aee8, on_time - 600, height_diff, p)).target;
  CHECK(late > anchor);
  CHECK(early < anchor);
}

TEST_CASE("aserti3-2d never exceeds pow_limit and is never zero", "[consensus][asert]") {
  const AsertParams p = vector_params();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const std::int64_t times[] = {kMin,
                                kMin / 2,
                                -(std::int64_t{1} << 40),
                                -172800 * 300,
                                -1000000,
                                -1,
                                0,
                                1,
                                599,
                                600,
                                1200,
                                172800 * 255,
                                172800 * 257,
                                1LL << 40,
                                kMax / 2,
                                kMax};
  const std::int64_t heights[] = {0, 1, 288, 64512, 1 << 20, 1LL << 40, kMax / 600, kMax - 1, kMax};
  std::size_t checked = 0;
  for (std::uint32_t anchor : {0x1d00ffffu, 0x1802aee8u, 0x01010000u}) {
    for (std::int64_t t : times) {
      for (std::int64_t hd : heights) {
        INFO("anchor 0x" << std::hex << anchor << std::dec << " time_diff " << t << " height_diff " << hd);
        const CompactTarget next = decode_compact(asert_next_bits(anchor, t, hd, p));
        CHECK_FALSE(next.negative);
        CHECK_FALSE(next.overflow);
        CHECK_FALSE(next.target.is_zero());
        CHECK(next.target <= p.pow_limit);
        ++checked;
      }
    }
  }
  CHECK(checked == 3 * std::size(times) * std::size(heights));
  // The extremes saturate exactly.
  CHECK(asert_next_bits(0x1802aee8, kMax, 0, p) == 0x1d00ffffu);
  CHECK(asert_next_bits(0x1802aee8, kMin, 0, p) == 0x01010000u);
  CHECK(asert_next_bits(0x1802aee8, 0, kMax, p) == 0x01010000u);
  // From the hardest target, time alone walks back up to the limit.
  CHECK(asert_next_bits(0x01010000, 172800 * 225, 0, p) == 0x1d00ffffu);
}

TEST_CASE("aserti3-2d rejects broken preconditions", "[consensus][asert]") {
  const AsertParams p = vector_params();
  CHECK_THROWS_AS(asert_next_bits(0x1d00ffff, 600, -1, p), std::invalid_argument);
  CHECK_THROWS_AS(asert_next_bits(0x1d010000, 600, 0, p), std::invalid_argument);  // > limit
  CHECK_THROWS_AS(asert_next_bits(0x00000000, 600, 0, p), std::invalid_argument);  // zero
  CHECK_THROWS_AS(asert_next_bits(0x1c80ffff, 600, 0, p), std::invalid_argument);  // negative
  CHECK_THROWS_AS(asert_next_bits(0xff123456, 600, 0, p), std::invalid_argument);  // overflow
  AsertParams bad = p;
  bad.half_life = 0;
  CHECK_THROWS_AS(asert_next_bits(0x1d00ffff, 600, 0, bad), std::invalid_argument);
  bad = p;
  bad.target_spacing = -1;
  CHECK_THROWS_AS(asert_next_bits(0x1d00ffff, 600, 0, bad), std::invalid_argument);
  bad = p;
  bad.pow_limit = U256{1} << 239;  // no room for the fixed-point factor
  CHECK_THROWS_AS(asert_next_bits(0x1d00ffff, 600, 0, bad), std::invalid_argument);
  bad.pow_limit = U256{};
  CHECK_THROWS_AS(asert_next_bits(0x1d00ffff, 600, 0, bad), std::invalid_argument);
}
