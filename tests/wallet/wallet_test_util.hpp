#pragma once

// Helpers of the wallet tests: temporary directories, raw file bytes, python3-mnemonic.

#include <sodium.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "primitives/bytes.hpp"
#include "primitives/keys.hpp"

namespace cheese::test {

//! A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    ensure_sodium();
    std::array<std::uint8_t, 8> r{};
    randombytes_buf(r.data(), r.size());
    path_ = std::filesystem::temp_directory_path() / ("cheese-wallet-test-" + to_hex(r));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline bool contains(std::string_view haystack, ByteSpan needle) {
  return haystack.find(std::string_view(reinterpret_cast<const char*>(needle.data()), needle.size())) !=
         std::string_view::npos;
}

inline std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

//! Runs a Python script and returns its output lines.
inline std::vector<std::string> run_python(const std::string& python, std::string_view script,
                                           std::initializer_list<std::string> args) {
  std::string cmd = python + " -c " + shell_quote(script);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = ::pclose(pipe);
  INFO(cmd);
  REQUIRE(status == 0);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < output.size()) {
    const std::size_t end = output.find('\n', start);
    lines.push_back(output.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

//! A Python interpreter that can import python3-mnemonic: Debian's /usr/bin/python3 first (the
//! package installs there, and a python3 earlier on PATH, e.g. pyenv's, may not see it), then
//! python3. Missing: the test fails under CI=true and is reported as skipped otherwise.
inline std::optional<std::string> python_with_mnemonic() {
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = std::string(candidate) + " -c 'import mnemonic' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return std::string(candidate);
  }
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string_view{ci} == "true") {
    FAIL("python3 with python3-mnemonic not found (CI=true requires it: scripts/install-deps.sh)");
  }
  WARN("SKIPPED: python3 with the mnemonic module (Debian python3-mnemonic) not found");
  return std::nullopt;
}

}  // namespace cheese::test
