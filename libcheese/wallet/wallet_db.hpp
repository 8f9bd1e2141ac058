#pragma once

// The wallet layer's names for the shared SQLite wrapper (storage/sqlite.hpp). Internal to
// libcheese/wallet: callers see Wallet and WalletError only.

#include <filesystem>

#include "storage/sqlite.hpp"

namespace cheese::wallet_detail {

using DbError = SqliteError;
using Stmt = SqliteStatement;
using Txn = SqliteTransaction;

//! One connection to an existing wallet file (never creates one: the caller creates the file
//! with mode 0600 first).
class Db : public SqliteDatabase {
 public:
  explicit Db(const std::filesystem::path& path) : SqliteDatabase(path, Open::kExisting) {}
};

}  // namespace cheese::wallet_detail
