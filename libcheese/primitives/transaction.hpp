#pragma once

#include <array>
#include <cstdint>

#include "primitives/amount.hpp"
#include "primitives/bytes.hpp"
#include "primitives/hash.hpp"
#include "primitives/keys.hpp"
#include "primitives/result.hpp"
#include "primitives/serialize.hpp"

namespace cheese {

//! The four bytes that start every frame of a network; also signed into every transaction,
//! so a transaction of one network is invalid on every other.
using NetworkMagic = std::array<std::uint8_t, 4>;

enum class TxKind : std::uint8_t {
  kTransfer = 0,  //!< a signed payment from one account to another
  kCoinbase = 1,  //!< the first transaction of a block: reward + fees to the miner
};

//! Longest coinbase `extra` field (extra-nonce and any message).
inline constexpr std::size_t kMaxCoinbaseExtra = 100;
//! Serialized sizes (see docs/protocol.md).
inline constexpr std::size_t kTransferSize = 1 + 32 + 32 + 8 + 8 + 8 + 64;
inline constexpr std::size_t kMinCoinbaseSize = 1 + 32 + 8 + 8 + 1;
inline constexpr std::size_t kMinTransactionSize = kMinCoinbaseSize;

//! An account-model transaction. For a transfer, `nonce` is the sender's count of confirmed
//! transactions; for a coinbase it is the block height, and sender, fee and signature are unused.
struct Transaction {
  TxKind kind = TxKind::kTransfer;
  PublicKey sender{};
  PublicKey recipient{};
  Amount amount = 0;
  Amount fee = 0;
  std::uint64_t nonce = 0;
  Signature signature{};
  Bytes extra;  //!< coinbase only: extra-nonce and free-form bytes, at most kMaxCoinbaseExtra

  bool is_coinbase() const { return kind == TxKind::kCoinbase; }
  friend bool operator==(const Transaction&, const Transaction&) = default;
};

void serialize(Writer& w, const Transaction& tx);
//! Decodes one transaction from the reader (errors are left in the reader).
Transaction deserialize_transaction(Reader& r);
Bytes serialize(const Transaction& tx);
//! Decodes exactly one transaction: trailing bytes are an error.
Result<Transaction, DecodeError> decode_transaction(ByteSpan bytes);
std::size_t serialized_size(const Transaction& tx);

//! txid = SHA-256d of the full serialization (signature included).
Hash256 txid(const Transaction& tx);

//! What a transfer's Ed25519 signature covers: a domain tag, the network magic and every
//! field but the signature.
Bytes signature_message(const Transaction& tx, const NetworkMagic& magic);
void sign_transaction(Transaction& tx, const SecretKey& key, const NetworkMagic& magic);
[[nodiscard]] bool verify_transaction_signature(const Transaction& tx, const NetworkMagic& magic);

//! A coinbase paying `amount` to `miner` at `height`.
Transaction make_coinbase(const PublicKey& miner, Amount amount, std::uint64_t height, Bytes extra = {});

}  // namespace cheese
