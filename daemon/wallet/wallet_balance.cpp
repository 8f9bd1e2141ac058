// What a wallet holds: balances over its addresses, each address's spendable state, the mining
// address and the default fee.

#include <algorithm>

#include "chain/chainstate.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace cheese {

WalletBalances WalletManager::balances(const LoadedWallet& e) const {
  WalletBalances b;
  const Chainstate& chain = chain_;
  const Mempool& pool = mempool_;
  for (const auto& a : e.wallet.addresses()) {
    b.confirmed += chain.account(a.pubkey).balance;
    b.pending_out += pool.pending_for(a.pubkey, chain).second;
  }
  for (const auto* entry : pool.entries()) {
    if (e.wallet.is_mine(entry->tx.recipient)) b.pending_in += entry->tx.amount;
  }
  const std::uint64_t maturity = chain_.params().coinbase_maturity;
  const std::uint64_t tip = chain.height();
  for (std::uint64_t h = tip >= maturity ? tip - maturity + 1 : 1; h <= tip && h > 0; ++h) {
    const BlockIndex* idx = chain.at_height(h);
    if (idx && e.wallet.is_mine(idx->coinbase_recipient)) b.immature += idx->coinbase_amount;
  }
  return b;
}

std::vector<WalletManager::AddressState> WalletManager::address_states(const LoadedWallet& e) const {
  std::vector<AddressState> out;
  const Chainstate& chain = chain_;
  for (const auto& a : e.wallet.addresses()) {
    AddressState s;
    s.address = a;
    s.balance = chain.account(a.pubkey).balance;
    const auto [nonce, pending] = mempool_.pending_for(a.pubkey, chain);
    s.next_nonce = nonce;
    s.pending_out = pending;
    // The mempool takes nonces in [confirmed nonce, confirmed nonce + max_per_sender).
    const std::uint64_t window_end = chain.account(a.pubkey).nonce + mempool_.limits().max_per_sender;
    s.room = window_end > nonce ? window_end - nonce : 0;
    out.push_back(std::move(s));
  }
  return out;
}

PublicKey WalletManager::mining_address(LoadedWallet& e) {
  const auto addresses = e.wallet.addresses();
  if (!addresses.empty()) return addresses.front().pubkey;
  return wallet_value(e.wallet.new_address("mining")).pubkey;
}

Amount WalletManager::default_fee() const { return std::max(kDefaultWalletFee, mempool_.min_fee()); }

}  // namespace cheese
