#pragma once

// What a transaction means to a wallet, and the in-memory index of its unconfirmed records.
// Internal to daemon/wallet/ (wallet_scan.cpp, wallet_mempool.cpp, wallet_send.cpp).

#include <cstdint>
#include <optional>
#include <vector>

#include "daemon/wallet/wallet_manager.hpp"

namespace cheese::wallet_records {

//! Zero, one or two records (a payment to ourselves is a send and a receive).
std::vector<WalletTx> records_of(const Wallet& w, const Transaction& tx, const Hash256& id,
                                 std::optional<std::uint64_t> height, std::int64_t time);
//! Hands out every keypool key a record uses (a restored wallet finds its addresses this way).
void mark_used(Wallet& w, const std::vector<WalletTx>& records);
//! What LoadedWallet::pending keeps of a transaction.
WalletPending pending_info(const Wallet& w, const Transaction& tx);
void add_pending(LoadedWallet& e, const Hash256& id, const WalletPending& info);
void erase_pending(LoadedWallet& e, const Hash256& id);

}  // namespace cheese::wallet_records
