#include "primitives/transaction.hpp"

#include "primitives/sha256.hpp"

namespace cheese {

namespace {
constexpr std::string_view kSignatureDomain = "cheesechain/transfer/v1";
}

void serialize(Writer& w, const Transaction& tx) {
  w.u8(static_cast<std::uint8_t>(tx.kind));
  if (tx.is_coinbase()) {
    w.raw(tx.recipient);
    w.u64(tx.amount);
    w.u64(tx.nonce);
    w.var_bytes(tx.extra);
    return;
  }
  w.raw(tx.sender);
  w.raw(tx.recipient);
  w.u64(tx.amount);
  w.u64(tx.fee);
  w.u64(tx.nonce);
  w.raw(tx.signature);
}

Transaction deserialize_transaction(Reader& r) {
  Transaction tx;
  const auto kind = r.u8();
  if (!r.ok()) return tx;
  if (kind == static_cast<std::uint8_t>(TxKind::kCoinbase)) {
    tx.kind = TxKind::kCoinbase;
    tx.recipient = r.array<32>();
    tx.amount = r.u64();
    tx.nonce = r.u64();
    tx.extra = r.var_bytes(kMaxCoinbaseExtra);
  } else if (kind == static_cast<std::uint8_t>(TxKind::kTransfer)) {
    tx.kind = TxKind::kTransfer;
    tx.sender = r.array<32>();
    tx.recipient = r.array<32>();
    tx.amount = r.u64();
    tx.fee = r.u64();
    tx.nonce = r.u64();
    tx.signature = r.array<64>();
  } else {
    r.fail(DecodeError::kInvalidValue);
  }
  return tx;
}

Bytes serialize(const Transaction& tx) {
  Writer w(serialized_size(tx));
  serialize(w, tx);
  return std::move(w).take();
}

Result<Transaction, DecodeError> decode_transaction(ByteSpan bytes) {
  Reader r(bytes);
  auto tx = deserialize_transaction(r);
  r.expect_end();
  if (!r.ok()) return Unexpected{r.error()};
  return tx;
}

std::size_t serialized_size(const Transaction& tx) {
  if (tx.is_coinbase()) return 1 + 32 + 8 + 8 + varint_size(tx.extra.size()) + tx.extra.size();
  return kTransferSize;
}

Hash256 txid(const Transaction& tx) { return sha256d(serialize(tx)); }

Bytes signature_message(const Transaction& tx, const NetworkMagic& magic) {
  Writer w(kSignatureDomain.size() + 4 + kTransferSize);
  w.raw(as_bytes(kSignatureDomain));
  w.raw(magic);
  w.u8(static_cast<std::uint8_t>(tx.kind));
  w.raw(tx.sender);
  w.raw(tx.recipient);
  w.u64(tx.amount);
  w.u64(tx.fee);
  w.u64(tx.nonce);
  return std::move(w).take();
}

void sign_transaction(Transaction& tx, const SecretKey& key, const NetworkMagic& magic) {
  tx.sender = key.public_key();
  tx.signature = key.sign(signature_message(tx, magic));
}

bool verify_transaction_signature(const Transaction& tx, const NetworkMagic& magic) {
  if (tx.is_coinbase()) return false;
  return verify_signature(tx.sender, signature_message(tx, magic), tx.signature);
}

Transaction make_coinbase(const PublicKey& miner, Amount amount, std::uint64_t height, Bytes extra) {
  Transaction tx;
  tx.kind = TxKind::kCoinbase;
  tx.recipient = miner;
  tx.amount = amount;
  tx.nonce = height;
  tx.extra = std::move(extra);
  return tx;
}

}  // namespace cheese
