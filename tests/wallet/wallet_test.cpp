#include "wallet/wallet.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "primitives/bech32.hpp"
#include "primitives/secure_buffer.hpp"
#include "test_util.hpp"
#include "wallet/bip39.hpp"
#include "wallet/slip10.hpp"
#include "wallet/wallet_test_util.hpp"

using namespace cheese;
using cheese::test::contains;
using cheese::test::read_file;
using cheese::test::TempDir;
using cheese::test::write_file;
namespace fs = std::filesystem;

namespace {

//! Argon2id at its minimum cost: the tests exercise the logic, not the cost.
WalletOptions test_options(Network network = Network::kRegtest, std::uint32_t keypool = 5) {
  WalletOptions o;
  o.network = network;
  o.kdf = KdfLimits::minimum();
  o.keypool_size = keypool;
  return o;
}

const std::string kPhrase =
    "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal "
    "winner thank year wave sausage worth title";

template <typename T>
T take(WalletResult<T> r) {
  if (!r.has_value()) FAIL("unexpected wallet error: " << r.error().message);
  return std::move(r).value();
}

template <typename T>
WalletError error_of(const WalletResult<T>& r) {
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

unsigned file_mode(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777U;
}

void exec_sql(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err != nullptr ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

//! Secrets of a phrase in every encoding a careless file could hold them in.
struct SecretForms {
  SecureBuffer entropy;
  SecureBuffer seed;
  std::string phrase;
};

SecretForms secret_forms(std::string_view phrase) {
  auto entropy = mnemonic_to_entropy(phrase);
  REQUIRE(entropy.has_value());
  return {std::move(*entropy), mnemonic_to_seed(phrase), std::string(phrase)};
}

//! Checks that the file holds none of the secrets: raw bytes, hex (both cases), the phrase, any two
//! consecutive words of it, the words run together.
void check_no_secrets(const fs::path& file, const SecretForms& s) {
  const std::string bytes = read_file(file);
  REQUIRE(bytes.size() > 0);
  auto upper = [](std::string h) {
    for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return h;
  };
  for (ByteSpan secret : {s.entropy.span(), s.seed.span()}) {
    CHECK_FALSE(contains(bytes, secret));
    CHECK_FALSE(contains(bytes, as_bytes(to_hex(secret))));
    CHECK_FALSE(contains(bytes, as_bytes(upper(to_hex(secret)))));
    // Any 8-byte window of the secret, in case it were stored split or shifted.
    for (std::size_t i = 0; i + 8 <= secret.size(); i += 8) CHECK_FALSE(contains(bytes, secret.subspan(i, 8)));
  }
  CHECK_FALSE(contains(bytes, as_bytes(s.phrase)));
  std::vector<std::string> words;
  std::string joined;
  for (std::size_t start = 0; start <= s.phrase.size();) {
    const std::size_t end = std::min(s.phrase.find(' ', start), s.phrase.size());
    words.push_back(s.phrase.substr(start, end - start));
    joined += words.back();
    start = end + 1;
  }
  CHECK_FALSE(contains(bytes, as_bytes(joined)));
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    CHECK_FALSE(contains(bytes, as_bytes(words[i] + " " + words[i + 1])));
  }
}

}  // namespace

TEST_CASE("Guarded memory is zeroed, moved and freed", "[wallet][wallet]") {
  SecureBuffer b(48);
  REQUIRE(b.size() == 48);
  for (std::size_t i = 0; i < b.size(); ++i) CHECK(b.data()[i] == 0);
  b.data()[0] = 7;
  SecureBuffer moved = std::move(b);
  CHECK(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is specified as empty
  CHECK(moved.data()[0] == 7);
  CHECK(secure_equal(moved.span(), SecureBuffer::copy_of(moved.span()).span()));
  CHECK_FALSE(secure_equal(moved.span(), SecureBuffer(47).span()));
  moved.reset();
  CHECK(moved.empty());
  CHECK(SecureBuffer(0).empty());
  const SecretString s = SecretString::copy_of("abc");
  CHECK(s.view() == "abc");
}

TEST_CASE("Wallet names and error codes", "[wallet][wallet]") {
  const fs::path dir = "/data/wallets";
  CHECK(take(wallet_file_path(dir, "main-1.old_2")) == dir / "main-1.old_2.wallet");
  for (const char* bad : {"", ".hidden", "a/b", "..", "a b", "ü", "x\n"}) {
    INFO(bad);
    CHECK(error_of(wallet_file_path(dir, bad)).code == WalletErrc::kInvalidName);
  }
  CHECK(error_of(wallet_file_path(dir, std::string(65, 'a'))).code == WalletErrc::kInvalidName);
  CHECK(wallet_file_path(dir, std::string(64, 'a')).has_value());

  CHECK(to_string(WalletErrc::kLocked) == "wallet is locked");

  CHECK(KdfLimits::moderate() == KdfLimits{crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE});
  CHECK(KdfLimits::for_network(Network::kMain) == KdfLimits::moderate());
  CHECK(KdfLimits::for_network(Network::kRegtest) == KdfLimits::interactive());
}

TEST_CASE("Wallet create, reopen and restore give the same addresses", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "wallets" / "alice.wallet";  // the wallets/ folder is created
  std::string phrase;
  std::string id;
  std::vector<WalletAddress> made;
  {
    auto created = take(Wallet::create(file, "alice", std::nullopt, test_options()));
    Wallet& w = created.wallet;
    phrase = std::string(created.mnemonic.view());

    REQUIRE(mnemonic_to_entropy(phrase).has_value());
    CHECK(std::count(phrase.begin(), phrase.end(), ' ') == 23);  // 24 words
    CHECK(file_mode(file) == 0600U);
    CHECK(file_mode(file.parent_path()) == 0700U);
    CHECK(w.name() == "alice");
    CHECK(w.path() == file);
    CHECK(w.network() == Network::kRegtest);
    CHECK_FALSE(w.is_encrypted());
    CHECK_FALSE(w.is_locked());
    CHECK(w.holds_secrets());
    CHECK_FALSE(w.kdf_limits());
    CHECK(w.addresses().empty());
    CHECK(w.keypool_remaining() == 5);
    CHECK(format_derivation_path(w.key_path(3)) == "m/44'/1'/0'/0'/3'");
    CHECK(take(w.mnemonic()).view() == phrase);
    id = w.id();
    CHECK(id.size() == 32);

    for (int i = 0; i < 7; ++i) made.push_back(take(w.new_address(i == 1 ? "savings" : "")));
    for (std::uint32_t i = 0; i < made.size(); ++i) CHECK(made[i].index == i);
    CHECK(made[1].label == "savings");
    CHECK(w.addresses() == made);
    CHECK(w.keypool_remaining() == 5);  // refilled while unlocked
    const std::string address = w.encode(made[0].pubkey);
    CHECK(address.starts_with("rchz1"));
    const auto decoded = decode_address("rchz", address);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == made[0].pubkey);

    // Keys sign for their addresses.
    for (const auto& a : made) {
      const SecretKey key = take(w.key_for(a.pubkey));
      CHECK(key.public_key() == a.pubkey);
      const Bytes msg = {1, 2, 3};
      CHECK(verify_signature(a.pubkey, msg, key.sign(msg)));
    }
    PublicKey stranger{};
    stranger[0] = 1;
    CHECK(error_of(w.key_for(stranger)).code == WalletErrc::kUnknownKey);
    CHECK_FALSE(w.is_mine(stranger));
    CHECK(w.is_mine(made[3].pubkey));

    // The file is locked against a second connection while open.
    const auto second = Wallet::open(file);
    CHECK(error_of(second).code == WalletErrc::kInUse);
    CHECK_THAT(second.error().message, Catch::Contains(file.string()));
  }
  SECTION("reopen") {
    Wallet w = take(Wallet::open(file));
    CHECK(w.name() == "alice");
    CHECK(w.id() == id);
    CHECK(w.network() == Network::kRegtest);
    CHECK(w.addresses() == made);
    CHECK(take(w.key_for(made[6].pubkey)).public_key() == made[6].pubkey);
    CHECK(take(w.new_address()).index == 7);
  }
  SECTION("restore from the phrase, in any case and spacing") {
    std::string messy = "  " + phrase + "\n";
    for (char& c : messy) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    Wallet r = take(Wallet::restore(dir / "restored.wallet", "restored", messy, std::nullopt, test_options()));
    CHECK(r.id() != id);  // a new file, the same keys
    for (const auto& a : made) CHECK(take(r.new_address(a.label)) == a);
    CHECK(take(r.key_for(made[2].pubkey)).public_key() == made[2].pubkey);
    CHECK(r.addresses() == made);
  }
  SECTION("restore on another network gives other keys") {
    Wallet m = take(Wallet::restore(dir / "main.wallet", "main", phrase, std::nullopt, test_options(Network::kMain)));
    CHECK(m.network() == Network::kMain);
    CHECK(format_derivation_path(m.key_path(0)) == "m/44'/8433'/0'/0'/0'");
    const WalletAddress a = take(m.new_address());
    CHECK(a.pubkey != made[0].pubkey);
    CHECK(m.encode(a.pubkey).starts_with("chz1"));
  }
}

TEST_CASE("Wallet restore and create refuse bad input", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "w.wallet";
  SECTION("a phrase with a typo names the word") {
    const std::string typo = kPhrase.substr(0, kPhrase.size() - 5) + "titel";
    const auto r = Wallet::restore(file, "w", typo, std::nullopt, test_options());
    CHECK(error_of(r).code == WalletErrc::kInvalidMnemonic);
    CHECK_THAT(r.error().message, Catch::Contains("word 24 \"titel\""));
    CHECK_FALSE(fs::exists(file));
  }
  SECTION("a valid 12-word phrase is not a cheesechain phrase") {
    const auto r = Wallet::restore(file, "w",
                                   "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
                                   "abandon about",
                                   std::nullopt, test_options());
    CHECK(error_of(r).code == WalletErrc::kInvalidMnemonic);
    CHECK_THAT(r.error().message, Catch::Contains("24 words, not 12"));
  }
  SECTION("a bad checksum") {
    const auto r = Wallet::restore(file, "w", "zoo " + kPhrase.substr(kPhrase.find(' ') + 1), std::nullopt,
                                   test_options());
    CHECK(error_of(r).code == WalletErrc::kInvalidMnemonic);
  }
  SECTION("an existing file is never overwritten") {
    write_file(file, "precious bytes");
    CHECK(error_of(Wallet::create(file, "w", std::nullopt, test_options())).code == WalletErrc::kAlreadyExists);
    CHECK(error_of(Wallet::restore(file, "w", kPhrase, std::nullopt, test_options())).code ==
          WalletErrc::kAlreadyExists);
    CHECK(read_file(file) == "precious bytes");
  }
  SECTION("bad names and passphrases") {
    CHECK(error_of(Wallet::create(file, "../x", std::nullopt, test_options())).code == WalletErrc::kInvalidName);
    CHECK(error_of(Wallet::create(file, "w", std::string_view{}, test_options())).code ==
          WalletErrc::kEmptyPassphrase);
  }
  SECTION("open of a missing file") {
    const auto r = Wallet::open(file);
    CHECK(error_of(r).code == WalletErrc::kNotFound);
    CHECK_FALSE(fs::exists(file));  // open never creates a file
  }
  // No temporary file is left behind in any case.
  for (const auto& entry : fs::directory_iterator(dir.path())) CHECK(entry.path() == file);
}

TEST_CASE("Encrypted wallet: locked, unlock, wrong passphrase, relock wipes", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "enc.wallet";
  auto created = take(Wallet::create(file, "enc", "correct horse", test_options(Network::kRegtest, 3)));
  Wallet& w = created.wallet;
  const SecretForms secrets = secret_forms(created.mnemonic.view());
  CHECK(w.is_encrypted());
  CHECK(w.is_locked());  // returned locked, as bitcoind's createwallet with a passphrase
  CHECK_FALSE(w.holds_secrets());
  CHECK(w.kdf_limits() == KdfLimits::minimum());
  check_no_secrets(file, secrets);

  // The keypool hands out addresses while locked, until it runs out.
  std::vector<WalletAddress> made;
  for (int i = 0; i < 3; ++i) made.push_back(take(w.new_address()));
  const auto ran_out = w.new_address();
  CHECK(error_of(ran_out).code == WalletErrc::kKeypoolRanOut);

  const auto locked = w.key_for(made[0].pubkey);
  CHECK(error_of(locked).code == WalletErrc::kLocked);
  CHECK(error_of(w.mnemonic()).code == WalletErrc::kLocked);

  const auto wrong = w.unlock("correct horse!");
  CHECK(error_of(wrong).code == WalletErrc::kWrongPassphrase);
  CHECK(w.is_locked());
  CHECK(error_of(w.unlock("")).code == WalletErrc::kEmptyPassphrase);

  REQUIRE(w.unlock("correct horse").has_value());
  CHECK_FALSE(w.is_locked());
  CHECK(w.holds_secrets());
  CHECK(w.keypool_remaining() == 3);  // refilled on unlock
  CHECK(take(w.key_for(made[2].pubkey)).public_key() == made[2].pubkey);
  CHECK(take(w.mnemonic()).view() == secrets.phrase);
  CHECK(w.unlock("correct horse").has_value());  // unlocking again only checks the passphrase
  CHECK(error_of(w.unlock("nope")).code == WalletErrc::kWrongPassphrase);
  CHECK_FALSE(w.is_locked());  // a wrong passphrase does not change the lock state

  w.lock();
  CHECK(w.is_locked());
  CHECK_FALSE(w.holds_secrets());  // wiped (sodium_free zeroes the guarded pages)
  CHECK(error_of(w.key_for(made[0].pubkey)).code == WalletErrc::kLocked);
  w.lock();  // idempotent

  CHECK(error_of(w.encrypt("again", KdfLimits::minimum())).code == WalletErrc::kAlreadyEncrypted);
  check_no_secrets(file, secrets);

  SECTION("change passphrase") {
    CHECK(error_of(w.change_passphrase("wrong", "new one")).code == WalletErrc::kWrongPassphrase);
    CHECK(error_of(w.change_passphrase("correct horse", "")).code == WalletErrc::kEmptyPassphrase);
    REQUIRE(w.change_passphrase("correct horse", "battery staple").has_value());
    CHECK(w.is_locked());  // the lock state is unchanged
    CHECK(error_of(w.unlock("correct horse")).code == WalletErrc::kWrongPassphrase);
    REQUIRE(w.unlock("battery staple").has_value());
    CHECK(take(w.key_for(made[1].pubkey)).public_key() == made[1].pubkey);
    check_no_secrets(file, secrets);
  }
  SECTION("reopened: still locked, same keys") {
    { Wallet closing = std::move(created.wallet); }
    Wallet again = take(Wallet::open(file));
    CHECK(again.is_encrypted());
    CHECK(again.is_locked());
    CHECK(again.addresses() == made);
    CHECK(error_of(again.key_for(made[0].pubkey)).code == WalletErrc::kLocked);
    REQUIRE(again.unlock("correct horse").has_value());
    CHECK(take(again.key_for(made[0].pubkey)).public_key() == made[0].pubkey);
  }
}

TEST_CASE("Encrypting a wallet removes every trace of the seed from the file", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "plain.wallet";
  Wallet w = take(Wallet::restore(file, "plain", kPhrase, std::nullopt, test_options()));
  const SecretForms secrets = secret_forms(kPhrase);
  std::vector<WalletAddress> made;
  for (int i = 0; i < 3; ++i) made.push_back(take(w.new_address()));

  // An unencrypted wallet stores the entropy in plaintext (documented); this also shows the
  // scanner below would find it. The phrase and the seed are never stored.
  const std::string before = read_file(file);
  CHECK(contains(before, secrets.entropy.span()));
  CHECK_FALSE(contains(before, secrets.seed.span()));
  CHECK_FALSE(contains(before, as_bytes(secrets.phrase)));

  CHECK(error_of(w.unlock("x")).code == WalletErrc::kNotEncrypted);
  CHECK(error_of(w.change_passphrase("x", "y")).code == WalletErrc::kNotEncrypted);
  CHECK(error_of(w.encrypt("")).code == WalletErrc::kEmptyPassphrase);
  REQUIRE(w.encrypt("s3cret", KdfLimits::minimum()).has_value());
  CHECK(w.is_encrypted());
  CHECK(w.is_locked());  // as bitcoind's encryptwallet
  CHECK_FALSE(w.holds_secrets());
  check_no_secrets(file, secrets);
  CHECK_FALSE(fs::exists(fs::path(file.string() + "-journal")));
  // The write-ahead log held page images from before the deletion: encrypt() truncates it.
  if (const fs::path log(file.string() + "-wal"); fs::exists(log)) CHECK(fs::file_size(log) == 0);

  // Still usable, and still the same keys.
  REQUIRE(w.unlock("s3cret").has_value());
  for (const auto& a : made) CHECK(take(w.key_for(a.pubkey)).public_key() == a.pubkey);
  CHECK(take(w.mnemonic()).view() == kPhrase);
  w.lock();
  check_no_secrets(file, secrets);
}

TEST_CASE("Corrupt and foreign files give clear errors and stay unchanged", "[wallet][wallet]") {
  TempDir dir;
  const fs::path good = dir / "good.wallet";
  {
    Wallet w = take(Wallet::restore(good, "good", kPhrase, std::nullopt, test_options()));
    REQUIRE(w.new_address().has_value());
  }
  const std::string wallet_bytes = read_file(good);
  REQUIRE(wallet_bytes.size() >= 4 * 4096);

  struct Case {
    const char* what;
    std::string bytes;
    WalletErrc expected;
  };
  std::string garbage(8192, '\0');
  randombytes_buf(garbage.data(), garbage.size());
  std::string damaged = wallet_bytes;
  for (std::size_t i = 4096 + 100; i < 2 * 4096; ++i) damaged[i] = static_cast<char>(i * 7);  // page 2
  std::string newer = wallet_bytes;  // user_version 2 in the header (offset 60, big-endian)
  newer[63] = 2;

  const std::vector<Case> cases = {
      {"random garbage", garbage, WalletErrc::kNotAWallet},
      {"a text file", "hello, I am not a wallet\n", WalletErrc::kNotAWallet},
      {"an empty file", "", WalletErrc::kNotAWallet},
      {"truncated to half", wallet_bytes.substr(0, wallet_bytes.size() / 2), WalletErrc::kCorrupt},
      {"truncated inside the first page", wallet_bytes.substr(0, 2000), WalletErrc::kCorrupt},
      {"truncated inside the header", wallet_bytes.substr(0, 60), WalletErrc::kCorrupt},
      {"truncated inside the magic", wallet_bytes.substr(0, 10), WalletErrc::kCorrupt},
      {"a damaged page", damaged, WalletErrc::kCorrupt},
      {"a newer format", newer, WalletErrc::kNewerVersion},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const fs::path file = dir / "bad.wallet";
    write_file(file, c.bytes);
    const auto r = Wallet::open(file);
    CHECK(error_of(r).code == c.expected);
    CHECK_THAT(r.error().message, Catch::Contains(file.string()));
    CHECK(read_file(file) == c.bytes);  // never written
    CHECK(error_of(Wallet::create(file, "bad", std::nullopt, test_options())).code == WalletErrc::kAlreadyExists);
    CHECK(read_file(file) == c.bytes);
    fs::remove(file);
  }

  SECTION("a database of another SQLite application") {
    const fs::path other = dir / "other.db";
    exec_sql(other, "PRAGMA application_id = 1234; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    const std::string bytes = read_file(other);
    const auto r = Wallet::open(other);
    CHECK(error_of(r).code == WalletErrc::kNotAWallet);
    CHECK_THAT(r.error().message, Catch::Contains("another application"));
    CHECK(read_file(other) == bytes);
  }
  SECTION("a plain SQLite database") {
    const fs::path other = dir / "plain.db";
    exec_sql(other, "CREATE TABLE meta(key, value); INSERT INTO meta VALUES ('format', 'cheesechain-wallet');");
    const std::string bytes = read_file(other);
    const auto r = Wallet::open(other);
    CHECK(error_of(r).code == WalletErrc::kNotAWallet);
    CHECK_THAT(r.error().message, Catch::Contains("not a cheesechain wallet"));
    CHECK(read_file(other) == bytes);
  }
  SECTION("our application id but the tables are damaged") {
    const fs::path file = dir / "tampered.wallet";
    fs::copy_file(good, file);
    exec_sql(file, "DELETE FROM meta WHERE key = 'network';");
    const std::string bytes = read_file(file);
    const auto r = Wallet::open(file);
    CHECK(error_of(r).code == WalletErrc::kCorrupt);
    CHECK_THAT(r.error().message, Catch::Contains("network"));
    CHECK(read_file(file) == bytes);
  }
  SECTION("keys that the seed did not derive") {
    const fs::path file = dir / "swapped.wallet";
    fs::copy_file(good, file);
    exec_sql(file, "UPDATE keys SET pubkey = zeroblob(32) WHERE idx = 3;");
    const auto r = Wallet::open(file);
    CHECK(error_of(r).code == WalletErrc::kCorrupt);
    CHECK_THAT(r.error().message, Catch::Contains("key 3"));

    // Encrypted: the keys are checked when the secrets are decrypted.
    const fs::path enc = dir / "swapped-enc.wallet";
    { REQUIRE(Wallet::restore(enc, "e", kPhrase, "pw", test_options()).has_value()); }
    exec_sql(enc, "UPDATE keys SET pubkey = zeroblob(32) WHERE idx = 4;");
    Wallet w = take(Wallet::open(enc));
    CHECK(error_of(w.unlock("pw")).code == WalletErrc::kCorrupt);
    CHECK(w.is_locked());
    CHECK_FALSE(w.holds_secrets());
  }
  SECTION("a directory") {
    fs::create_directory(dir / "dir.wallet");
    CHECK(error_of(Wallet::open(dir / "dir.wallet")).code == WalletErrc::kNotAWallet);
  }
  CHECK(read_file(good) == wallet_bytes);
  CHECK(Wallet::open(good).has_value());
}

TEST_CASE("Wallet backup is an openable copy", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "w.wallet";
  const fs::path dest = dir / "backups" / "w-backup.wallet";
  fs::create_directory(dir / "backups");
  auto created = take(Wallet::create(file, "w", "pass", test_options()));
  Wallet& w = created.wallet;
  const SecretForms secrets = secret_forms(created.mnemonic.view());
  std::vector<WalletAddress> made;
  for (int i = 0; i < 2; ++i) made.push_back(take(w.new_address("a")));
  WalletTx tx;
  tx.txid.bytes[0] = 9;
  tx.amount = 5 * kCoin;
  tx.time = 1000;
  REQUIRE(w.record_transaction(tx).has_value());

  REQUIRE(w.backup(dest).has_value());
  CHECK(file_mode(dest) == 0600U);
  check_no_secrets(dest, secrets);
  // A second backup replaces the first (atomically, through a temporary file).
  made.push_back(take(w.new_address("b")));
  REQUIRE(w.backup(dest).has_value());
  for (const auto& entry : fs::directory_iterator(dir / "backups")) CHECK(entry.path() == dest);

  CHECK(error_of(w.backup(file)).code == WalletErrc::kBackupFailed);
  CHECK(error_of(w.backup(dir / "no-such-dir" / "x.wallet")).code == WalletErrc::kBackupFailed);
  CHECK(error_of(w.backup(dir / "backups")).code == WalletErrc::kBackupFailed);

  Wallet copy = take(Wallet::open(dest));
  CHECK(copy.id() == w.id());
  CHECK(copy.name() == "w");
  CHECK(copy.addresses() == made);
  CHECK(copy.is_locked());
  REQUIRE(copy.unlock("pass").has_value());
  CHECK(take(copy.key_for(made[2].pubkey)).public_key() == made[2].pubkey);
  const auto txs = take(copy.list_transactions(10));
  REQUIRE(txs.size() == 1);
  CHECK(txs[0] == tx);
}

TEST_CASE("Wallet transaction records", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "tx.wallet";
  Wallet w = take(Wallet::restore(file, "tx", kPhrase, std::nullopt, test_options()));
  const PublicKey me = take(w.new_address()).pubkey;
  PublicKey other{};
  other.fill(0x42);

  auto make = [&](std::uint8_t id, TxDirection d, std::int64_t time, Amount amount) {
    WalletTx tx;
    tx.txid.bytes.fill(id);
    tx.direction = d;
    tx.time = time;
    tx.amount = amount;
    tx.counterparty = other;
    return tx;
  };
  WalletTx coinbase = make(1, TxDirection::kGenerate, 100, 50 * kCoin);
  coinbase.counterparty.reset();
  coinbase.height = 1;
  WalletTx sent = make(2, TxDirection::kSend, 200, 3 * kCoin);
  sent.fee = 1000;
  WalletTx self_send = make(3, TxDirection::kSend, 300, kCoin);
  self_send.counterparty = me;
  WalletTx self_receive = make(3, TxDirection::kReceive, 300, kCoin);
  self_receive.counterparty = me;
  WalletTx received = make(4, TxDirection::kReceive, 150, 7);  // recorded late, older time

  for (const auto& tx : {coinbase, sent, self_send, self_receive, received})
    REQUIRE(w.record_transaction(tx).has_value());

  // Oldest first, by time then by order of recording.
  const std::vector<WalletTx> all = take(w.list_transactions(100));
  CHECK(all == std::vector<WalletTx>{coinbase, received, sent, self_send, self_receive});
  CHECK(take(w.list_transactions(2)) == std::vector<WalletTx>{self_send, self_receive});
  CHECK(take(w.list_transactions(2, 1)) == std::vector<WalletTx>{sent, self_send});
  CHECK(take(w.list_transactions(10, 4)) == std::vector<WalletTx>{coinbase});
  CHECK(take(w.list_transactions(10, 5)).empty());
  CHECK(take(w.list_transactions(0)).empty());
  CHECK(take(w.find_transaction(self_send.txid)) == std::vector<WalletTx>{self_receive, self_send});
  CHECK(to_string(TxDirection::kGenerate) == "generate");

  // A confirmation updates the record in place; a reorg takes it back to unconfirmed.
  sent.height = 12;
  REQUIRE(w.record_transaction(sent).has_value());
  CHECK(take(w.find_transaction(sent.txid)) == std::vector<WalletTx>{sent});
  sent.height.reset();
  REQUIRE(w.record_transaction(sent).has_value());
  CHECK(take(w.find_transaction(sent.txid)) == std::vector<WalletTx>{sent});
  CHECK(take(w.list_transactions(100)).size() == 5);

  REQUIRE(w.remove_transaction(self_send.txid).has_value());
  CHECK(take(w.find_transaction(self_send.txid)).empty());

  WalletTx too_much = make(9, TxDirection::kReceive, 1, kMaxMoney + 1);
  CHECK(error_of(w.record_transaction(too_much)).code == WalletErrc::kInvalidTransaction);

  // Records persist.
  { Wallet closing = std::move(w); }
  Wallet again = take(Wallet::open(file));
  CHECK(take(again.list_transactions(100)) == std::vector<WalletTx>{coinbase, received, sent});
}

TEST_CASE("Wallet block records, sync point and reorg unconfirm", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "sync.wallet";
  Wallet w = take(Wallet::restore(file, "sync", kPhrase, std::nullopt, test_options()));
  const PublicKey me = take(w.new_address()).pubkey;
  CHECK_FALSE(take(w.synced_to()).has_value());

  auto record = [&](std::uint8_t id, std::uint64_t height) {
    WalletTx tx;
    tx.txid.bytes.fill(id);
    tx.direction = TxDirection::kReceive;
    tx.height = height;
    tx.time = static_cast<std::int64_t>(height) * 60;
    tx.amount = id;
    tx.own = me;
    tx.raw = Bytes{id, id, id};
    return tx;
  };
  auto block = [](std::uint8_t b, std::uint64_t height) {
    WalletBlockRef ref;
    ref.hash.bytes.fill(b);
    ref.height = height;
    return ref;
  };
  const std::vector<WalletTx> at5{record(1, 5), record(2, 5)};
  REQUIRE(w.record_transactions(at5, block(0xA5, 5)).has_value());
  REQUIRE(w.record_transactions(std::vector<WalletTx>{record(3, 7)}, block(0xA7, 7)).has_value());
  CHECK(take(w.synced_to()) == block(0xA7, 7));
  CHECK(take(w.transaction_count()) == 3);
  CHECK(take(w.find_transaction(record(1, 5).txid)) == std::vector<WalletTx>{record(1, 5)});

  // A record that fails its checks leaves the whole batch and the sync point unwritten.
  WalletTx bad = record(4, 8);
  bad.amount = kMaxMoney + 1;
  const std::vector<WalletTx> batch{record(5, 8), bad};
  CHECK(error_of(w.record_transactions(batch, block(0xA8, 8))).code == WalletErrc::kInvalidTransaction);
  CHECK(take(w.find_transaction(record(5, 8).txid)).empty());
  CHECK(take(w.synced_to()) == block(0xA7, 7));

  // A reorg back to height 5: records above it become unconfirmed, the rest stay.
  REQUIRE(w.unconfirm_above(5, block(0xB5, 5)).has_value());
  CHECK(take(w.synced_to()) == block(0xB5, 5));
  const auto pending = take(w.unconfirmed_transactions());
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].txid == record(3, 7).txid);
  CHECK_FALSE(pending[0].height.has_value());
  CHECK(pending[0].raw == Bytes{3, 3, 3});
  CHECK(take(w.find_transaction(record(2, 5).txid))[0].height == 5);

