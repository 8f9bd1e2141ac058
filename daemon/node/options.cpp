#include "daemon/node/options.hpp"

#include <fmt/format.h>

#include "daemon/net/bootstrap.hpp"
#include "net/address.hpp"

namespace cheese {

namespace {

//! How the node meets its peers: listening, bootstrap, connection slots.
std::vector<OptionSpec> p2p_option_specs() {
  using K = OptionSpec::Kind;
  return {
      {"listen", K::kFlag, "1", "Accept incoming P2P connections"},
      {"bind", K::kList, "addr[:port]",
       "Listen for peers only on this address (repeatable; IPv6 as [addr]:port; default: [::] and 0.0.0.0 on "
       "-port)"},
      {"externalip", K::kList, "ip[:port]",
       "Our own address as peers should dial it, advertised to peers and trackers (repeatable; default port: "
       "the listen port)"},
      {"onlynet", K::kList, "net",
       "Make automatic outbound connections only to this network, ipv4 or ipv6 (repeatable; inbound and "
       "manual ones are not limited)"},
      {"tracker", K::kList, "host:port",
       "Tracker to register with and ask for peers (repeatable; regtest default: 127.0.0.1:9999)"},
      {"connect", K::kList, "host:port", "Connect only to these peers (repeatable)"},
      {"addnode", K::kList, "host:port", "Also connect to this peer and keep the connection open (repeatable)"},
      {"seednode", K::kList, "host:port",
       "Connect to this node at start to ask for addresses, then disconnect (repeatable)"},
      {"dnsseed", K::kFlag, "1",
       "Ask the network's DNS seeds for addresses when the address book has too few (default: 1 unless -connect; "
       "no network has seeds yet)"},
      {"dnsseedhost", K::kList, "name",
       "Query this DNS seed instead of the network's (repeatable; test and regtest only: for testing and private "
       "networks)"},
      {"fixedseeds", K::kFlag, "1",
       "Try the network's fixed seed addresses when no other source gave a peer within 60 s (default: 1; no "
       "network has any yet)"},
      {"fixedseedaddr", K::kList, "ip:port",
       "Use this fixed seed address instead of the network's (repeatable; test and regtest only: for testing and "
       "private networks)"},
      {"minimumchainwork", K::kString, "hex",
       "Work (hex) a chain must have before its headers are stored or its blocks downloaded (default: the "
       "network's, 0 before launch)"},
      {"maxconnections", K::kInt, std::to_string(kDefaultMaxConnections),
       "Maximum P2P connections, inbound and outbound"},
      {"outboundfullrelay", K::kInt, std::to_string(kDefaultMaxOutbound),
       "Full-relay outbound connections to keep, 0..8; 2 block-relay-only ones come on top"},
      {"feelers", K::kFlag, "1",
       "Every 2 minutes, once the outbound slots are full, test one address of the address book with a short "
       "connection (default: 1; 0 on regtest)"},
      {"feelerinterval", K::kInt, "120", "Seconds between feeler connections (for tests)"},
      {"extrablockrelayinterval", K::kInt, "300",
       "Mean seconds between extra block-relay-only connections that probe for a better chain (for tests)"},
  };
}

}  // namespace

std::vector<OptionSpec> node_option_specs() {
  using K = OptionSpec::Kind;
  std::vector<OptionSpec> specs = {
      {"help", K::kFlag, "", "Print this help and exit (also -h, -?)"},
      {"h", K::kFlag, "", "Same as -help"},
      {"?", K::kFlag, "", "Same as -help"},
      {"version", K::kFlag, "", "Print the version and exit"},
      {"datadir", K::kString, "dir", "Data directory (default: ~/.cheesechain)"},
      {"conf", K::kString, "file", "Config file, relative to -datadir (default: cheese.conf)"},
      {"chain", K::kString, "name", "Network: main, test or regtest (default: main)"},
      {"regtest", K::kFlag, "", "Use the regtest network (same as -chain=regtest)"},
      {"testnet", K::kFlag, "", "Use the test network (same as -chain=test)"},
      {"port", K::kInt, "port", "P2P port (default: 8433, test 18433, regtest 28433)"},
      {"rpcport", K::kInt, "port", "JSON-RPC and web UI port (default: 8432, test 18432, regtest 28432)"},
      {"rpcbind", K::kList, "addr", "Listen for JSON-RPC on this address (repeatable; default: 127.0.0.1)"},
      {"rpcallowip", K::kList, "ip", "Allow JSON-RPC clients from this IP or subnet besides loopback (repeatable)"},
      {"handshaketimeout", K::kInt, "60", "Seconds a peer has to complete the version handshake"},
      {"peertimeout", K::kInt, "1200", "Seconds of silence after which a peer is disconnected"},
      {"blockstalltimeout", K::kInt, "120", "Seconds a peer may take to deliver a requested block"},
      {"rpcservertimeout", K::kInt, "30", "Seconds a client has to send a whole HTTP request"},
      {"rpcuser", K::kString, "user", "Username for JSON-RPC (with -rpcpassword; default: cookie auth)"},
      {"rpcpassword", K::kString, "pw", "Password for JSON-RPC"},
      {"rpcwhitelist", K::kList, "user:method,...",
       "The RPC user (__cookie__ for the cookie) may call only these methods (repeatable; several lines for one "
       "user intersect)"},
      {"rpcwhitelistdefault", K::kFlag, "",
       "1: a user without -rpcwhitelist may call nothing; 0: anything (default: 1 when -rpcwhitelist is given, "
       "else 0)"},
      {"debug", K::kList, "category",
       "Log a category: net, rpc, mempool, validation, tracker, mining, or all (repeatable)"},
      {"printtoconsole", K::kFlag, "0", "Also write the log to standard output"},
      {"daemon", K::kFlag, "0", "Run in the background"},
      {"pid", K::kString, "file", "PID file, relative to the network's data directory (default: cheesed.pid)"},
      {"genthreads", K::kInt, "0", "Mining threads (0: one per core)"},
      {"wallet", K::kList, "name", "Load this wallet at start (repeatable)"},
      {"reindex-chainstate", K::kFlag, "0", "Rebuild account state from the stored blocks at start"},
      {"maxmempool", K::kInt, std::to_string(kDefaultMaxMempoolMb), "Mempool size limit in megabytes"},
      {"mempoolexpiry", K::kInt, std::to_string(kDefaultMempoolExpiryHours),
       "Hours a transaction may stay in the mempool"},
  };
  const std::vector<OptionSpec> p2p = p2p_option_specs();
  specs.insert(specs.end(), p2p.begin(), p2p.end());
  return specs;
}

namespace {

//! Ports, RPC access and peer timeouts.
std::optional<std::string> read_rpc_options(const Args& args, NodeOptions& out) {
  auto port_option = [&](const char* name, std::uint16_t fallback,
                         std::uint16_t& into) -> std::optional<std::string> {
    const std::int64_t v = args.get_int(name, fallback);
    if (v < 0 || v > 65535) return fmt::format("invalid -{}={}: a port is 0..65535", name, v);
    into = static_cast<std::uint16_t>(v);
    return std::nullopt;
  };
  if (auto err = port_option("port", out.params->default_p2p_port, out.port)) return err;
  if (auto err = port_option("rpcport", out.params->default_rpc_port, out.rpc_port)) return err;
  out.rpc_bind = args.get_list("rpcbind");
  if (out.rpc_bind.empty()) out.rpc_bind = {"127.0.0.1"};
  out.rpc_allow_ip = args.get_list("rpcallowip");
  out.rpc_server_timeout = args.get_int("rpcservertimeout", 30);
  if (out.rpc_server_timeout < 1 || out.rpc_server_timeout > 3600) {
    return fmt::format("invalid -rpcservertimeout={}: use 1..3600 seconds", out.rpc_server_timeout);
  }
  for (auto [name, into] :
       {std::pair{"handshaketimeout", &out.handshake_timeout}, std::pair{"peertimeout", &out.peer_timeout},
        std::pair{"blockstalltimeout", &out.block_stall_timeout}}) {
    *into = args.get_int(name, *into);
    if (*into < 1 || *into > 86400) return fmt::format("invalid -{}={}: use 1..86400 seconds", name, *into);
  }
  out.rpc_user = args.get_string("rpcuser");
  out.rpc_password = args.get_string("rpcpassword");
  if (out.rpc_user.empty() != out.rpc_password.empty()) {
    return std::string("-rpcuser and -rpcpassword go together: give both or neither (cookie auth)");
  }
  std::optional<bool> whitelist_default;
  if (args.is_set("rpcwhitelistdefault")) whitelist_default = args.get_bool("rpcwhitelistdefault");
  return parse_rpc_whitelist(args.get_list("rpcwhitelist"), whitelist_default, out.rpc_whitelist);
}

//! -seednode, -dnsseed, -fixedseeds and what -connect turns off (docs/protocol.md 7.5).
std::optional<std::string> read_bootstrap_options(const Args& args, NodeOptions& out) {
  const bool connect = !out.connect.empty();
  // As bitcoind: -connect means those peers only; a tracker is still used when named explicitly
  // (to be listed there), but the regtest default one is not.
  if (connect && !args.is_set("tracker")) out.trackers.clear();
  out.seednodes = args.get_list("seednode");
  const Network net = out.params->network;
  for (const char* name : {"dnsseedhost", "fixedseedaddr"}) {
    if (args.is_set(name) && net == Network::kMain) {
      return fmt::format("-{} is for the test and regtest networks (testing and private networks)", name);
    }
  }
  const auto hosts = args.is_set("dnsseedhost") ? args.get_list("dnsseedhost") : dns_seed_hosts(net);
  const auto fixed = args.is_set("fixedseedaddr") ? args.get_list("fixedseedaddr") : fixed_seed_addresses(net);
  for (const std::size_t n : {out.seednodes.size(), hosts.size(), fixed.size()}) {
    if (n > kMaxSeedOptionValues) {
      return fmt::format("too many seeds ({}): -seednode, -dnsseedhost and -fixedseedaddr take at most {} each", n,
                         kMaxSeedOptionValues);
    }
  }
  for (const auto& h : hosts) {
    if (h.empty() || h.size() > 253 || h.find_first_of(":/ ") != std::string::npos) {
      return fmt::format("invalid -dnsseedhost={}: a host name", h);
    }
  }
  for (const auto& a : fixed) {
    if (!net::NetAddress::parse_endpoint(a, out.params->default_p2p_port)) {
      return fmt::format("invalid -fixedseedaddr={}: use ip or ip:port (no host name)", a);
    }
  }
  if (!connect && args.get_bool("dnsseed", true)) out.dns_seeds = hosts;
  if (!connect && args.get_bool("fixedseeds", true)) out.fixed_seeds = fixed;
  return std::nullopt;
}

//! -bind, -externalip and -onlynet (after -port and -listen), docs/protocol.md 7.6.
std::optional<std::string> read_listen_options(const Args& args, NodeOptions& out) {
  for (const auto& name : args.get_list("onlynet")) {
    auto n = parse_ip_network(name);
    if (!n) return fmt::format("unknown network in -onlynet={}: use ipv4 or ipv6 (repeatable)", name);
    out.onlynet.push_back(*n);
  }
  const ReachableNetworks reachable(out.onlynet);
  for (const auto& text : args.get_list("bind")) {
    auto a = net::NetAddress::parse_endpoint(text, out.port);
    if (!a) {
      return fmt::format(
          "invalid -bind={}: use an IP address with an optional port, IPv6 in brackets "
          "([::1]:28433); host names are not resolved",
          text);
    }
    out.binds.push_back(*a);
  }
  if (!out.binds.empty() && !out.listen) return std::string("-bind and -listen=0 contradict each other: drop one");
  const std::uint16_t listen_port = out.binds.empty() ? out.port : out.binds.front().port;
  for (const auto& text : args.get_list("externalip")) {
    auto a = net::NetAddress::parse_endpoint(text, listen_port);
    if (!a || a->is_unspecified() || a->port == 0) {
      return fmt::format(
          "invalid -externalip={}: use an IP address with an optional port (IPv6 as "
          "[addr]:port); host names are not resolved",
          text);
    }
    if (!reachable.contains(*a)) {
      return fmt::format("-externalip={} is an {} address, a network -onlynet excludes", text,
                         to_string(network_of(*a)));
    }
    if (!a->is_routable() && out.params->network != Network::kRegtest) {
      return fmt::format("-externalip={} is not a public address: peers on the internet could not dial it", text);
    }
    out.external_ips.push_back(*a);
  }
  return std::nullopt;
}

//! P2P, logging, mining, wallets and mempool.
std::optional<std::string> read_node_options(const Args& args, NodeOptions& out) {
  out.listen = args.get_bool("listen", true);
  out.trackers = args.get_list("tracker");
  if (!args.is_set("tracker") && out.params->network == Network::kRegtest) out.trackers = {"127.0.0.1:9999"};
  out.connect = args.get_list("connect");
  out.addnode = args.get_list("addnode");
  out.max_connections = static_cast<int>(args.get_int("maxconnections", kDefaultMaxConnections));
  if (out.max_connections < 0 || out.max_connections > 10000) {
    return fmt::format("invalid -maxconnections={}: use 0..10000", out.max_connections);
  }
  if (args.is_set("minimumchainwork")) {
    const std::string hex = args.get_string("minimumchainwork");
    out.minimum_chain_work = U256::from_hex(std::string_view(hex).substr(hex.starts_with("0x") ? 2 : 0));
    if (!out.minimum_chain_work) {
      return fmt::format("invalid -minimumchainwork={}: use 1 to 64 hex digits", args.get_string("minimumchainwork"));
    }
  }
  out.full_relay_outbound = static_cast<int>(args.get_int("outboundfullrelay", kDefaultMaxOutbound));
  if (out.full_relay_outbound < 0 || out.full_relay_outbound > kDefaultMaxOutbound) {
    return fmt::format("invalid -outboundfullrelay={}: use 0..{}", out.full_relay_outbound, kDefaultMaxOutbound);
  }
  out.feelers = args.get_bool("feelers", out.params->network != Network::kRegtest);
  out.feeler_interval = args.get_int("feelerinterval", out.feeler_interval);
  if (out.feeler_interval < 1 || out.feeler_interval > 86400) {
    return fmt::format("invalid -feelerinterval={}: use 1..86400 seconds", out.feeler_interval);
  }
  out.extra_block_relay_interval = args.get_int("extrablockrelayinterval", out.extra_block_relay_interval);
  if (out.extra_block_relay_interval < 1 || out.extra_block_relay_interval > 86400) {
    return fmt::format("invalid -extrablockrelayinterval={}: use 1..86400 seconds", out.extra_block_relay_interval);
  }
  out.debug = args.get_list("debug");
  for (const auto& c : out.debug) {
    static const char* kCategories[] = {"net", "rpc", "mempool", "validation", "tracker", "mining", "all", "1"};
    if (std::find(std::begin(kCategories), std::end(kCategories), c) == std::end(kCategories)) {
      return fmt::format("unknown -debug category '{}': use net, rpc, mempool, validation, tracker, mining or all",
                         c);
    }
  }
  out.print_to_console = args.get_bool("printtoconsole");
  out.daemon = args.get_bool("daemon");
  out.pid_file = out.datadir / args.get_string("pid", "cheesed.pid");
  out.gen_threads = static_cast<int>(args.get_int("genthreads", 0));
  if (out.gen_threads < 0 || out.gen_threads > 1024) return fmt::format("invalid -genthreads={}", out.gen_threads);
  out.wallets = args.get_list("wallet");
  out.reindex_chainstate = args.get_bool("reindex-chainstate");
  out.max_mempool_mb = args.get_int("maxmempool", kDefaultMaxMempoolMb);
  if (out.max_mempool_mb < 1 || out.max_mempool_mb > 1'000'000) {
    return fmt::format("invalid -maxmempool={}: use 1..1000000 (megabytes)", out.max_mempool_mb);
  }
  out.mempool_expiry_hours = args.get_int("mempoolexpiry", kDefaultMempoolExpiryHours);
  if (out.mempool_expiry_hours < 1) return fmt::format("invalid -mempoolexpiry={}", out.mempool_expiry_hours);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_node_options(int argc, const char* const* argv, NodeOptions& out, bool& help,
                                              bool& version) {
  Args args(node_option_specs());
  if (auto err = args.parse_command_line(argc, argv)) return err;
  for (const auto& p : args.positional()) {
    return fmt::format("unexpected argument '{}' (options start with '-'; see cheesed -help)", p);
  }
  help = args.get_bool("help") || args.get_bool("h") || args.get_bool("?");
  version = args.get_bool("version");
  if (help || version) return std::nullopt;

  const std::filesystem::path base = args.is_set("datadir") ? std::filesystem::path(args.get_string("datadir"))
                                                            : default_data_dir();
  if (args.is_set("datadir") && !std::filesystem::is_directory(base)) {
    return fmt::format("data directory {} does not exist", base.string());
  }
  const std::filesystem::path conf = base / args.get_string("conf", "cheese.conf");
  if (auto err = args.read_config_file(conf, args.is_set("conf"))) return err;
  out.conf_file = conf;

  std::string network;
  if (auto err = args.select_network(network)) return err;
  args.use_network(network);
  out.params = &chain_params(*parse_network(network));
  out.datadir = out.params->data_subdir.empty() ? base : base / out.params->data_subdir;

  if (auto err = read_rpc_options(args, out)) return err;
  if (auto err = read_node_options(args, out)) return err;
  if (auto error = read_bootstrap_options(args, out)) return error;
  return read_listen_options(args, out);
}

}  // namespace cheese