// Wallet RPCs (docs/rpc.md, "Wallet"). Methods that act on one wallet find it with
// WalletManager::for_request: /wallet/<name>, else the only loaded wallet. One function per
// method, each returning its table row; register_wallet_rpcs at the end is the table.

#include <fmt/format.h>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/rpc/util.hpp"
#include "daemon/rpc/wallet_errors.hpp"
#include "daemon/rpc/wallet_json.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "util/json.hpp"
#include "util/log.hpp"

namespace cheese {

namespace {

std::string wallet_name_param(const RpcRequest& r, std::string_view param) {
  const std::string name = r.get_string(param);
  if (name.empty()) throw RpcError(kRpcInvalidParameter, "the wallet name must not be empty");
  return name;
}

json::object balances_json(const WalletBalances& b) {
  json::object mine;
  mine["trusted"] = amount_value(b.trusted());
  mine["untrusted_pending"] = amount_value(b.pending_in);
  mine["immature"] = amount_value(b.immature);
  mine["confirmed"] = amount_value(b.confirmed);
  mine["pending_spend"] = amount_value(b.pending_out);
  json::object o;
  o["mine"] = std::move(mine);
  return o;
}

Amount positive_amount(const RpcRequest& r, std::string_view param) {
  const Amount a = r.get_amount(param);
  if (a == 0) throw RpcError(kRpcTypeError, "Invalid amount: it must be above 0");
  return a;
}

//! What send and sendtoaddress read first, in this order: the wallet, the address, the amount.
struct Payment {
  std::shared_ptr<LoadedWallet> wallet;
  PublicKey to;
  Amount amount = 0;
};

asio::awaitable<Payment> read_payment(NodeContext& node, const RpcRequest& r) {
  Payment p;
  p.wallet = co_await node.wallets->for_request(r);
  p.to = parse_address(r.get_string("address"), (*node.params));
  p.amount = positive_amount(r, "amount");
  co_return p;
}

RpcMethod createwallet(NodeContext& node) {
  return {"createwallet",
          "wallet",
          {{"wallet_name", RpcType::kString, true, "1-64 letters, digits, '_', '-', '.'"},
           {"passphrase", RpcType::kString, false, "encrypt the wallet with this passphrase"},
           {"load_on_startup", RpcType::kBool, false, "load it again when cheesed starts", true}},
          "Creates a wallet and returns its 24-word recovery phrase, shown this once: write it down.",
          "cheese-cli createwallet alice",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string name = wallet_name_param(r, "wallet_name");
            auto created = co_await wm.create(name, r.take_optional_secret("passphrase"),
                                              r.get_bool("load_on_startup"));
            json::object o(wiping_storage());  // the phrase is wiped when the reply is freed
            o["name"] = name;
            o["mnemonic"] = json::string_view(created.mnemonic.view());
            o["encrypted"] = created.entry->wallet.is_encrypted();
            o["warning"] =
                "Write the recovery phrase down and keep it offline: it is the only way to restore this wallet, "
                "and it will not be shown again.";
            co_return o;
          }};
}

RpcMethod restorewallet(NodeContext& node) {
  return {"restorewallet",
          "wallet",
          {{"wallet_name", RpcType::kString, true, "name of the new wallet file"},
           {"mnemonic", RpcType::kString, true, "the 24-word recovery phrase"},
           {"passphrase", RpcType::kString, false, "encrypt the restored wallet with this passphrase"},
           {"load_on_startup", RpcType::kBool, false, "load it again when cheesed starts", true}},
          "Rebuilds a wallet from its recovery phrase and scans the chain for its transactions.",
          "cheese-cli restorewallet alice2 \"word1 word2 ... word24\"",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string name = wallet_name_param(r, "wallet_name");
            auto e = co_await wm.restore(name, r.take_secret("mnemonic"), r.take_optional_secret("passphrase"),
                                         r.get_bool("load_on_startup"));
            co_await wm.wait_scanned(e);  // the chain scan goes on in slices; reply when it is done
            json::object o;
            o["name"] = name;
            o["addresses"] = e->wallet.addresses().size();
            o["txcount"] = wallet_value(e->wallet.transaction_count());
            o["warning"] = "";
            co_return o;
          }};
}