  // An update without own/raw keeps the stored ones.
  WalletTx bare = record(3, 9);
  bare.own.reset();
  bare.raw.clear();
  REQUIRE(w.record_transaction(bare).has_value());
  CHECK(take(w.find_transaction(bare.txid)) == std::vector<WalletTx>{record(3, 9)});

  // Forgetting the sync point (the chain no longer has the block) keeps the records.
  REQUIRE(w.unconfirm_above(0, std::nullopt).has_value());
  CHECK_FALSE(take(w.synced_to()).has_value());
  CHECK(take(w.unconfirmed_transactions()).size() == 3);
  { Wallet closing = std::move(w); }
  Wallet again = take(Wallet::open(file));
  CHECK(take(again.transaction_count()) == 3);
  CHECK_FALSE(take(again.synced_to()).has_value());
}

TEST_CASE("Keypool look-ahead and mark_used", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "pool.wallet";
  Wallet w = take(Wallet::restore(file, "pool", kPhrase, "pw", test_options(Network::kRegtest, 4)));
  REQUIRE(w.is_locked());
  CHECK(w.addresses().empty());
  CHECK(w.keypool_remaining() == 4);

  // The chain shows a payment to the third key of the restored wallet: it and the earlier ones
  // become handed-out addresses.
  const PublicKey third = [&] {
    const ExtendedKey k = slip10_derive(mnemonic_to_seed(kPhrase).span(), w.key_path(2));
    return k.public_key();
  }();
  REQUIRE(w.key_index(third) == 2U);
  REQUIRE(w.mark_used(third).has_value());
  CHECK(w.addresses().size() == 3);
  CHECK(w.addresses()[2].pubkey == third);
  CHECK(w.keypool_remaining() == 1);        // locked: not refilled
  REQUIRE(w.mark_used(third).has_value());  // idempotent
  PublicKey stranger{};
  CHECK(error_of(w.mark_used(stranger)).code == WalletErrc::kUnknownKey);

  CHECK(take(w.new_address()).index == 3);
  CHECK(error_of(w.new_address()).code == WalletErrc::kKeypoolRanOut);
  REQUIRE(w.unlock("pw").has_value());
  CHECK(w.keypool_remaining() == 4);
  CHECK(take(w.new_address()).index == 4);

  // A wallet opened with keypool 0 still derives on demand while unlocked.
  w.lock();
  { Wallet closing = std::move(w); }
  Wallet zero = take(Wallet::open(file, 0));
  REQUIRE(zero.unlock("pw").has_value());
  const std::size_t before = zero.keypool_remaining();
  for (std::size_t i = 0; i < before + 2; ++i) REQUIRE(zero.new_address().has_value());
  CHECK(zero.keypool_remaining() == 0);
  CHECK(zero.addresses().size() == 5 + before + 2);
}

