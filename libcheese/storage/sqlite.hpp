#pragma once

// The one SQLite wrapper of libcheese: a connection, prepared statements and BEGIN IMMEDIATE
// transactions, used by the chain store (chain/sqlite.hpp) and by wallet files. Not thread-safe:
// one connection belongs to one thread.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cheese {

//! An SQLite failure with its extended result code (0 when it did not come from SQLite).
class SqliteError : public std::runtime_error {
 public:
  explicit SqliteError(const std::string& what, int code = 0) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  int primary() const { return code_ & 0xFF; }
  bool is_busy() const;     //!< SQLITE_BUSY or SQLITE_LOCKED: another connection holds the file
  bool is_corrupt() const;  //!< SQLITE_CORRUPT or SQLITE_NOTADB

 private:
  int code_;
};

class SqliteStatement;

//! One SQLite connection with extended result codes.
class SqliteDatabase {
 public:
  enum class Open { kExisting, kCreate };
  SqliteDatabase(const std::filesystem::path& path, Open mode);
  virtual ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  void exec(std::string_view sql);
  SqliteStatement prepare(std::string_view sql);
  //! The first column of the first row of a query as an integer (0 without rows).
  std::int64_t query_int(std::string_view sql);
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() { return db_; }
  //! Throws the error of a failed call (`what`: the SQL or the step). A subclass may throw its
  //! own kind, which must derive from SqliteError.
  [[noreturn]] virtual void fail(std::string_view what, int rc) const;

 protected:
  //! SQLite's message for the last failure on this connection (or for rc).
  std::string message(int rc) const;

 private:
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

//! A prepared statement; bind parameters are 1-based, columns 0-based.
class SqliteStatement {
 public:
  SqliteStatement(SqliteDatabase& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  SqliteStatement(SqliteStatement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  SqliteStatement(const SqliteStatement&) = delete;
  ~SqliteStatement();

  SqliteStatement& bind(int i, std::int64_t v);
  SqliteStatement& bind(int i, ByteSpan v);          //!< an empty span is an empty blob, not NULL
  SqliteStatement& bind(int i, std::string_view v);  //!< an empty string is text, not NULL
  SqliteStatement& bind_null(int i);
  //! True while a row is available.
  bool step();
  //! Runs a statement that returns no rows, then resets it and clears its bindings.
  void run();
  void reset();

  std::int64_t column_int(int i) const;
  Bytes column_blob(int i) const;
  ByteSpan column_blob_view(int i) const;  //!< valid until the next step/reset; empty for NULL
  std::string column_text(int i) const;
  bool column_is_null(int i) const;
  bool column_is_int(int i) const;
  bool column_is_blob(int i) const;
  bool column_is_text(int i) const;

 private:
  SqliteDatabase* db_;
  sqlite3_stmt* stmt_;
};

//! BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() is reached.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDatabase& db);
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  void commit();

 private:
  SqliteDatabase& db_;
  bool done_ = false;
};

}  // namespace cheese