RpcMethod loadwallet(NodeContext& node) {
  return {"loadwallet",
          "wallet",
          {{"filename", RpcType::kString, true, "the wallet name"},
           {"load_on_startup", RpcType::kBool, false, "load it again when cheesed starts", true}},
          "Loads a wallet from the wallets directory.",
          "cheese-cli loadwallet alice",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            const std::string name = wallet_name_param(r, "filename");
            auto e = wm.load(name, r.get_bool("load_on_startup"));
            co_await wm.wait_scanned(e);
            json::object o;
            o["name"] = name;
            o["warning"] = "";
            co_return o;
          }};
}

RpcMethod unloadwallet(NodeContext& node) {
  return {
      "unloadwallet",
      "wallet",
      {{"wallet_name", RpcType::kString, false, "the wallet to unload", std::nullopt, "the wallet of the request"},
       {"load_on_startup", RpcType::kBool, false, "false stops loading it at start", false}},
      "Unloads a wallet (its lock timer stops and its secrets leave memory).",
      "cheese-cli unloadwallet alice",
      [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
        std::string name;
        if (r.has("wallet_name")) {
          name = wallet_name_param(r, "wallet_name");
          if (!r.wallet.empty() && r.wallet != name) {
            throw RpcError(kRpcInvalidParameter,
                           "RPC endpoint wallet and wallet_name parameter specify different wallets");
          }
        } else {
          name = (co_await wm.for_request(r))->wallet.name();
        }
        co_await wm.unload(name, !r.get_bool("load_on_startup"));
        json::object o;
        o["warning"] = "";
        co_return o;
      }};
}

RpcMethod listwallets(NodeContext& node) {
  return {"listwallets",
          "wallet",
          {},
          "Names of the loaded wallets.",
          "cheese-cli listwallets",
          [&wm = *node.wallets](RpcRequest&) -> asio::awaitable<json::value> {
            json::array out;
            for (const auto& n : wm.loaded()) out.emplace_back(n);
            co_return out;
          }};
}

RpcMethod listwalletdir(NodeContext& node) {
  return {"listwalletdir",
          "wallet",
          {},
          "Wallet files in the wallets directory.",
          "cheese-cli listwalletdir",
          [&wm = *node.wallets](RpcRequest&) -> asio::awaitable<json::value> {
            json::array list;
            for (const auto& n : wm.on_disk()) {
              json::object w;
              w["name"] = n;
              list.push_back(std::move(w));
            }
            json::object o;
            o["wallets"] = std::move(list);
            co_return o;
          }};
}

RpcMethod getwalletinfo(NodeContext& node) {
  return {"getwalletinfo",
          "wallet",
          {},
          "State of the wallet: balances, encryption, keys, transactions.",
          "cheese-cli getwalletinfo",
          [&node, &wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r, /*while_scanning=*/true);
            const WalletBalances b = wm.balances(*e);
            json::object o;
            o["walletname"] = e->wallet.name();
            o["network"] = node.params->name;
            o["balance"] = amount_value(b.trusted());
            o["unconfirmed_balance"] = amount_value(b.pending_in);
            o["immature_balance"] = amount_value(b.immature);
            o["txcount"] = wallet_value(e->wallet.transaction_count());
            o["addresses"] = e->wallet.addresses().size();
            o["keypoolsize"] = e->wallet.keypool_remaining();
            o["encrypted"] = e->wallet.is_encrypted();
            if (e->wallet.is_encrypted()) o["unlocked_until"] = e->wallet.is_locked() ? 0 : e->unlocked_until;
            // The last block scanned: the stored sync point, or a later block scanned since
            // (LoadedWallet::scanned; not stored block by block during initial sync).
            std::optional<WalletBlockRef> last;
            if (auto synced = e->wallet.synced_to(); synced && *synced) last = **synced;
            if (e->scanned && (!last || e->scanned->height > last->height)) last = e->scanned;
            if (last) {
              o["lastprocessedblock"] = json::object{{"hash", last->hash.to_display_hex()}, {"height", last->height}};
            }
            if (e->scanning) {
              // As bitcoind: {duration, progress} while a chain scan runs, else false.
              const double total = static_cast<double>(node.chain->height() + 1 - e->scan_from);
              const double done = last && last->height >= e->scan_from
                                      ? static_cast<double>(last->height + 1 - e->scan_from)
                                      : 0.0;
              o["scanning"] = json::object{{"duration", std::chrono::duration_cast<std::chrono::seconds>(
                                                            std::chrono::steady_clock::now() - e->scan_started)
                                                            .count()},
                                           {"progress", total > 0 ? std::min(1.0, done / total) : 0.0}};
            } else {
              o["scanning"] = false;
            }
            o["mining_address"] = e->wallet.addresses().empty()
                                      ? json::value(nullptr)
                                      : json::value(address_of(e->wallet.addresses().front().pubkey, (*node.params)));
            co_return o;
          }};
}

