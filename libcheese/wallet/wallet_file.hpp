#pragma once

// The wallet file on disk (docs/wallet.md): the format's constants and schema, and the POSIX
// handling that keeps the file whole and private: exclusive creation with mode 0600, fsync,
// publication without replacing anything, and the flock held while a wallet is open.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"
#include "wallet/wallet.hpp"
#include "wallet/wallet_db.hpp"

namespace cheese::wallet_detail {

// ---- file format (docs/wallet.md) -------------------------------------------------------------

inline constexpr std::uint32_t kApplicationId = 0x43485A57;  // "CHZW" in the SQLite header, offset 68
inline constexpr std::int64_t kFormatVersion = 1;            // PRAGMA user_version, offset 60
inline constexpr std::string_view kFormatTag = "cheesechain-wallet";
inline constexpr std::size_t kSqliteHeaderSize = 100;
inline constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};

inline constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY NOT NULL,
  value NOT NULL
) WITHOUT ROWID;
CREATE TABLE keys(
  idx INTEGER PRIMARY KEY CHECK (idx >= 0),
  pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 32),
  issued INTEGER NOT NULL DEFAULT 0 CHECK (issued IN (0, 1)),
  label TEXT NOT NULL DEFAULT ''
);
CREATE TABLE transactions(
  id INTEGER PRIMARY KEY,
  txid BLOB NOT NULL CHECK (length(txid) = 32),
  direction INTEGER NOT NULL CHECK (direction IN (0, 1, 2)),
  height INTEGER CHECK (height IS NULL OR height >= 0),
  amount INTEGER NOT NULL CHECK (amount >= 0),
  fee INTEGER NOT NULL CHECK (fee >= 0),
  counterparty BLOB CHECK (counterparty IS NULL OR length(counterparty) = 32),
  time INTEGER NOT NULL,
  own BLOB CHECK (own IS NULL OR length(own) = 32),
  raw BLOB,
  UNIQUE (txid, direction)
);
CREATE INDEX transactions_by_time ON transactions(time, id);
CREATE TABLE sync(
  id INTEGER PRIMARY KEY CHECK (id = 0),
  hash BLOB NOT NULL CHECK (length(hash) = 32),
  height INTEGER NOT NULL CHECK (height >= 0)
);
)sql";

//! Checks the first bytes of a file (the SQLite header) before SQLite touches it: a foreign
//! file, a truncated one or one from a newer format fails with a clear error.
void check_header(const std::filesystem::path& file, std::string_view header);

//! The connection settings of every wallet file: write-ahead log, full sync by default
//! (WalletSync), secure_delete.
void set_pragmas(Db& db);

//! A meta row (INSERT OR REPLACE).
void put_meta(Db& db, std::string_view key, std::int64_t v);
void put_meta(Db& db, std::string_view key, ByteSpan v);
void put_meta(Db& db, std::string_view key, std::string_view v);

// ---- files ------------------------------------------------------------------------------------

std::string errno_text(int err);

//! A new empty file with mode 0600; fails if anything exists at the path.
void create_exclusive(const std::filesystem::path& p, WalletErrc code);

void fsync_path(const std::filesystem::path& p, bool directory, WalletErrc code);

//! The directory holding `file` ("." for a bare file name).
std::filesystem::path parent_dir(const std::filesystem::path& file);

//! A temporary file beside `dest` that is removed (with its journal) unless released.
class TempFile {
 public:
  TempFile(const std::filesystem::path& dest, WalletErrc code);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

//! Moves a finished temporary file to `dest` without ever replacing an existing file.
void publish_no_replace(const std::filesystem::path& tmp, const std::filesystem::path& dest);

//! A descriptor of the wallet file holding flock(LOCK_EX) for as long as the wallet is open, so
//! that a second cheesed (or a second load in this one) is refused. flock is independent of the
//! POSIX locks SQLite takes, and this descriptor stays open until after SQLite has closed, so
//! closing it never drops SQLite's locks.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& p);
  ~FileLock() { close(); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  //! Up to the first 100 bytes of the file (the SQLite header).
  std::string read_header() const;

 private:
  void close() noexcept;
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace cheese::wallet_detail
