// main() for a fuzz target built without libFuzzer (the GCC build of `make test`): a bounded,
// deterministic smoke run. It runs every file of the given corpus directories (and files), then
// `--iterations` inputs made by mutating them with a fixed-seed PRNG (bit flips, byte changes,
// inserts, deletes, duplicated chunks, splices of two seeds), each at most `--max-len` bytes.
// A target reports a failed property by aborting (FUZZ_CHECK); the input that was running is then
// written to `crash-<name>-<n>` in the working directory, so it can be replayed with
//   fuzz_smoke_<name> crash-<name>-<n>        (or fuzz_<name> crash-... in the libFuzzer build)
//
//   fuzz_smoke_<name> [--iterations N] [--max-len L] [--seed S] [-v] <corpus dir or file>...

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Optional, as in libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;
using Input = std::vector<std::uint8_t>;

// The running input, for the crash handler (which may only use async-signal-safe calls).
const std::uint8_t* g_current = nullptr;
std::size_t g_current_size = 0;
char g_crash_path[256] = "crash-input";

void on_crash(int sig) {
  if (g_current != nullptr) {
    const int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      std::size_t done = 0;
      while (done < g_current_size) {
        const ssize_t n = ::write(fd, g_current + done, g_current_size - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      ::close(fd);
      constexpr std::string_view kMsg = "fuzz smoke run: the failing input was written to ";
      (void)!::write(STDERR_FILENO, kMsg.data(), kMsg.size());
      (void)!::write(STDERR_FILENO, g_crash_path, std::strlen(g_crash_path));
      (void)!::write(STDERR_FILENO, "\n", 1);
    }
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

//! Runs one input from an exact-size heap copy, so a sanitizer build catches a read past its end.
void run(const Input& in) {
  auto copy = std::make_unique<std::uint8_t[]>(std::max<std::size_t>(in.size(), 1));
  std::copy(in.begin(), in.end(), copy.get());
  g_current = copy.get();
  g_current_size = in.size();
  (void)LLVMFuzzerTestOneInput(in.empty() ? nullptr : copy.get(), in.size());
  g_current = nullptr;
}

Input read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Input(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

//! One mutation of `in` (libFuzzer's basic ones); the result is at most max_len bytes.
void mutate(Input& in, const std::vector<Input>& seeds, std::mt19937_64& rng, std::size_t max_len) {
  const auto below = [&rng](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const auto random_byte = [&rng] {
    static constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xfd, 0xfe, 0xff, 0x10, 0x20};
    return (rng() & 3) == 0 ? kInteresting[rng() % std::size(kInteresting)] : static_cast<std::uint8_t>(rng());
  };
  switch (rng() % 8) {
    case 0:  // flip a bit
      if (!in.empty()) in[below(in.size())] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
      break;
    case 1:  // set a byte
      if (!in.empty()) in[below(in.size())] = random_byte();
      break;
    case 2: {  // insert a few bytes
      const std::size_t n = 1 + below(8);
      const auto at = in.begin() + static_cast<std::ptrdiff_t>(below(in.size() + 1));
      Input bytes(n);
      for (auto& b : bytes) b = random_byte();
      in.insert(at, bytes.begin(), bytes.end());
      break;
    }
    case 3: {  // delete a range
      if (in.empty()) break;
      const std::size_t at = below(in.size());
      const std::size_t n = 1 + below(std::min<std::size_t>(16, in.size() - at));
      in.erase(in.begin() + static_cast<std::ptrdiff_t>(at), in.begin() + static_cast<std::ptrdiff_t>(at + n));
      break;
    }
    case 4: {  // duplicate a chunk somewhere else
      if (in.empty()) break;
      const std::size_t from = below(in.size());
      const std::size_t n = 1 + below(std::min<std::size_t>(32, in.size() - from));
      const Input chunk(in.begin() + static_cast<std::ptrdiff_t>(from),
                        in.begin() + static_cast<std::ptrdiff_t>(from + n));
      in.insert(in.begin() + static_cast<std::ptrdiff_t>(below(in.size() + 1)), chunk.begin(), chunk.end());
      break;
    }
    case 5: {  // splice: our head, another seed's tail
      const Input& other = seeds[below(seeds.size())];
      const std::size_t keep = below(in.size() + 1);
      const std::size_t from = below(other.size() + 1);
      in.resize(keep);
      in.insert(in.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
      break;
    }
    case 6: {  // overwrite with a little-endian 16/32/64-bit boundary value
      static constexpr std::uint64_t kValues[] = {0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, ~0ULL};
      if (in.empty()) break;
      std::uint64_t v = kValues[rng() % std::size(kValues)];
      if (rng() & 1) v = ~v + 1;  // and its negation
      const std::size_t width = std::size_t{2} << (rng() % 3);
      const std::size_t at = below(in.size());
      for (std::size_t i = 0; i < width && at + i < in.size(); ++i)
        in[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
      break;
    }
    default:  // truncate
      in.resize(below(in.size() + 1));
      break;
  }
  if (in.size() > max_len) in.resize(max_len);
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--iterations N] [--max-len L] [--seed S] [-v] <corpus dir or file>...\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t iterations = 1000;
  std::size_t max_len = 4096;
  std::uint64_t seed = 1;
  bool verbose = false;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--iterations" && has_value) {
      iterations = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--max-len" && has_value) {
      max_len = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "-v") {
      verbose = true;
    } else if (a.starts_with("-")) {
      return usage(argv[0]);
    } else {
      paths.emplace_back(a);
    }
  }
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  const std::string name = fs::path(argv[0]).filename().string();
  std::snprintf(g_crash_path, sizeof g_crash_path, "crash-%s-%d", name.c_str(), static_cast<int>(::getpid()));
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_crash);

  // Seeds in a fixed order (directory iteration order is not), so a run is reproducible.
  std::vector<fs::path> files;
  for (const auto& p : paths) {
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::fprintf(stderr, "%s: no such file or directory: %s\n", name.c_str(), p.c_str());
      return 2;
    }
  }
  std::sort(files.begin(), files.end());

  const auto start = std::chrono::steady_clock::now();
  std::vector<Input> seeds;
  for (const auto& f : files) {
    if (verbose) std::fprintf(stderr, "seed %s\n", f.c_str());
    seeds.push_back(read_file(f));
    run(seeds.back());
  }
  if (seeds.empty()) seeds.emplace_back();  // mutate from nothing

  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < iterations; ++i) {
    Input in = seeds[rng() % seeds.size()];
    const std::uint64_t rounds = 1 + rng() % 4;
    for (std::uint64_t r = 0; r < rounds; ++r) mutate(in, seeds, rng, max_len);
    run(in);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %zu seed files and %llu mutated inputs passed in %.2f s\n", name.c_str(), files.size(),
              static_cast<unsigned long long>(iterations), seconds);
  return 0;
}
