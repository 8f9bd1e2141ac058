#include "storage/sqlite.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace cheese {

bool SqliteError::is_busy() const { return primary() == SQLITE_BUSY || primary() == SQLITE_LOCKED; }
bool SqliteError::is_corrupt() const { return primary() == SQLITE_CORRUPT || primary() == SQLITE_NOTADB; }

SqliteDatabase::SqliteDatabase(const std::filesystem::path& path, Open mode) : path_(path) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (mode == Open::kCreate ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = message(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw SqliteError(fmt::format("cannot open: {}", msg), rc);
  }
  sqlite3_extended_result_codes(db_, 1);
}

SqliteDatabase::~SqliteDatabase() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

std::string SqliteDatabase::message(int rc) const {
  return db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
}

void SqliteDatabase::fail(std::string_view what, int rc) const {
  throw SqliteError(fmt::format("{}: {}", what, message(rc)), rc);
}

void SqliteDatabase::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    fail(sql, rc);
  }
}

SqliteStatement SqliteDatabase::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                                    nullptr);
  if (rc != SQLITE_OK) fail(sql, rc);
  return SqliteStatement(*this, stmt);
}

std::int64_t SqliteDatabase::query_int(std::string_view sql) {
  SqliteStatement s = prepare(sql);
  return s.step() ? s.column_int(0) : 0;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

SqliteStatement& SqliteStatement::bind(int i, std::int64_t v) {
  if (const int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int i, ByteSpan v) {
  static const std::uint8_t kEmpty = 0;
  const void* data = v.empty() ? &kEmpty : v.data();
  if (const int rc = sqlite3_bind_blob(stmt_, i, data, static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    db_->fail("bind", rc);
  }
  return *this;
}

SqliteStatement& SqliteStatement::bind(int i, std::string_view v) {
  const char* data = v.data() != nullptr ? v.data() : "";
  if (const int rc = sqlite3_bind_text(stmt_, i, data, static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    db_->fail("bind", rc);
  }
  return *this;
}

SqliteStatement& SqliteStatement::bind_null(int i) {
  if (const int rc = sqlite3_bind_null(stmt_, i); rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_);
  const std::string what = sql != nullptr ? sql : "statement";
  sqlite3_reset(stmt_);
  db_->fail(what, rc);
  return false;  // not reached: fail() throws (GCC does not trust [[noreturn]] on a virtual call)
}

void SqliteStatement::run() {
  while (step()) {
  }
  reset();
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t SqliteStatement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }

ByteSpan SqliteStatement::column_blob_view(int i) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr || n <= 0) return {};
  return {p, static_cast<std::size_t>(n)};
}

Bytes SqliteStatement::column_blob(int i) const {
  const ByteSpan v = column_blob_view(i);
  return Bytes(v.begin(), v.end());
}

std::string SqliteStatement::column_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

bool SqliteStatement::column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
bool SqliteStatement::column_is_int(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_INTEGER; }
bool SqliteStatement::column_is_blob(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_BLOB; }
bool SqliteStatement::column_is_text(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_TEXT; }

SqliteTransaction::SqliteTransaction(SqliteDatabase& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // SQLite may already have rolled back (after SQLITE_FULL, for instance): nothing more to do.
    }
  }
}

void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace cheese
