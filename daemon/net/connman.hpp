#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "consensus/params.hpp"
#include "daemon/net/addr_book.hpp"
#include "daemon/net/ban_list.hpp"
#include "daemon/net/bootstrap.hpp"
#include "daemon/net/connection.hpp"
#include "daemon/net/dns_seed.hpp"
#include "daemon/net/eviction.hpp"
#include "daemon/net/extra_block_relay.hpp"
#include "daemon/net/listeners.hpp"
#include "daemon/net/local_addresses.hpp"
#include "daemon/net/net_events.hpp"
#include "io/task_group.hpp"

namespace cheese {

//! Full-relay outbound connections the node keeps (fewer when -maxconnections or
//! -outboundfullrelay is lower); kBlockRelayOnlyConnections come on top.
inline constexpr std::size_t kMaxOutboundPeers = 8;
//! Inbound connections still in their handshake at once; more are refused (slots are not taken
//! by connections that never speak the protocol).
inline constexpr std::size_t kMaxInboundUnfinishedHandshakes = 8;
//! A dial that has not connected in this time is abandoned.
inline constexpr std::chrono::seconds kConnectTimeout{5};
//! peers.json is written this often (and at shutdown).
inline constexpr std::chrono::seconds kAddrBookSaveInterval{60};
//! How often the manager dials, and ticks the message processor (timeouts, stalls, retries).
inline constexpr std::chrono::milliseconds kConnManagerTick{500};
//! Outbound connections (full-relay and block-relay-only) dialled from the address book in one
//! dial round (one per second), as Bitcoin Core opens one every 500 ms: a starting node does not
//! take all its peers from the first few addresses it hears of (the tracker's answer, in which
//! the oldest nodes are likeliest), but from a book that its first peers' `addr` replies have
//! grown, so inbound connections spread over the network (issue 17). -connect, -addnode,
//! anchors and feelers are not counted.
inline constexpr std::size_t kMaxOutboundDialsPerRound = 2;
//! While the tip is stale and the extra outbound peer it asked for is connected, every this often
//! the full-relay outbound peer that gave us a new block longest ago (the extra one included) is
//! disconnected, so that another extra peer is tried (Bitcoin Core's EvictExtraOutboundPeers):
//! a node whose outbound peers are all on the wrong side of a healed partition finds the other
//! side.
inline constexpr std::chrono::seconds kStaleTipRotation{30};

//! The connections (Bitcoin Core's CConnman): the listening socket, dialling (-connect,
//! -addnode, anchors.json, the address book: full-relay, block-relay-only and feeler connections,
//! docs/protocol.md 7.4), connection slots, the address book and the ban list. Each
//! connection's messages go to the message processor (NetEvents), which answers through this
//! manager (MessageSink). Runs on the node's io thread.
class ConnManager final : public MessageSink {
 public:
  struct Options {
    std::uint16_t port = 0;
    bool listen = true;
    //! -bind: listen only on these (each with its port); empty: dual-stack on `port`.
    std::vector<net::NetAddress> binds;
    //! -externalip: the addresses we advertise (with their ports); they replace discovery.
    std::vector<net::NetAddress> external_ips;
    //! -onlynet: the networks automatic outbound connections use.
    ReachableNetworks reachable;
    std::vector<std::string> connect;
    std::vector<std::string> addnode;
    int max_connections = 64;
    std::chrono::seconds idle_timeout = net::kIdleTimeout;
    std::filesystem::path datadir;  //!< peers.json and anchors.json live here
    //! Full-relay outbound connections wanted (at most kMaxOutboundPeers).
    std::size_t full_relay_outbound = kMaxOutboundPeers;
    //! Feeler connections every `feeler_interval` (off by default on regtest: -feelers).
    bool feelers = false;
    std::chrono::seconds feeler_interval = kFeelerInterval;  //!< -feelerinterval (tests)
    //! Mean gap between extra block-relay-only probes (-extrablockrelayinterval, tests).
    std::chrono::seconds extra_block_relay_interval = kExtraBlockRelayInterval;
    // Bootstrap (daemon/net/bootstrap.hpp); none of it with -connect.
    std::vector<std::string> seednodes;    //!< -seednode: addr-fetch connections at start
    std::vector<std::string> dns_seeds;    //!< host names (-dnsseed=1: the network's, or -dnsseedhost)
    std::vector<std::string> fixed_seeds;  //!< "ip:port" (-fixedseeds=1: the network's, or -fixedseedaddr)
    bool trackers = false;                 //!< a tracker is configured (another source of addresses)
  };

