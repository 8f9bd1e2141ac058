// Loading damaged wallet files (libcheese/wallet). Setup writes two real regtest wallet files
// once (restored from a fixed phrase, keypool 3, a labelled address, three transaction records and
// a synced-to block): one unencrypted, one encrypted with the smallest Argon2id cost. The first
// input byte picks the file:
//
//   0: the rest of the input is the whole file
//   1, 2: the unencrypted (1) or encrypted (2) wallet, patched: the rest is a list of edits
//      (set a byte, xor a byte, write a run of input bytes, truncate) at fuzzed offsets
//   3: the same as 1/2 (the next byte picks), with a 4-byte big-endian value written at one of the
//      SQLite header fields the loader reads (page size, page count, user_version, application_id...)
//
// The file is written to a temporary directory and opened with Wallet::open. Properties: open
// succeeds or returns a WalletError (any other exception, a crash, a sanitizer finding or a hang
// is a failure), never kInUse (an earlier input left the file locked); the untouched files open,
// and the encrypted one unlocks. On success the wallet is used as cheesed would: addresses, key
// lookups, the transaction list and count, the unconfirmed records, synced_to, a new address,
// unlock (only when the file's Argon2id cost is tiny, so an input cannot buy a slow KDF) and the
// phrase; each returns a value or a WalletError. After each input no file descriptor is left open.

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "chain_fuzz_util.hpp"
#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "wallet/wallet.hpp"

using namespace cheese;
using namespace cheese::fuzz;

namespace {

constexpr std::string_view kPassphrase = "fuzz passphrase";
constexpr std::string_view kPhrase =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";
constexpr std::uint32_t kKeypool = 3;

using FileBytes = std::vector<std::uint8_t>;

FileBytes read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return FileBytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& p, const std::uint8_t* data, std::size_t size) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  FUZZ_CHECK(f.good());
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

template <typename T>
T take(WalletResult<T> r) {
  if (!r) {
    std::fprintf(stderr, "wallet_load setup failed: %s\n", r.error().message.c_str());
    std::abort();
  }
  return std::move(*r);
}

FileBytes make_template(const TempDir& dir, const std::string& name, std::optional<std::string_view> passphrase) {
  const auto file = dir.file(name + ".wallet");
  WalletOptions options;
  options.network = Network::kRegtest;
  options.kdf = KdfLimits::minimum();
  options.keypool_size = kKeypool;
  {
    Wallet w = take(Wallet::restore(file, name, kPhrase, passphrase, options));
    if (passphrase) FUZZ_CHECK(w.unlock(*passphrase).has_value());
    const WalletAddress a = take(w.new_address("label"));
    std::vector<WalletTx> txs(3);
    for (std::size_t i = 0; i < txs.size(); ++i) {
      txs[i].txid.bytes.fill(static_cast<std::uint8_t>(i + 1));
      txs[i].direction = static_cast<TxDirection>(i);
      txs[i].height = i == 0 ? std::nullopt : std::optional<std::uint64_t>(i);
      txs[i].amount = kCoin * (i + 1);
      txs[i].time = kNow + static_cast<std::int64_t>(i);
      txs[i].own = a.pubkey;
      txs[i].counterparty = key_from_seed(9).public_key();
      txs[i].raw = {1, 2, 3};
    }
    WalletBlockRef synced;
    synced.hash.bytes.fill(0xab);
    synced.height = 2;
    FUZZ_CHECK(w.record_transactions(txs, synced).has_value());
  }
  return read_file(file);
}

struct Setup {
  TempDir dir{"wallet-load"};
  FileBytes plain;
  FileBytes encrypted;
  std::filesystem::path target = dir.file("fuzz.wallet");

  Setup() {
    plain = make_template(dir, "plain", std::nullopt);
    encrypted = make_template(dir, "encrypted", kPassphrase);
    FUZZ_CHECK(plain.size() >= 100 && encrypted.size() >= 100);
  }
};

Setup& setup() {
  static Setup s;
  return s;
}