RpcMethod getnewaddress(NodeContext& node) {
  return {"getnewaddress",
          "wallet",
          {{"label", RpcType::kString, false, "a label", ""}},
          "A new address of the wallet (from the keypool, so a locked wallet can hand them out).",
          "cheese-cli getnewaddress shop",
          [&node, &wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            const std::string label = r.get_string("label");
            if (label.size() > 256) throw RpcError(kRpcInvalidParameter, "label longer than 256 bytes");
            const WalletAddress a = wallet_value(e->wallet.new_address(label));
            co_return json::value(address_of(a.pubkey, (*node.params)));
          }};
}

RpcMethod listaddresses(NodeContext& node) {
  return {"listaddresses",
          "wallet",
          {},
          "Addresses handed out, with their label, confirmed balance, pending spends and next nonce.",
          "cheese-cli listaddresses",
          [&node, &wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            json::array out;
            for (const auto& s : wm.address_states(*e)) {
              json::object o;
              o["address"] = address_of(s.address.pubkey, (*node.params));
              o["index"] = s.address.index;
              o["label"] = s.address.label;
              o["balance"] = amount_value(s.balance);
              o["pending_spend"] = amount_value(s.pending_out);
              o["next_nonce"] = s.next_nonce;
              out.push_back(std::move(o));
            }
            co_return out;
          }};
}

RpcMethod getbalance(NodeContext& node) {
  return {"getbalance",
          "wallet",
          {},
          "What the wallet can spend now: confirmed balance minus pending spends.",
          "cheese-cli getbalance",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            co_return amount_value(wm.balances(*e).trusted());
          }};
}

RpcMethod getbalances(NodeContext& node) {
  return {"getbalances",
          "wallet",
          {},
          "Balances: trusted (spendable), untrusted_pending (incoming, unconfirmed), immature (coinbase).",
          "cheese-cli getbalances",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            co_return balances_json(wm.balances(*e));
          }};
}

RpcMethod listtransactions(NodeContext& node) {
  return {"listtransactions",
          "wallet",
          {{"count", RpcType::kInt, false, "how many", 10},
           {"skip", RpcType::kInt, false, "skip this many most recent", 0}},
          "The wallet's most recent transactions, oldest first, with confirmations.",
          "cheese-cli listtransactions 20",
          [&node, &wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            const std::int64_t count = r.get_int("count");
            const std::int64_t skip = r.get_int("skip");
            if (count < 0) throw RpcError(kRpcInvalidParameter, "Negative count");
            if (skip < 0) throw RpcError(kRpcInvalidParameter, "Negative from");
            const auto records = wallet_value(
                e->wallet.list_transactions(static_cast<std::size_t>(count), static_cast<std::size_t>(skip)));
            json::array out;
            for (const auto& t : records) out.push_back(entry_json(node, t));
            co_return out;
          }};
}

RpcMethod send(NodeContext& node) {
  return {"send",
          "wallet",
          {{"address", RpcType::kString, true, "who to pay"},
           {"amount", RpcType::kAmount, true, "CHZ, up to 8 decimals"},
           {"fee", RpcType::kAmount, false, "fee per transaction in CHZ", std::nullopt, "the wallet's fee policy"}},
          "Pays an address; returns {txid, txids, amount, fee}. Splits over several addresses when no single "
          "one holds enough.",
          "cheese-cli send rchz1... 1.5",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const Payment p = co_await read_payment(node, r);
            std::optional<Amount> fee;
            if (r.has("fee")) fee = r.get_amount("fee");
            const WalletSendResult sent = co_await node.wallets->send(p.wallet, p.to, p.amount, fee, /*split=*/true);
            json::object o;
            o["txid"] = sent.txids.front().to_display_hex();
            json::array ids;
            for (const auto& id : sent.txids) ids.emplace_back(id.to_display_hex());
            o["txids"] = std::move(ids);
            o["amount"] = amount_value(p.amount);
            o["fee"] = amount_value(sent.fee);
            co_return o;
          }};
}

RpcMethod sendtoaddress(NodeContext& node) {
  return {"sendtoaddress",
          "wallet",
          {{"address", RpcType::kString, true, "who to pay"},
           {"amount", RpcType::kAmount, true, "CHZ, up to 8 decimals"}},
          "Pays an address from one of the wallet's addresses with the default fee; returns the txid.",
          "cheese-cli sendtoaddress rchz1... 1.5",
          [&node](RpcRequest& r) -> asio::awaitable<json::value> {
            const Payment p = co_await read_payment(node, r);
            const WalletSendResult sent = co_await node.wallets->send(p.wallet, p.to, p.amount, std::nullopt,
                                                                      /*split=*/false);
            co_return json::value(sent.txids.front().to_display_hex());
          }};
}