  ConnManager(asio::io_context& io, const ChainParams& params, Options options);
  ~ConnManager() override;

  //! The message processor; set before start().
  void set_events(NetEvents& events) { events_ = &events; }
  //! Binds the P2P listeners (if listening; -bind, else dual-stack) and starts the dial-and-tick
  //! loop. Throws when a -bind address, or neither wildcard address, can be bound.
  void start();
  //! Closes the listener and every connection, saves peers.json.
  void stop();
  std::uint16_t listen_port() const { return listeners_.port(); }
  //! Where the P2P listeners listen (empty with -listen=0).
  std::vector<net::NetAddress> listen_addresses() const { return listeners_.addresses(); }
  //! Our own addresses as peers should dial them (getnetworkinfo, version's addr_from).
  const LocalAddresses& local_addresses() const { return local_; }
  //! A tracker saw our connection come from `observed` (its ip; the port is ignored): advertised
  //! with our listen port unless -externalip is given or we do not listen.
  void observed_address(const net::NetAddress& observed);
  std::uint64_t local_nonce() const { return local_nonce_; }

  // MessageSink (called by the message processor).
  void send(PeerId peer, const net::Message& m) override;
  void disconnect(PeerId peer, std::string_view reason) override;
  void discourage(PeerId peer, const net::NetAddress& address, std::string_view reason) override;
  std::size_t send_queue_bytes(PeerId peer) const override;
  void pause_reading(PeerId peer, bool paused) override;
  void listen_address(PeerId peer, const net::NetAddress& address) override;
  void own_address(const net::NetAddress& address) override;
  void stale_tip(bool stale) override { stale_tip_ = stale; }
  void initial_sync_done() override;

  // Called by connections.
  const NetworkMagic& magic() const { return params_.magic; }
  std::chrono::seconds idle_timeout() const { return options_.idle_timeout; }
  void deliver(PeerId peer, net::Message message);
  void connection_closed(const std::shared_ptr<Connection>& c);
  void send_drained(PeerId peer) {
    if (events_) events_->on_send_drained(peer);
  }
  void count_bytes(std::uint64_t sent, std::uint64_t recv) {
    total_sent_ += sent;
    total_recv_ += recv;
  }

  // RPC and the tracker client.
  std::vector<std::shared_ptr<const Connection>> connections() const;
  std::size_t connection_count() const { return connections_.size(); }
  //! Outbound connections of every kind (a feeler too, while it lasts).
  std::size_t outbound_count() const;
  //! Full-relay plus block-relay-only connections wanted.
  std::size_t wanted_outbound() const { return wanted_full_relay() + wanted_block_relay(); }
  std::size_t wanted_full_relay() const;
  std::size_t wanted_block_relay() const;
  //! Inbound slots: what -maxconnections leaves after the outbound connections wanted.
  std::size_t max_inbound() const;
  const Options& options() const { return options_; }
  //! addnode add|remove|onetry; returns an error message or "".
  std::string addnode(const std::string& node, const std::string& command);
  std::vector<std::string> added_nodes() const { return added_nodes_; }
  //! What getaddednodeinfo shows for one added node.
  struct AddedNodeInfo {
    std::string node;  //!< as added
    bool connected = false;
    std::string address;  //!< ip:port of the connection (when connected)
  };
  //! The added nodes (-addnode, `addnode add`), or only `node`; empty when `node` is not added.
  std::vector<AddedNodeInfo> added_node_info(const std::string& node) const;
  bool disconnect_node(const std::string& address, PeerId id);
  std::map<std::string, std::int64_t> banned() const;
  //! Bans an IP (or "ip:port" for loopback peers) until `until`; disconnects matching peers.
  void ban(const std::string& key, std::int64_t until, std::string_view reason);
  bool unban(const std::string& key) { return bans_.unban(key); }
  void clear_bans() { bans_.clear(); }
  AddressBook& address_book() { return addresses_; }
  //! Adds addresses learned from a tracker (dialled when more peers are wanted); `tracker` is its
  //! address, the source the address book buckets them by.
  void add_tracker_peers(const std::vector<net::NetAddress>& peers, const net::NetAddress& tracker);
  //! Adds a DNS seed's answer to the book (source: the seed); returns how many were taken.
  std::size_t add_dns_seed_peers(const std::string& seed, const std::vector<net::NetAddress>& peers);
  std::uint64_t total_bytes_sent() const { return total_sent_; }
  std::uint64_t total_bytes_recv() const { return total_recv_; }

