#include "daemon/rpc/util.hpp"

#include <fmt/format.h>

#include <cmath>

#include "consensus/pow.hpp"
#include "primitives/bech32.hpp"

namespace cheese {

std::string address_of(const PublicKey& key, const ChainParams& p) { return encode_address(p.address_hrp, key); }

PublicKey parse_address(std::string_view address, const ChainParams& p) {
  auto decoded = decode_address(p.address_hrp, address);
  if (!decoded) {
    if (decoded.error() == Bech32Error::kWrongHrp) {
      throw RpcError(kRpcInvalidAddress,
                     fmt::format("Invalid address '{}': not an address of the {} network (expected {}1...)", address,
                                 p.name, p.address_hrp));
    }
    throw RpcError(kRpcInvalidAddress, fmt::format("Invalid address '{}': {}", address, to_string(decoded.error())));
  }
  return *decoded;
}

namespace {
double to_double(const U256& v) {
  double out = 0;
  const Hash256 h = v.to_hash();  // little-endian bytes
  for (std::size_t i = 32; i-- > 0;) out = out * 256.0 + h.bytes[i];
  return out;
}
}  // namespace

double difficulty_of(std::uint32_t bits, const ChainParams& p) {
  const auto t = decode_compact(bits);
  if (t.target.is_zero()) return 0;
  return to_double(p.pow_limit) / to_double(t.target);
}

json::object transaction_json(const Transaction& tx, const ChainParams& p) {
  json::object o;
  o["txid"] = txid(tx).to_display_hex();
  o["kind"] = tx.is_coinbase() ? "coinbase" : "transfer";
  if (tx.is_coinbase()) {
    o["from"] = nullptr;
    o["height"] = tx.nonce;
  } else {
    o["from"] = address_of(tx.sender, p);
    o["nonce"] = tx.nonce;
  }
  o["to"] = address_of(tx.recipient, p);
  o["amount"] = amount_value(tx.amount);
  o["fee"] = amount_value(tx.fee);
  o["size"] = serialized_size(tx);
  o["hex"] = to_hex(serialize(tx));
  return o;
}

json::object header_json(const Chainstate& chain, const BlockIndex* idx) {
  const auto& p = chain.params();
  json::object o;
  o["hash"] = idx->hash.to_display_hex();
  const bool active = chain.is_active(idx);
  o["confirmations"] = active ? static_cast<std::int64_t>(chain.height() - idx->height + 1) : std::int64_t{-1};
  o["height"] = idx->height;
  o["version"] = idx->header.version;
  o["versionHex"] = fmt::format("{:08x}", idx->header.version);
  o["merkleroot"] = idx->header.merkle_root.to_display_hex();
  o["time"] = idx->header.time;
  o["mediantime"] = chain.median_time_past(idx);
  o["nonce"] = idx->header.nonce;
  o["bits"] = fmt::format("{:08x}", idx->header.bits);
  o["difficulty"] = difficulty_of(idx->header.bits, p);
  o["chainwork"] = idx->chain_work.to_hex();
  o["nTx"] = idx->tx_count;
  if (idx->prev) o["previousblockhash"] = idx->prev->hash.to_display_hex();
  if (active) {
    if (const BlockIndex* next = chain.at_height(idx->height + 1)) o["nextblockhash"] = next->hash.to_display_hex();
  }
  return o;
}

}  // namespace cheese
