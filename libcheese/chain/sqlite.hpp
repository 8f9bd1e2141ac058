#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cheese {

//! A storage failure: the database is unusable, full, corrupt or of the wrong kind.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Statement;

//! One SQLite connection. Not shared between threads.
class Database {
 public:
  enum class Sync { kNormal, kFull };
  //! Opens (creating if needed) a database in WAL mode.
  Database(const std::filesystem::path& path, Sync sync);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql);
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() { return db_; }
  [[noreturn]] void fail(std::string_view what, int rc) const;

 private:
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

//! A prepared statement; bind parameters are 1-based, columns 0-based.
class Statement {
 public:
  Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, ByteSpan v);
  Statement& bind(int i, std::string_view v);
  Statement& bind_null(int i);
  //! True while a row is available.
  bool step();
  //! Runs a statement that returns no rows, then resets it.
  void run();
  void reset();

  std::int64_t column_int(int i) const;
  Bytes column_blob(int i) const;
  ByteSpan column_blob_view(int i) const;  //!< valid until the next step/reset
  std::string column_text(int i) const;
  bool column_is_null(int i) const;

 private:
  Database* db_;
  sqlite3_stmt* stmt_;
};

//! BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() is reached.
class DbTransaction {
 public:
  explicit DbTransaction(Database& db);
  ~DbTransaction();
  void commit();
  DbTransaction(const DbTransaction&) = delete;
  DbTransaction& operator=(const DbTransaction&) = delete;

 private:
  Database& db_;
  bool done_ = false;
};


}  // namespace cheese
