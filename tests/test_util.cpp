#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>

namespace cheese::test {

Bytes hex(std::string_view s) {
  auto b = from_hex(s);
  if (!b) FAIL("bad hex literal in test: " << s);
  return *b;
}

std::optional<std::filesystem::path> shared_vectors_dir() {
  std::filesystem::path dir{CHEESE_SHARED_VECTORS};
  if (std::filesystem::is_directory(dir)) return dir;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string_view{ci} == "true") {
    FAIL("published vectors not found at " << dir << " (CI=true requires ../shared/vectors)");
  }
  WARN("SKIPPED: published vectors not found at " << dir);
  return std::nullopt;
}

}  // namespace cheese::test
