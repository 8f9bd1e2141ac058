#include "chain/sqlite.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

namespace cheese {

Database::Database(const std::filesystem::path& path, Sync sync) try : SqliteDatabase(path, Open::kCreate) {
  sqlite3_busy_timeout(handle(), 5000);
  // journal_mode is the first real read of the file: a file that is not a database fails here.
  exec("PRAGMA journal_mode=WAL");
  exec(sync == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  exec("PRAGMA foreign_keys=ON");
} catch (const StorageError&) {
  throw;
} catch (const SqliteError& e) {
  throw StorageError(fmt::format("cannot open database {}: {}", path.string(), e.what()), e.code());
}

void Database::fail(std::string_view what, int rc) const {
  const std::string msg = message(rc);
  const int primary = rc & 0xFF;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    throw StorageError(
        fmt::format("database {} is corrupt or not a cheesechain database ({}: {})", path().string(), what, msg), rc);
  }
  throw StorageError(fmt::format("database {}: {}: {}", path().string(), what, msg), rc);
}

}  // namespace cheese
