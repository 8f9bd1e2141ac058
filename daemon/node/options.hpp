#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "consensus/params.hpp"
#include "daemon/net/local_addresses.hpp"
#include "daemon/rpc/rpc_whitelist.hpp"
#include "net/address.hpp"
#include "util/args.hpp"

namespace cheese {

//! Default limits of the node, each a named constant (documented in cheesed -help).
inline constexpr int kDefaultMaxConnections = 64;
inline constexpr int kDefaultMaxOutbound = 8;
inline constexpr std::int64_t kDefaultMaxMempoolMb = 64;
inline constexpr std::int64_t kDefaultMempoolExpiryHours = 336;

//! Everything cheesed was told, resolved and checked.
struct NodeOptions {
  const ChainParams* params = nullptr;
  std::filesystem::path datadir;  //!< the network's folder (e.g. ~/.cheesechain/regtest)
  std::filesystem::path conf_file;
  std::uint16_t port = 0;
  std::uint16_t rpc_port = 0;
  std::vector<std::string> rpc_bind;      //!< addresses the RPC port listens on
  std::vector<std::string> rpc_allow_ip;  //!< extra client subnets allowed besides loopback
  std::string rpc_user;
  std::string rpc_password;
  RpcWhitelist rpc_whitelist;  //!< -rpcwhitelist, -rpcwhitelistdefault
  bool listen = true;
  std::vector<net::NetAddress> binds;         //!< -bind, each with its port (default -port)
  std::vector<net::NetAddress> external_ips;  //!< -externalip, each with its port (default: our listen port)
  std::vector<IpNetwork> onlynet;             //!< -onlynet (empty: every network)
  std::vector<std::string> trackers;
  std::vector<std::string> connect;
  std::vector<std::string> addnode;
  // Bootstrap (docs/protocol.md 7.5); with -connect none of it is used.
  std::vector<std::string> seednodes;    //!< -seednode
  std::vector<std::string> dns_seeds;    //!< to query (-dnsseed=1: the network's or -dnsseedhost)
  std::vector<std::string> fixed_seeds;  //!< "ip:port" (-fixedseeds=1: the network's or -fixedseedaddr)
  int max_connections = kDefaultMaxConnections;
  int full_relay_outbound = kDefaultMaxOutbound;  //!< -outboundfullrelay
  bool feelers = true;                            //!< -feelers (default off on regtest)
  std::int64_t feeler_interval = 120;             //!< -feelerinterval, seconds between feelers
  std::int64_t extra_block_relay_interval = 300;  //!< -extrablockrelayinterval, mean seconds
  std::vector<std::string> debug;
  bool print_to_console = false;
  bool daemon = false;
  std::filesystem::path pid_file;
  int gen_threads = 0;  //!< 0: all cores
  std::vector<std::string> wallets;
  bool reindex_chainstate = false;
  std::int64_t max_mempool_mb = kDefaultMaxMempoolMb;
  std::int64_t mempool_expiry_hours = kDefaultMempoolExpiryHours;
  std::int64_t rpc_server_timeout = 30;    //!< seconds to receive a whole request
  std::int64_t handshake_timeout = 60;     //!< seconds for a peer to complete version/verack
  std::int64_t peer_timeout = 1200;        //!< seconds of silence before a peer is dropped
  std::int64_t block_stall_timeout = 120;  //!< seconds a requested block may take
  //! -minimumchainwork (hex); the network's ChainParams::minimum_chain_work when not given.
  std::optional<U256> minimum_chain_work;
};

//! Every option cheesed accepts, with its default and help.
std::vector<OptionSpec> node_option_specs();

//! Parses argv and the config file into options; returns an error message for anything wrong
//! (unknown option, bad value, unusable data directory). `help`/`version` are set when asked.
std::optional<std::string> parse_node_options(int argc, const char* const* argv, NodeOptions& out, bool& help,
                                              bool& version);

}  // namespace cheese
