// The wallet's keys and addresses: derivation, the keypool, handing out addresses, signing keys.

#include "wallet/wallet_keys.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "primitives/bech32.hpp"
#include "wallet/bip39.hpp"
#include "wallet/wallet_impl.hpp"

namespace cheese {

namespace wallet_detail {

ExtendedKey chain_node(ByteSpan entropy, std::uint32_t coin, std::uint32_t account) {
  const SecretString phrase = generate_mnemonic(entropy);
  const SecureBuffer seed = mnemonic_to_seed(phrase.view());
  auto path = wallet_key_path(coin, account, 0);
  path.pop_back();
  return slip10_derive(seed.span(), path);
}

PublicKey derive_pubkey(const ExtendedKey& node, std::uint32_t index) {
  return slip10_child_key(node, index | kHardened).public_key();
}

}  // namespace wallet_detail

using wallet_detail::derive_pubkey;
using wallet_detail::fail;
using wallet_detail::guarded;
using wallet_detail::KeyEntry;
using wallet_detail::Stmt;
using wallet_detail::Txn;

void Wallet::Impl::load_secrets(SecureBuffer secret) {
  ExtendedKey derived = wallet_detail::chain_node(secret.span(), coin, account);
  // Every stored key must be one this seed derives: a locked wallet hands out keypool keys
  // unchecked, so a key swapped in the file would otherwise receive payments we cannot spend.
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (derive_pubkey(derived, static_cast<std::uint32_t>(i)) != keys[i].pubkey) {
      corrupt(fmt::format("key {} was not derived from its seed", i));
    }
  }
  entropy = std::move(secret);
  node.emplace(std::move(derived));
  entropy.seal();
  node->buffer().seal();
}

void Wallet::Impl::top_up(std::size_t min_unused) {
  if (!node) return;
  const SecretsOpen open(*this);
  const std::size_t want = std::max<std::size_t>(keypool_size, min_unused);
  if (keys.size() - issued >= want) return;
  const std::size_t first = keys.size();
  const std::size_t count = want - (keys.size() - issued);
  if (first + count > kHardened) fail(WalletErrc::kKeypoolRanOut, "the wallet has used every index");
  std::vector<PublicKey> fresh;
  fresh.reserve(count);
  Txn txn(db);
  Stmt insert = db.prepare("INSERT INTO keys(idx, pubkey) VALUES(?, ?)");
  for (std::size_t i = 0; i < count; ++i) {
    const auto index = static_cast<std::uint32_t>(first + i);
    fresh.push_back(derive_pubkey(*node, index));
    insert.bind(1, std::int64_t{index}).bind(2, fresh.back()).run();
  }
  txn.commit();
  for (const PublicKey& pk : fresh) {
    index_of.emplace(pk, static_cast<std::uint32_t>(keys.size()));
    keys.push_back({pk, false, {}});
  }
}

WalletResult<WalletAddress> Wallet::new_address(std::string_view label) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    if (w.issued == w.keys.size()) {
      if (!w.node) {
        fail(WalletErrc::kKeypoolRanOut,
             "keypool ran out: unlock the wallet (walletpassphrase) so that it can derive more addresses");
      }
      w.top_up(1);
    }
    const auto index = static_cast<std::uint32_t>(w.issued);
    {
      Txn txn(w.db);
      w.db.prepare("UPDATE keys SET issued = 1, label = ? WHERE idx = ?")
          .bind(1, label)
          .bind(2, std::int64_t{index})
          .run();
      txn.commit();
    }
    KeyEntry& entry = w.keys[index];
    entry.issued = true;
    entry.label = std::string(label);
    ++w.issued;
    WalletAddress address{index, entry.pubkey, entry.label};  // before top_up() may grow `keys`
    w.top_up();
    return address;
  });
}

std::vector<WalletAddress> Wallet::addresses() const {
  std::vector<WalletAddress> out;
  out.reserve(impl_->issued);
  for (std::size_t i = 0; i < impl_->issued; ++i) {
    const KeyEntry& e = impl_->keys[i];
    out.push_back({static_cast<std::uint32_t>(i), e.pubkey, e.label});
  }
  return out;
}

std::string Wallet::encode(const PublicKey& pubkey) const {
  return encode_address(chain_params(impl_->network).address_hrp, pubkey);
}

std::optional<std::uint32_t> Wallet::key_index(const PublicKey& pubkey) const {
  const auto it = impl_->index_of.find(pubkey);
  if (it == impl_->index_of.end()) return std::nullopt;
  return it->second;
}

WalletStatus Wallet::mark_used(const PublicKey& pubkey) {
  Impl& w = *impl_;
  return guarded(w.path, [&] {
    const std::uint32_t index = w.index_or_fail(pubkey);
    if (index >= w.issued) {
      Txn txn(w.db);
      w.db.prepare("UPDATE keys SET issued = 1 WHERE idx <= ? AND issued = 0").bind(1, std::int64_t{index}).run();
      txn.commit();
      for (std::size_t i = w.issued; i <= index; ++i) w.keys[i].issued = true;
      w.issued = std::size_t{index} + 1;
      w.top_up();
    }
    return std::monostate{};
  });
}

std::size_t Wallet::keypool_remaining() const { return impl_->keys.size() - impl_->issued; }

WalletResult<SecretKey> Wallet::key_for(const PublicKey& pubkey) const {
  const Impl& w = *impl_;
  return guarded(w.path, [&] {
    const ExtendedKey& node = w.unlocked_node();
    const std::uint32_t index = w.index_or_fail(pubkey);
    const Impl::SecretsOpen open(w);
    SecretKey key = slip10_child_key(node, index | kHardened).signing_key();
    if (key.public_key() != pubkey) w.corrupt("a stored key does not match its derivation");
    return key;
  });
}

WalletResult<SecretString> Wallet::mnemonic() const {
  const Impl& w = *impl_;
  return guarded(w.path, [&] {
    w.unlocked_node();
    const Impl::SecretsOpen open(w);
    return generate_mnemonic(w.entropy.span());
  });
}

}  // namespace cheese