RpcMethod rescanblockchain(NodeContext& node) {
  return {"rescanblockchain",
          "wallet",
          {{"start_height", RpcType::kInt, false, "first height to scan", 0}},
          "Scans the active chain again for the wallet's transactions; returns {start_height, stop_height}. "
          "After walletpassphrase it also finds payments beyond a locked wallet's keypool.",
          "cheese-cli rescanblockchain",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            const std::int64_t start = r.get_int("start_height");
            if (start < 0) throw RpcError(kRpcInvalidParameter, "start_height must not be negative");
            const std::uint64_t stop = co_await wm.rescan(e, static_cast<std::uint64_t>(start));
            json::object o;
            o["start_height"] = start;
            o["stop_height"] = stop;
            co_return o;
          }};
}

RpcMethod encryptwallet(NodeContext& node) {
  return {"encryptwallet",
          "wallet",
          {{"passphrase", RpcType::kString, true, "at least one character"}},
          "Encrypts the wallet with a passphrase; it is locked afterwards.",
          "cheese-cli encryptwallet \"my pass\"",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            co_await wm.encrypt(e, r.take_secret("passphrase"));
            co_return json::value(
                "wallet encrypted; it is now locked. Unlock it with walletpassphrase to send. Backups made "
                "before this are not encrypted.");
          }};
}

RpcMethod walletpassphrase(NodeContext& node) {
  return {"walletpassphrase",
          "wallet",
          {{"passphrase", RpcType::kString, true, "the wallet passphrase"},
           {"timeout", RpcType::kInt, true, "seconds until it locks again (at most 100000000)"}},
          "Unlocks the wallet for `timeout` seconds.",
          "cheese-cli walletpassphrase \"my pass\" 60",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            co_await wm.unlock(e, r.take_secret("passphrase"), r.get_int("timeout"));
            co_return json::value(nullptr);
          }};
}

RpcMethod walletlock(NodeContext& node) {
  return {"walletlock",
          "wallet",
          {},
          "Locks the wallet now (its secrets leave memory).",
          "cheese-cli walletlock",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            wm.lock(*e);
            co_return json::value(nullptr);
          }};
}

RpcMethod walletpassphrasechange(NodeContext& node) {
  return {"walletpassphrasechange",
          "wallet",
          {{"oldpassphrase", RpcType::kString, true, "the current passphrase"},
           {"newpassphrase", RpcType::kString, true, "the new passphrase"}},
          "Changes the wallet passphrase.",
          "cheese-cli walletpassphrasechange \"old\" \"new\"",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            co_await wm.change_passphrase(e, r.take_secret("oldpassphrase"), r.take_secret("newpassphrase"));
            co_return json::value(nullptr);
          }};
}

RpcMethod backupwallet(NodeContext& node) {
  return {"backupwallet",
          "wallet",
          {{"destination", RpcType::kString, true, "file to write (replaced atomically)"}},
          "Writes a consistent copy of the wallet file.",
          "cheese-cli backupwallet /backup/alice.wallet",
          [&wm = *node.wallets](RpcRequest& r) -> asio::awaitable<json::value> {
            auto e = co_await wm.for_request(r);
            const std::string dest = r.get_string("destination");
            if (dest.empty()) throw RpcError(kRpcInvalidParameter, "destination must not be empty");
            if (auto st = e->wallet.backup(dest); !st) throw_wallet_error(st.error());
            co_return json::value(nullptr);
          }};
}

}  // namespace

void register_wallet_rpcs(NodeContext& node, RpcTable& table) {
  for (auto m : {createwallet(node),
                 restorewallet(node),
                 loadwallet(node),
                 unloadwallet(node),
                 listwallets(node),
                 listwalletdir(node),
                 getwalletinfo(node),
                 getnewaddress(node),
                 listaddresses(node),
                 getbalance(node),
                 getbalances(node),
                 listtransactions(node),
                 send(node),
                 sendtoaddress(node),
                 rescanblockchain(node),
                 encryptwallet(node),
                 walletpassphrase(node),
                 walletlock(node),
                 walletpassphrasechange(node),
                 backupwallet(node)}) {
    table.add(std::move(m));
  }
}

}  // namespace cheese
