#pragma once

#include "daemon/node/context.hpp"
#include "daemon/rpc/server.hpp"
#include "wallet/wallet.hpp"

namespace cheese {

//! One entry of listtransactions / gettransaction's details, as bitcoind shows it.
json::object entry_json(NodeContext& node, const WalletTx& t);

}  // namespace cheese
