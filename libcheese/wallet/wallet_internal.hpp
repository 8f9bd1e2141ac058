#pragma once

// Helpers shared by the wallet's source files: how the implementation fails, and wallet names.
// Internal to libcheese/wallet: callers see Wallet and WalletError only.

#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "wallet/wallet.hpp"
#include "wallet/wallet_db.hpp"

namespace cheese::wallet_detail {

//! Thrown inside the implementation, returned as a WalletError at the public boundary.
struct Failure {
  WalletError error;
};

[[noreturn]] inline void fail(WalletErrc code, std::string message) { throw Failure{{code, std::move(message)}}; }

//! An SQLite failure on the wallet file at `path` as a WalletError (in use, corrupt, storage).
WalletError storage_error(const std::filesystem::path& path, const DbError& e);

//! Runs f, turning the implementation's exceptions into a WalletError.
template <typename F>
auto guarded(const std::filesystem::path& path, F&& f) -> WalletResult<std::invoke_result_t<F>> {
  try {
    return std::forward<F>(f)();
  } catch (const Failure& e) {
    return Unexpected(e.error);
  } catch (const DbError& e) {
    return Unexpected(storage_error(path, e));
  }
}

//! Fails with kInvalidName unless `name` can be a wallet's file name (see wallet_file_path).
void check_name(std::string_view name);

}  // namespace cheese::wallet_detail
