#include "wallet/wallet_file.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "wallet/wallet_internal.hpp"

namespace cheese::wallet_detail {

namespace fs = std::filesystem;

namespace {

std::string random_hex(std::size_t bytes) {
  ensure_sodium();
  Bytes b(bytes);
  randombytes_buf(b.data(), b.size());
  return to_hex(b);
}

std::uint32_t be32_at(std::string_view s, std::size_t offset) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[offset + i]);
  return v;
}

}  // namespace

// ---- file format ------------------------------------------------------------------------------

void check_header(const fs::path& file, std::string_view header) {
  if (header.empty())
    fail(WalletErrc::kNotAWallet, fmt::format("{} is empty, not a cheesechain wallet", file.string()));
  if (!header.starts_with(kSqliteMagic)) {
    if (header.size() < kSqliteMagic.size() && kSqliteMagic.starts_with(header)) {
      fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: truncated", file.string()));
    }
    fail(WalletErrc::kNotAWallet,
         fmt::format("{} is not a cheesechain wallet: it is not an SQLite database (a damaged file or a "
                     "different kind of file)",
                     file.string()));
  }
  if (header.size() < kSqliteHeaderSize) {
    fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: truncated", file.string()));
  }
  if (const std::uint32_t app = be32_at(header, 68); app != kApplicationId) {
    fail(WalletErrc::kNotAWallet,
         app == 0 ? fmt::format("{} is an SQLite database but not a cheesechain wallet", file.string())
                  : fmt::format("{} is an SQLite database of another application (application_id {:#010x}), "
                                "not a cheesechain wallet",
                                file.string(), app));
  }
  const auto version = static_cast<std::int32_t>(be32_at(header, 60));
  if (version > kFormatVersion) {
    fail(WalletErrc::kNewerVersion,
         fmt::format("wallet file {} has format version {}; this cheesechain reads version {}: use a newer cheesed",
                     file.string(), version, kFormatVersion));
  }
  if (version < 1)
    fail(WalletErrc::kCorrupt, fmt::format("wallet file {} is corrupt: no format version", file.string()));
}

void set_pragmas(Db& db) {
  // Write-ahead log: a commit appends to <file>-wal, with one fsync under synchronous=FULL (the
  // connection's default: every write is durable at commit unless the caller asks for
  // WalletSync::kRederivable, which drops the fsync), where a rollback journal costs four fsyncs
  // and a create and unlink of the journal. The log is folded back into the file every 1,000
  // pages and when the wallet is closed, which deletes it. secure_delete overwrites deleted
  // content (encrypt() then truncates the log: Wallet::encrypt). SQLite's locking_mode=EXCLUSIVE
  // is not used: FileLock gives the exclusivity.
  {
    Stmt s = db.prepare("PRAGMA journal_mode=WAL");
    if (!s.step() || s.column_text(0) != "wal") {
      fail(WalletErrc::kStorage, fmt::format("cannot use a write-ahead log for {}: journal mode is {}",
                                             db.path().string(), s.column_text(0)));
    }
  }
  db.exec("PRAGMA synchronous=FULL");
  db.exec("PRAGMA secure_delete=ON");
}

void put_meta(Db& db, std::string_view key, std::int64_t v) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, v).run();
}
void put_meta(Db& db, std::string_view key, ByteSpan v) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, v).run();
}
void put_meta(Db& db, std::string_view key, std::string_view v) {
  db.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, v).run();
}

// ---- files ------------------------------------------------------------------------------------

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

void create_exclusive(const fs::path& p, WalletErrc code) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
  if (fd < 0) {
    const int err = errno;
    fail(err == EEXIST ? WalletErrc::kAlreadyExists : code,
         fmt::format("cannot create {}: {}", p.string(), errno_text(err)));
  }
  const int rc = ::fchmod(fd, S_IRUSR | S_IWUSR);  // exactly 0600, whatever the umask
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail(code, fmt::format("cannot set mode 0600 on {}: {}", p.string(), errno_text(err)));
}

void fsync_path(const fs::path& p, bool directory, WalletErrc code) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) fail(code, fmt::format("cannot open {} to sync it: {}", p.string(), errno_text(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot sync a directory (EINVAL); the file itself was synced.
  if (rc != 0 && !(directory && err == EINVAL)) {
    fail(code, fmt::format("cannot sync {}: {}", p.string(), errno_text(err)));
  }
}

fs::path parent_dir(const fs::path& file) {
  const fs::path parent = file.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

TempFile::TempFile(const fs::path& dest, WalletErrc code)
    : path_(parent_dir(dest) / fmt::format(".{}.{}.tmp", dest.filename().string(), random_hex(8))) {
  create_exclusive(path_, code);
}

TempFile::~TempFile() {
  if (!released_) {
    std::error_code ec;
    fs::remove(path_, ec);
    fs::remove(fs::path(path_.string() + "-journal"), ec);
    fs::remove(fs::path(path_.string() + "-wal"), ec);
    fs::remove(fs::path(path_.string() + "-shm"), ec);
  }
}

void publish_no_replace(const fs::path& tmp, const fs::path& dest) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) == 0) return;
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {  // no RENAME_NOREPLACE on this file system: link + unlink
    if (::link(tmp.c_str(), dest.c_str()) == 0) {
      ::unlink(tmp.c_str());
      return;
    }
    err = errno;
  }
  fail(err == EEXIST ? WalletErrc::kAlreadyExists : WalletErrc::kStorage,
       err == EEXIST ? fmt::format("{} already exists: an existing file is never overwritten", dest.string())
                     : fmt::format("cannot create {}: {}", dest.string(), errno_text(err)));
}

FileLock::FileLock(const fs::path& p) : path_(p) {
  fd_ = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    if (err == ENOENT) fail(WalletErrc::kNotFound, fmt::format("no wallet file at {}", p.string()));
    fail(WalletErrc::kStorage, fmt::format("cannot open {}: {}", p.string(), errno_text(err)));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    close();
    fail(WalletErrc::kNotAWallet, fmt::format("{} is not a regular file, so not a wallet", p.string()));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close();
    if (err == EWOULDBLOCK) {
      fail(WalletErrc::kInUse,
           fmt::format("wallet file {} is in use by another process (or already loaded)", p.string()));
    }
    fail(WalletErrc::kStorage, fmt::format("cannot lock {}: {}", p.string(), errno_text(err)));
  }
}

std::string FileLock::read_header() const {
  std::string header(kSqliteHeaderSize, '\0');
  std::size_t got = 0;
  while (got < header.size()) {
    const ssize_t n = ::pread(fd_, header.data() + got, header.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(WalletErrc::kStorage, fmt::format("cannot read {}: {}", path_.string(), errno_text(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  header.resize(got);
  return header;
}

void FileLock::close() noexcept {
  if (fd_ >= 0) ::close(fd_);  // also releases the flock
  fd_ = -1;
}

}  // namespace cheese::wallet_detail
