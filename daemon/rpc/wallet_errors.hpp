#pragma once

#include "wallet/wallet.hpp"

namespace cheese {

//! The JSON-RPC code bitcoind answers for a wallet library error (kLocked -13,
//! kWrongPassphrase -14, ...): the wallet library knows nothing of RPC; this is the edge.
int rpc_error_code(WalletErrc e);

}  // namespace cheese
