#include "wallet/wallet_db.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace cheese::wallet_detail {

bool DbError::is_busy() const { return primary() == SQLITE_BUSY || primary() == SQLITE_LOCKED; }
bool DbError::is_corrupt() const { return primary() == SQLITE_CORRUPT || primary() == SQLITE_NOTADB; }

Db::Db(const std::filesystem::path& path) {
  const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw DbError(rc, fmt::format("cannot open: {}", msg));
  }
  sqlite3_extended_result_codes(db_, 1);
}

Db::~Db() { close(); }

void Db::close() noexcept {
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void Db::fail(std::string_view what, int rc) const {
  const char* msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw DbError(rc, fmt::format("{}: {}", what, msg));
}

void Db::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    sqlite3_free(err);
    fail(sql, rc);
  }
}

Stmt Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) fail(sql, rc);
  return Stmt(*this, stmt);
}

std::int64_t Db::query_int(std::string_view sql) {
  Stmt s = prepare(sql);
  return s.step() ? s.column_int(0) : 0;
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int i, std::int64_t v) {
  if (const int rc = sqlite3_bind_int64(stmt_, i, v); rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

Stmt& Stmt::bind(int i, ByteSpan v) {
  static const std::uint8_t kEmpty = 0;  // an empty blob is still a blob, not NULL
  const void* data = v.empty() ? &kEmpty : v.data();
  if (const int rc = sqlite3_bind_blob(stmt_, i, data, static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    db_->fail("bind", rc);
  }
  return *this;
}

Stmt& Stmt::bind(int i, std::string_view v) {
  const char* data = v.data() != nullptr ? v.data() : "";  // an empty string is still text, not NULL
  if (const int rc = sqlite3_bind_text(stmt_, i, data, static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    db_->fail("bind", rc);
  }
  return *this;
}

Stmt& Stmt::bind_null(int i) {
  if (const int rc = sqlite3_bind_null(stmt_, i); rc != SQLITE_OK) db_->fail("bind", rc);
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(stmt_);
  const std::string what = sql != nullptr ? sql : "statement";
  sqlite3_reset(stmt_);
  db_->fail(what, rc);
}

void Stmt::run() {
  while (step()) {
  }
  sqlite3_reset(stmt_);
}

bool Stmt::is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
bool Stmt::is_int(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_INTEGER; }
bool Stmt::is_blob(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_BLOB; }
bool Stmt::is_text(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_TEXT; }

std::int64_t Stmt::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }

ByteSpan Stmt::column_blob(int i) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, i));
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr || n <= 0) return {};
  return {p, static_cast<std::size_t>(n)};
}

std::string Stmt::column_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  const int n = sqlite3_column_bytes(stmt_, i);
  if (p == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

Txn::Txn(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Txn::~Txn() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // SQLite may already have rolled back (e.g. after SQLITE_FULL); nothing more to do.
    }
  }
}

void Txn::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace cheese::wallet_detail