void patch(FileBytes& file, FuzzInput& in) {
  for (int edit = 0; edit < 32 && !in.empty() && !file.empty(); ++edit) {
    const std::uint8_t kind = in.byte() % 8;
    const std::size_t at = in.integral<std::uint16_t>() % file.size();
    switch (kind) {
      case 0:
      case 1:
      case 2: file[at] = in.byte(); break;
      case 3:
      case 4: file[at] ^= static_cast<std::uint8_t>(1U << (in.byte() % 8)); break;
      case 5: {
        const auto run = in.bytes(in.range<std::size_t>(1, 64));
        for (std::size_t i = 0; i < run.size() && at + i < file.size(); ++i) file[at + i] = run[i];
        break;
      }
      case 6: file.resize(at); break;
      default: {  // zero a run (a lost page)
        const std::size_t n = in.range<std::size_t>(1, 4096);
        std::fill(file.begin() + static_cast<std::ptrdiff_t>(at),
                  file.begin() + static_cast<std::ptrdiff_t>(std::min(file.size(), at + n)), std::uint8_t{0});
        break;
      }
    }
  }
}

//! Uses an opened wallet the way cheesed does; every call returns a value or a WalletError.
void exercise(Wallet& w, FuzzInput& in, bool pristine) {
  FUZZ_CHECK(w.network() == Network::kRegtest || !pristine);
  (void)w.id();
  for (const auto& a : w.addresses()) {
    FUZZ_CHECK(w.is_mine(a.pubkey));
    (void)w.encode(a.pubkey);
  }
  if (auto n = w.transaction_count(); n && pristine) FUZZ_CHECK(*n == 3);
  (void)w.list_transactions(10, in.range<std::size_t>(0, 3));
  (void)w.unconfirmed_transactions();
  if (auto s = w.synced_to(); pristine) FUZZ_CHECK(s && s->has_value() && (*s)->height == 2);
  Hash256 id;
  id.bytes.fill(2);
  (void)w.find_transaction(id);

  if (w.is_encrypted()) {
    const auto kdf = w.kdf_limits();
    FUZZ_CHECK(kdf.has_value());
    // A damaged file may ask for any cost up to 4 GiB: only tiny ones are tried.
    if (kdf->ops <= 2 && kdf->mem <= (std::size_t{1} << 20)) {
      const auto r = w.unlock(in.flag() ? "wrong" : kPassphrase);
      if (pristine && r) FUZZ_CHECK(!w.is_locked());
    }
  }
  if (auto a = w.new_address("fuzz"); a) FUZZ_CHECK(w.is_mine(a->pubkey));
  if (w.holds_secrets()) {
    const auto phrase = w.mnemonic();
    if (pristine) FUZZ_CHECK(phrase && phrase->view() == kPhrase);
    for (const auto& a : w.addresses()) (void)w.key_for(a.pubkey);
  }
  w.lock();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Setup& s = setup();
  FuzzInput in(data, size);
  const std::size_t fds = open_fds();

  FileBytes file;
  bool pristine = false;
  const std::uint8_t mode = in.byte() % 4;
  if (mode == 0) {
    const auto rest = in.rest();
    file.assign(rest.begin(), rest.end());
  } else {
    const bool encrypted = mode == 2 || (mode == 3 && in.flag());
    file = encrypted ? s.encrypted : s.plain;
    if (mode == 3) {
      static constexpr std::size_t kHeaderFields[] = {16, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 92, 96};
      const std::size_t at = kHeaderFields[in.pick(std::size(kHeaderFields))];
      const auto v = in.integral<std::uint32_t>();
      for (std::size_t i = 0; i < 4; ++i) file[at + i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
    }
    pristine = mode != 3 && in.empty();
    patch(file, in);
  }
  std::error_code ec;
  std::filesystem::remove(s.target.string() + "-journal", ec);
  write_file(s.target, file.data(), file.size());

  {
    auto opened = Wallet::open(s.target, kKeypool);
    if (pristine) FUZZ_CHECK(opened.has_value());
    if (!opened) {
      FUZZ_CHECK(opened.error().code != WalletErrc::kInUse);
      FUZZ_CHECK(!opened.error().message.empty());
    } else {
      exercise(*opened, in, pristine);
    }
  }
  FUZZ_CHECK(open_fds() == fds);
  return 0;
}
