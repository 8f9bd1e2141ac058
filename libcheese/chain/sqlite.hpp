#pragma once

// The chain store's database: the shared SQLite wrapper (storage/sqlite.hpp) opened in WAL mode,
// with failures reported as StorageError naming the file.

#include <filesystem>
#include <string_view>

#include "storage/sqlite.hpp"

namespace cheese {

//! A storage failure: the database is unusable, full, corrupt or of the wrong kind.
class StorageError : public SqliteError {
 public:
  using SqliteError::SqliteError;
};

//! One SQLite connection to the chain database. Not shared between threads.
class Database : public SqliteDatabase {
 public:
  enum class Sync { kNormal, kFull };
  //! Opens (creating if needed) a database in WAL mode; StorageError when it cannot.
  Database(const std::filesystem::path& path, Sync sync);
  //! Throws StorageError naming the file (and saying so when it is corrupt or not a database).
  [[noreturn]] void fail(std::string_view what, int rc) const override;
};

using Statement = SqliteStatement;
using DbTransaction = SqliteTransaction;

}  // namespace cheese
