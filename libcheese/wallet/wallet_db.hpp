#pragma once

// The wallet layer's own small SQLite wrapper (cheese_wallet links SQLite, not cheese_chain).
// Internal to libcheese/wallet: callers see Wallet and WalletError only.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "primitives/bytes.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace cheese::wallet_detail {

//! An SQLite failure with its result code (primary code in the low byte).
class DbError : public std::runtime_error {
 public:
  DbError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  int primary() const { return code_ & 0xFF; }
  bool is_busy() const;
  bool is_corrupt() const;

 private:
  int code_;
};

class Stmt;

//! One connection to an existing file (never creates one: the caller creates it with mode 0600).
class Db {
 public:
  explicit Db(const std::filesystem::path& path);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(std::string_view sql);
  Stmt prepare(std::string_view sql);
  //! The first column of the first row of a query as an integer (0 without rows).
  std::int64_t query_int(std::string_view sql);
  [[noreturn]] void fail(std::string_view what, int rc) const;
  void close() noexcept;

 private:
  sqlite3* db_ = nullptr;
};

//! A prepared statement; bind parameters 1-based, columns 0-based.
class Stmt {
 public:
  Stmt(Db& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, ByteSpan v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind_null(int i);
  //! True while a row is available.
  bool step();
  //! Runs a statement that returns no rows.
  void run();

  bool is_null(int i) const;
  bool is_int(int i) const;
  bool is_blob(int i) const;
  bool is_text(int i) const;
  std::int64_t column_int(int i) const;
  //! Valid until the next step; empty for NULL and empty blobs.
  ByteSpan column_blob(int i) const;
  std::string column_text(int i) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
};

//! BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() is reached.
class Txn {
 public:
  explicit Txn(Db& db);
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace cheese::wallet_detail
