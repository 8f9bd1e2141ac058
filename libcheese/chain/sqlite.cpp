#include "chain/sqlite.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace cheese {

Database::Database(const std::filesystem::path& path, Sync sync) : path_(path) {
  const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StorageError(fmt::format("cannot open database {}: {}", path.string(), msg));
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    // journal_mode is the first real read of the file: a file that is not a database fails here.
    exec("PRAGMA journal_mode=WAL");
    exec(sync == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

void Database::fail(std::string_view what, int rc) const {
  const char* msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
    throw StorageError(fmt::format("database {} is corrupt or not a cheesechain database ({}: {})",
                                   path_.string(), what, msg));
  }
  throw StorageError(fmt::format("database {}: {}: {}", path_.string(), what, msg));
}

void Database::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    fail(sql, rc);
  }
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(sql, rc);
  return Statement(*this, stmt);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int i, std::int64_t v) {
  if (int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

Statement& Statement::bind(int i, ByteSpan v) {
  // An empty blob must still be a blob, not NULL.
  static const std::uint8_t kEmpty = 0;
  const void* data = v.empty() ? &kEmpty : v.data();
  if (int rc = sqlite3_bind_blob(stmt_, i, data, static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    db_->fail("bind", rc);
  }
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  if (int rc = sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    db_->fail("bind", rc);
  }
  return *this;
}

Statement& Statement::bind_null(int i) {
  if (int rc = sqlite3_bind_null(stmt_, i); rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string sql = sqlite3_sql(stmt_) ? sqlite3_sql(stmt_) : "statement";
  sqlite3_reset(stmt_);
  db_->fail(sql, rc);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }

ByteSpan Statement::column_blob_view(int i) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
  const int n = sqlite3_column_bytes(stmt_, i);
  if (!p || n <= 0) return {};
  return {p, static_cast<std::size_t>(n)};
}

Bytes Statement::column_blob(int i) const {
  auto v = column_blob_view(i);
  return Bytes(v.begin(), v.end());
}

std::string Statement::column_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  const int n = sqlite3_column_bytes(stmt_, i);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool Statement::column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

DbTransaction::DbTransaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

DbTransaction::~DbTransaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // Nothing more can be done; the connection stays in autocommit mode after a failed ROLLBACK.
    }
  }
}

void DbTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace cheese