TEST_CASE("Wallet file: write-ahead log, batched records, one file after close", "[wallet][wallet]") {
  TempDir dir;
  const fs::path file = dir / "wal.wallet";
  const fs::path log = fs::path(file.string() + "-wal");
  Wallet w = take(Wallet::restore(file, "wal", kPhrase, std::nullopt, test_options()));
  const PublicKey me = take(w.new_address()).pubkey;
  // The journal mode is stored in the file header: bytes 18 and 19 are 2 for WAL.
  const std::string header = read_file(file).substr(0, 20);
  CHECK(header[18] == 2);
  CHECK(header[19] == 2);

  std::vector<WalletTx> batch;
  for (std::uint8_t i = 1; i <= 200; ++i) {
    WalletTx tx;
    tx.txid.bytes.fill(i);
    tx.direction = TxDirection::kReceive;
    tx.amount = i;
    tx.own = me;
    tx.raw = Bytes{i};
    batch.push_back(tx);
  }
  WalletBlockRef at;
  at.hash.bytes.fill(0xB1);
  at.height = 1;
  // Not synced at commit, and still atomic and in the file for the next reader.
  REQUIRE(w.record_transactions(batch, at, WalletSync::kRederivable).has_value());
  CHECK(fs::exists(log));
  std::vector<Hash256> gone{batch[0].txid, batch[1].txid};
  REQUIRE(w.remove_transactions(gone).has_value());
  // The durable default works after a relaxed write on the same connection.
  WalletTx sent = batch[2];
  sent.direction = TxDirection::kSend;
  REQUIRE(w.record_transaction(sent).has_value());
  CHECK(take(w.transaction_count()) == 199);
  { Wallet closing = std::move(w); }
  // Closed: the log is folded into the file and removed.
  CHECK_FALSE(fs::exists(log));
  CHECK_FALSE(fs::exists(fs::path(file.string() + "-shm")));
  Wallet again = take(Wallet::open(file));
  CHECK(take(again.transaction_count()) == 199);
  CHECK(take(again.synced_to()) == at);
  CHECK(take(again.find_transaction(batch[0].txid)).empty());
}
