#pragma once

#include "chain/chainstate.hpp"
#include "consensus/params.hpp"
#include "daemon/rpc/server.hpp"

namespace cheese {

//! An address (bech32m) of a public key on this network.
std::string address_of(const PublicKey& key, const ChainParams& p);
//! Decodes an address of this network; RpcError -5 with the reason otherwise.
PublicKey parse_address(std::string_view address, const ChainParams& p);
//! Difficulty relative to the network's easiest target (1.0 = easiest). Display only.
double difficulty_of(std::uint32_t bits, const ChainParams& p);
//! Transaction as JSON (txid, kind, from, to, amount, fee, nonce, size, hex).
json::object transaction_json(const Transaction& tx, const ChainParams& p);
//! Header fields of a block as bitcoind shows them.
json::object header_json(const Chainstate& chain, const BlockIndex* idx);

}  // namespace cheese
