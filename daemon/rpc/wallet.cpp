// Wallet RPCs (docs/rpc.md, "Wallet"). Methods that act on one wallet find it with
// WalletManager::for_request: /wallet/<name>, else the only loaded wallet.

#include <fmt/format.h>

#include "util/log.hpp"
#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/node/context.hpp"
#include "daemon/node/node.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/webui/web_ui.hpp"
#include "daemon/rpc/util.hpp"
#include "util/json.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace cheese {

namespace {

std::optional<std::string> optional_string(const RpcRequest& r, std::size_t i) {
  if (!r.has(i)) return std::nullopt;
  return r.get_string(i);
}

std::string wallet_name_param(const RpcRequest& r, std::size_t i) {
  const std::string name = r.get_string(i);
  if (name.empty()) throw RpcError(kRpcInvalidParameter, "the wallet name must not be empty");
  return name;
}

std::uint64_t confirmations(const NodeContext& node, const WalletTx& t) {
  if (!t.height) return 0;
  const std::uint64_t tip = node.chain->height();
  return *t.height <= tip ? tip - *t.height + 1 : 0;
}

//! One entry of listtransactions / gettransaction's details, as bitcoind shows it.
json::object entry_json(NodeContext& node, const WalletTx& t) {
  const ChainParams& p = (*node.params);
  json::object o;
  const std::uint64_t conf = confirmations(node, t);
  switch (t.direction) {
    case TxDirection::kSend:
      o["address"] = t.counterparty ? address_of(*t.counterparty, p) : std::string();
      o["category"] = "send";
      o["amount"] = raw_number("-" + format_amount(t.amount));
      o["fee"] = raw_number("-" + format_amount(t.fee));
      if (t.own) o["from"] = address_of(*t.own, p);
      break;
    case TxDirection::kReceive:
      o["address"] = t.own ? address_of(*t.own, p) : std::string();
      o["category"] = "receive";
      o["amount"] = amount_value(t.amount);
      if (t.counterparty) o["from"] = address_of(*t.counterparty, p);
      break;
    case TxDirection::kGenerate:
      o["address"] = t.own ? address_of(*t.own, p) : std::string();
      // A coinbase whose block left the active chain can never confirm again: "orphan", as bitcoind.
      o["category"] = !t.height ? "orphan" : conf > p.coinbase_maturity ? "generate" : "immature";  // credited once the tip is `maturity` blocks past it
      o["amount"] = amount_value(t.amount);
      break;
  }
  o["confirmations"] = conf;
  if (t.height) {
    if (const BlockIndex* idx = node.chain->at_height(*t.height)) {
      o["blockhash"] = idx->hash.to_display_hex();
      o["blockheight"] = *t.height;
      o["blocktime"] = idx->header.time;
    }
  } else {
    o["in_mempool"] = node.mempool->contains(t.txid);
  }
  o["txid"] = t.txid.to_display_hex();
  o["time"] = t.time;
  return o;
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

Amount positive_amount(const RpcRequest& r, std::size_t i) {
  const Amount a = r.get_amount(i);
  if (a == 0) throw RpcError(kRpcTypeError, "Invalid amount: it must be above 0");
  return a;
}

}  // namespace

//! The wallet fields gettransaction adds for a transaction the request's wallet knows; an empty
//! object when there is no such wallet or record.
json::object wallet_transaction_fields(NodeContext& node, const RpcRequest& r, const Hash256& id) {
  json::object o;
  auto e = node.wallets->default_wallet(r);
  if (!e || e->busy) return o;
  auto records = e->wallet.find_transaction(id);
  if (!records || records->empty()) return o;
  json::array details;
  std::int64_t net = 0;  // |amounts| <= kMaxMoney < 2^63
  Amount fee = 0;
  for (const auto& t : *records) {
    details.push_back(entry_json(node, t));
    if (t.direction == TxDirection::kSend) {
      net -= static_cast<std::int64_t>(t.amount);
      fee += t.fee;
    } else {
      net += static_cast<std::int64_t>(t.amount);
    }
  }
  o["wallet"] = e->wallet.name();
  o["net"] = net < 0 ? raw_number("-" + format_amount(static_cast<Amount>(-net))) : amount_value(static_cast<Amount>(net));
  o["wallet_fee"] = fee > 0 ? raw_number("-" + format_amount(fee)) : amount_value(0);
  o["details"] = std::move(details);
  return o;
}

std::optional<json::object> wallet_only_transaction(NodeContext& node, const RpcRequest& r, const Hash256& id) {
  auto e = node.wallets->default_wallet(r);
  if (!e || e->busy) return std::nullopt;
  auto records = e->wallet.find_transaction(id);
  if (!records || records->empty()) return std::nullopt;
  json::object o;
  const WalletTx& first = records->front();
  if (auto tx = decode_transaction(first.raw); tx && !first.raw.empty()) {
    o = transaction_json(*tx, (*node.params));
  } else {
    o["txid"] = id.to_display_hex();
    o["kind"] = first.direction == TxDirection::kGenerate ? "coinbase" : "transfer";
    o["amount"] = amount_value(first.amount);
  }
  o["confirmations"] = 0;
  o["in_mempool"] = false;
  o["time"] = first.time;
  for (auto& kv : wallet_transaction_fields(node, r, id)) o[kv.key()] = kv.value();
  return o;
}

void register_wallet_rpcs(NodeContext& node, RpcTable& table) {
  WalletManager& wm = (*node.wallets);
  table.add({"createwallet", "wallet",
             {{"wallet_name", RpcType::kString, true, "1-64 letters, digits, '_', '-', '.'"},
              {"passphrase", RpcType::kString, false, "encrypt the wallet with this passphrase"},
              {"load_on_startup", RpcType::kBool, false, "load it again when cheesed starts (default true)"}},
             "Creates a wallet and returns its 24-word recovery phrase, shown this once: write it down.",
             "cheese-cli createwallet alice", [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::string name = wallet_name_param(r, 0);
               auto created = co_await wm.create(name, optional_string(r, 1), r.get_bool(2, true));
               json::object o;
               o["name"] = name;
               o["mnemonic"] = std::string(created.mnemonic.view());
               o["encrypted"] = created.entry->wallet.is_encrypted();
               o["warning"] =
                   "Write the recovery phrase down and keep it offline: it is the only way to restore this wallet, "
                   "and it will not be shown again.";
               (void)node;
               co_return o;
             }});
  table.add({"restorewallet", "wallet",
             {{"wallet_name", RpcType::kString, true, "name of the new wallet file"},
              {"mnemonic", RpcType::kString, true, "the 24-word recovery phrase"},
              {"passphrase", RpcType::kString, false, "encrypt the restored wallet with this passphrase"},
              {"load_on_startup", RpcType::kBool, false, "load it again when cheesed starts (default true)"}},
             "Rebuilds a wallet from its recovery phrase and scans the chain for its transactions.",
             "cheese-cli restorewallet alice2 \"word1 word2 ... word24\"",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::string name = wallet_name_param(r, 0);
               auto e = co_await wm.restore(name, r.get_string(1), optional_string(r, 2), r.get_bool(3, true));
               co_await wm.wait_scanned(e);  // the chain scan goes on in slices; reply when it is done
               json::object o;
               o["name"] = name;
               o["addresses"] = e->wallet.addresses().size();
               o["txcount"] = wallet_value(e->wallet.transaction_count());
               o["warning"] = "";
               co_return o;
             }});
  table.add({"loadwallet", "wallet",
             {{"filename", RpcType::kString, true, "the wallet name"},
              {"load_on_startup", RpcType::kBool, false, "load it again when cheesed starts (default true)"}},
             "Loads a wallet from the wallets directory.", "cheese-cli loadwallet alice",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               const std::string name = wallet_name_param(r, 0);
               auto e = wm.load(name, r.get_bool(1, true));
               co_await wm.wait_scanned(e);
               json::object o;
               o["name"] = name;
               o["warning"] = "";
               co_return o;
             }});
  table.add({"unloadwallet", "wallet",
             {{"wallet_name", RpcType::kString, false, "default: the wallet of the request"},
              {"load_on_startup", RpcType::kBool, false, "false (default) stops loading it at start"}},
             "Unloads a wallet (its lock timer stops and its secrets leave memory).", "cheese-cli unloadwallet alice",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               std::string name;
               if (r.has(0)) {
                 name = wallet_name_param(r, 0);
                 if (!r.wallet.empty() && r.wallet != name) {
                   throw RpcError(kRpcInvalidParameter,
                                  "RPC endpoint wallet and wallet_name parameter specify different wallets");
                 }
               } else {
                 name = (co_await wm.for_request(r))->wallet.name();
               }
               co_await wm.unload(name, !r.get_bool(1, false));
               json::object o;
               o["warning"] = "";
               co_return o;
             }});
  table.add({"listwallets", "wallet", {}, "Names of the loaded wallets.", "cheese-cli listwallets",
             [&wm](RpcRequest&) -> asio::awaitable<json::value> {
               json::array out;
               for (const auto& n : wm.loaded()) out.emplace_back(n);
               co_return out;
             }});
  table.add({"listwalletdir", "wallet", {}, "Wallet files in the wallets directory.", "cheese-cli listwalletdir",
             [&wm](RpcRequest&) -> asio::awaitable<json::value> {
               json::array list;
               for (const auto& n : wm.on_disk()) {
                 json::object w;
                 w["name"] = n;
                 list.push_back(std::move(w));
               }
               json::object o;
               o["wallets"] = std::move(list);
               co_return o;
             }});
  table.add({"getwalletinfo", "wallet", {}, "State of the wallet: balances, encryption, keys, transactions.",
             "cheese-cli getwalletinfo", [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
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
                                         ? static_cast<double>(last->height + 1 - e->scan_from) : 0.0;
                 o["scanning"] = json::object{
                     {"duration", std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::steady_clock::now() - e->scan_started).count()},
                     {"progress", total > 0 ? std::min(1.0, done / total) : 0.0}};
               } else {
                 o["scanning"] = false;
               }
               o["mining_address"] = e->wallet.addresses().empty()
                                         ? json::value(nullptr)
                                         : json::value(address_of(e->wallet.addresses().front().pubkey, (*node.params)));
               co_return o;
             }});
  table.add({"getnewaddress", "wallet", {{"label", RpcType::kString, false, "a label (default \"\")"}},
             "A new address of the wallet (from the keypool, so a locked wallet can hand them out).",
             "cheese-cli getnewaddress shop", [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               const std::string label = r.get_string(0, "");
               if (label.size() > 256) throw RpcError(kRpcInvalidParameter, "label longer than 256 bytes");
               const WalletAddress a = wallet_value(e->wallet.new_address(label));
               co_return json::value(address_of(a.pubkey, (*node.params)));
             }});
  table.add({"listaddresses", "wallet", {},
             "Addresses handed out, with their label, confirmed balance, pending spends and next nonce.",
             "cheese-cli listaddresses", [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
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
             }});
  table.add({"getbalance", "wallet", {},
             "What the wallet can spend now: confirmed balance minus pending spends.", "cheese-cli getbalance",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               co_return amount_value(wm.balances(*e).trusted());
             }});
  table.add({"getbalances", "wallet", {},
             "Balances: trusted (spendable), untrusted_pending (incoming, unconfirmed), immature (coinbase).",
             "cheese-cli getbalances", [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               co_return balances_json(wm.balances(*e));
             }});
  table.add({"listtransactions", "wallet",
             {{"count", RpcType::kInt, false, "how many (default 10)"},
              {"skip", RpcType::kInt, false, "skip this many most recent (default 0)"}},
             "The wallet's most recent transactions, oldest first, with confirmations.",
             "cheese-cli listtransactions 20", [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               const std::int64_t count = r.get_int(0, 10);
               const std::int64_t skip = r.get_int(1, 0);
               if (count < 0) throw RpcError(kRpcInvalidParameter, "Negative count");
               if (skip < 0) throw RpcError(kRpcInvalidParameter, "Negative from");
               const auto records = wallet_value(
                   e->wallet.list_transactions(static_cast<std::size_t>(count), static_cast<std::size_t>(skip)));
               json::array out;
               for (const auto& t : records) out.push_back(entry_json(node, t));
               co_return out;
             }});
  auto send_handler = [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
    auto e = co_await wm.for_request(r);
    const PublicKey to = parse_address(r.get_string(0), (*node.params));
    const Amount amount = positive_amount(r, 1);
    const bool is_send = r.method->name == "send";
    std::optional<Amount> fee;
    if (is_send && r.has(2)) fee = r.get_amount(2);
    const WalletSendResult sent = co_await wm.send(e, to, amount, fee, is_send);
    if (!is_send) co_return json::value(sent.txids.front().to_display_hex());
    json::object o;
    o["txid"] = sent.txids.front().to_display_hex();
    json::array ids;
    for (const auto& id : sent.txids) ids.emplace_back(id.to_display_hex());
    o["txids"] = std::move(ids);
    o["amount"] = amount_value(amount);
    o["fee"] = amount_value(sent.fee);
    co_return o;
  };
  table.add({"send", "wallet",
             {{"address", RpcType::kString, true, "who to pay"},
              {"amount", RpcType::kAmount, true, "CHZ, up to 8 decimals"},
              {"fee", RpcType::kAmount, false, "fee per transaction in CHZ (default: the wallet's fee policy)"}},
             "Pays an address; returns {txid, txids, amount, fee}. Splits over several addresses when no single "
             "one holds enough.",
             "cheese-cli send rchz1... 1.5", send_handler});
  table.add({"sendtoaddress", "wallet",
             {{"address", RpcType::kString, true, "who to pay"},
              {"amount", RpcType::kAmount, true, "CHZ, up to 8 decimals"}},
             "Pays an address from one of the wallet's addresses with the default fee; returns the txid.",
             "cheese-cli sendtoaddress rchz1... 1.5", send_handler});
  table.add({"rescanblockchain", "wallet",
             {{"start_height", RpcType::kInt, false, "first height to scan (default 0)"}},
             "Scans the active chain again for the wallet's transactions; returns {start_height, stop_height}. "
             "After walletpassphrase it also finds payments beyond a locked wallet's keypool.",
             "cheese-cli rescanblockchain", [&node, &wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               const std::int64_t start = r.get_int(0, 0);
               if (start < 0) throw RpcError(kRpcInvalidParameter, "start_height must not be negative");
               const std::uint64_t stop = co_await wm.rescan(e, static_cast<std::uint64_t>(start));
               json::object o;
               o["start_height"] = start;
               o["stop_height"] = stop;
               (void)node;
               co_return o;
             }});
  table.add({"encryptwallet", "wallet", {{"passphrase", RpcType::kString, true, "at least one character"}},
             "Encrypts the wallet with a passphrase; it is locked afterwards.", "cheese-cli encryptwallet \"my pass\"",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               co_await wm.encrypt(e, r.get_string(0));
               co_return json::value(
                   "wallet encrypted; it is now locked. Unlock it with walletpassphrase to send. Backups made "
                   "before this are not encrypted.");
             }});
  table.add({"walletpassphrase", "wallet",
             {{"passphrase", RpcType::kString, true, "the wallet passphrase"},
              {"timeout", RpcType::kInt, true, "seconds until it locks again (at most 100000000)"}},
             "Unlocks the wallet for `timeout` seconds.", "cheese-cli walletpassphrase \"my pass\" 60",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               co_await wm.unlock(e, r.get_string(0), r.get_int(1, 0));
               co_return json::value(nullptr);
             }});
  table.add({"walletlock", "wallet", {}, "Locks the wallet now (its secrets leave memory).", "cheese-cli walletlock",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               wm.lock(*e);
               co_return json::value(nullptr);
             }});
  table.add({"walletpassphrasechange", "wallet",
             {{"oldpassphrase", RpcType::kString, true, "the current passphrase"},
              {"newpassphrase", RpcType::kString, true, "the new passphrase"}},
             "Changes the wallet passphrase.", "cheese-cli walletpassphrasechange \"old\" \"new\"",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               co_await wm.change_passphrase(e, r.get_string(0), r.get_string(1));
               co_return json::value(nullptr);
             }});
  table.add({"backupwallet", "wallet", {{"destination", RpcType::kString, true, "file to write (replaced atomically)"}},
             "Writes a consistent copy of the wallet file.", "cheese-cli backupwallet /backup/alice.wallet",
             [&wm](RpcRequest& r) -> asio::awaitable<json::value> {
               auto e = co_await wm.for_request(r);
               const std::string dest = r.get_string(0);
               if (dest.empty()) throw RpcError(kRpcInvalidParameter, "destination must not be empty");
               if (auto st = e->wallet.backup(dest); !st) throw_wallet_error(st.error());
               co_return json::value(nullptr);
             }});
}

}  // namespace cheese