 private:
  std::int64_t now() const;
  bool accept_slot_free(const net::NetAddress& addr) const;
  //! Inbound slots are full: disconnects the inbound peer eviction chooses; false if all are
  //! protected (then the new connection is refused).
  bool evict_inbound();
  std::size_t inbound_unfinished_handshakes() const;
  void on_accept(tcp::socket socket);
  asio::awaitable<void> tick_loop();
  //! What one round of dialling knows: addresses not to dial, network groups of the outbound
  //! peers, the outbound connections by kind.
  struct DialRound {
    std::set<std::string> exclude;
    std::set<std::string> groups;
    OutboundCounts counts;
    std::int64_t now = 0;
    //! Full-relay outbound peers from the book by source_key() of their entry (the source mix).
    std::map<std::string, std::size_t> sources;
    std::size_t book_dials = 0;  //!< outbound dialled from the book this round (kMaxOutboundDialsPerRound)
  };
  void dial_more(const std::set<std::string>& endpoints);
  DialRound dial_round(const std::set<std::string>& endpoints) const;
  //! Anchors first, as block-relay-only, while those slots are free.
  void dial_anchors(DialRound& r);
  //! Dials addresses of the book as `type` while the slots of that kind are free (`extra`: one
  //! more full-relay connection to a new network group, for a stale tip).
  void dial_from_book(DialRound& r, ConnectionType type, std::size_t wanted, bool new_group_only);
  void dial(DialRound& r, const net::NetAddress& a, ConnectionType type);
  // Bootstrap (connman_bootstrap.cpp).
  //! -seednode connections, DNS seeds and fixed seeds when due (BootstrapPlan).
  void bootstrap_round();
  BootstrapPlan::Config bootstrap_config() const;
  asio::awaitable<void> query_dns_seed(std::string host);
  void add_fixed_seeds();
  //! The full-relay outbound peers by the source of their book entry (into r.sources).
  void count_sources(DialRound& r) const;
  void count_source(DialRound& r, const net::NetAddress& a) const;
  //! At shutdown: the block-relay-only peers (handshake done) to anchors.json.
  void save_anchors();
  asio::awaitable<void> connect_to(std::string target, ConnectionType type);
  asio::awaitable<std::optional<net::NetAddress>> resolve(const std::string& target);
  void start_connection(tcp::socket socket, ConnectionType type, net::NetAddress addr);
  std::set<std::string> connected_endpoints() const;
  Connection* find(PeerId id);

  asio::io_context& io_;
  const ChainParams& params_;
  Options options_;
  NetEvents* events_ = nullptr;
  io::TaskGroup tasks_;
  Listeners listeners_;
  LocalAddresses local_;
  std::map<PeerId, std::shared_ptr<Connection>> connections_;
  PeerId next_id_ = 1;
  std::uint64_t local_nonce_;
  std::mt19937_64 rng_;
  AddressBook addresses_;
  BanList bans_;
  std::vector<std::string> added_nodes_;
  std::map<std::string, ConnectionType> pending_connects_;  //!< dials under way, by target
  std::vector<net::NetAddress> anchors_;                    //!< from anchors.json, not dialled yet
  FeelerSchedule feelers_;
  std::set<std::string> self_addresses_;  //!< our own listen addresses, learned from self-connections
  std::uint64_t total_sent_ = 0;
  std::uint64_t total_recv_ = 0;
  bool stopping_ = false;
  bool stale_tip_ = false;  //!< one more outbound connection wanted, to a new network group
  //! Since when the stale tip's extra peer is connected (epoch: not now).
  std::chrono::steady_clock::time_point stale_extra_since_{};
  //! A stale tip with its extra peer connected for kStaleTipRotation: one outbound peer goes.
  void rotate_stale_outbound(const DialRound& r);
  //! One block-relay-only connection more than wanted: the one ExtraBlockRelay chooses goes.
  void evict_extra_block_relay(const DialRound& r);
  ExtraBlockRelay extra_block_relay_;
  std::unique_ptr<asio::steady_timer> tick_timer_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  BootstrapPlan bootstrap_{BootstrapPlan::Config{}};
  std::vector<std::string> addr_fetches_;                    //!< -seednode targets not dialled yet
  std::map<std::string, net::NetAddress> resolved_targets_;  //!< manual targets (host names) as last resolved
  DnsSeeder dns_seeder_{io_};
};

}  // namespace cheese
