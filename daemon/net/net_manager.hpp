#pragma once

#include <coroutine>

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chain/chainstate.hpp"
#include "net/address.hpp"
#include "net/protocol.hpp"

namespace cheese {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class BlockProcessor;
struct BlockSubmission;
class Mempool;
class NetManager;

//! Limits of the P2P layer (see docs/protocol.md), each a named constant.
inline constexpr std::size_t kMaxOutboundPeers = 8;
inline constexpr std::size_t kMaxSendQueueBytes = 32 * 1024 * 1024;  //!< a peer that reads slower is dropped
inline constexpr std::size_t kMaxKnownInventory = 20'000;              //!< per peer, oldest forgotten first
inline constexpr std::size_t kBlockDownloadWindow = 1024;              //!< blocks ahead of the tip
inline constexpr std::size_t kMaxAddrBookEntries = 10'000;
inline constexpr std::size_t kMaxRecentRejects = 20'000;
inline constexpr std::chrono::seconds kDiscourageDuration{24 * 60 * 60};
inline constexpr std::chrono::seconds kConnectTimeout{5};
inline constexpr std::chrono::seconds kAddrBookSaveInterval{60};
//! Announced transactions asked of one peer and not delivered yet; its further announcements
//! are ignored until it delivers (bounds what a flood of `inv` can make us remember).
inline constexpr std::size_t kMaxTxRequestsPerPeer = 5'000;
//! A transaction asked of a peer that does not deliver it in this time is asked of the next peer
//! that announced it.
inline constexpr std::chrono::seconds kTxRequestTimeout{30};
//! Other announcers remembered per requested transaction.
inline constexpr std::size_t kMaxTxAnnouncers = 16;

//! One connection to another node: a reader, a writer and a watchdog coroutine.
class Peer : public std::enable_shared_from_this<Peer> {
 public:
  Peer(NetManager& manager, tcp::socket socket, bool inbound, std::uint64_t id, net::NetAddress address);

  asio::awaitable<void> run();
  //! Queues a message; drops the peer when its send queue exceeds kMaxSendQueueBytes.
  void send(const net::Message& m);
  void disconnect(std::string_view reason);
  void send_ping();
  bool connected() const { return !closed_; }

  // What the manager knows about the peer (single-threaded, so plain fields).
  const std::uint64_t id;
  const bool inbound;
  net::NetAddress address;        //!< remote ip:port of the connection
  std::optional<net::VersionMsg> version;
  bool verack_received = false;
  bool handshake_done = false;
  bool getaddr_answered = false;
  bool getaddr_pending = false;  //!< we sent getaddr; a large addr is accepted once, as its reply
  std::int64_t connected_at = 0;
  std::chrono::steady_clock::time_point last_recv;
  std::chrono::steady_clock::time_point last_send;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_recv = 0;
  std::uint64_t ping_nonce = 0;
  std::chrono::steady_clock::time_point ping_sent;
  std::optional<double> ping_seconds;
  const BlockIndex* best_known = nullptr;  //!< most-work header we know this peer has
  std::map<Hash256, std::chrono::steady_clock::time_point> blocks_in_flight;
  std::size_t txs_in_flight = 0;  //!< transactions asked of this peer (NetManager::txs_requested_)
  std::string disconnect_reason;

  bool knows(const Hash256& h) const { return known_.contains(h); }
  void add_known(const Hash256& h);

 private:
  asio::awaitable<void> reader();
  asio::awaitable<void> writer();
  asio::awaitable<void> watchdog();

  NetManager& manager_;
  tcp::socket socket_;
  std::deque<Bytes> queue_;
  std::size_t queued_bytes_ = 0;
  asio::steady_timer wake_;
  bool closed_ = false;
  std::unordered_set<Hash256, Hash256Hasher> known_;
  std::deque<Hash256> known_order_;
};

//! Known addresses of other nodes, persisted so a restarted node reconnects without a tracker.
class AddressBook {
 public:
  struct Entry {
    net::NetAddress addr;
    std::int64_t last_try = 0;
    std::int64_t last_success = 0;
    int failures = 0;
    std::string source;  //!< "tracker", "gossip", "addnode", "inbound", "outbound"
  };
  void add(const net::NetAddress& a, std::string_view source, std::int64_t now);
  void mark_attempt(const net::NetAddress& a, std::int64_t now);
  void mark_success(const net::NetAddress& a, std::int64_t now);
  void remove(const net::NetAddress& a);
  //! A random address worth dialing now (backoff grows with failures), not in `exclude`.
  std::optional<net::NetAddress> select(const std::set<std::string>& exclude, std::int64_t now, std::mt19937_64& rng) const;
  std::vector<net::NetAddress> sample(std::size_t max, std::mt19937_64& rng) const;
  std::size_t size() const { return entries_.size(); }
  void load(const std::filesystem::path& file);
  void save(const std::filesystem::path& file) const;

 private:
  std::map<std::string, Entry> entries_;
};

//! Per-peer sessions, handshake, relay, headers-first sync with parallel block download,
//! address gossip, bans. Runs on the node's io thread.
class NetManager {
 public:
  struct Options {
    std::uint16_t port = 0;
    bool listen = true;
    std::vector<std::string> connect;
    std::vector<std::string> addnode;
    int max_connections = 64;
    std::chrono::seconds handshake_timeout = net::kHandshakeTimeout;
    std::chrono::seconds idle_timeout = net::kIdleTimeout;
    std::chrono::seconds stall_timeout = net::kBlockStallTimeout;
    std::chrono::seconds ping_interval = net::kPingInterval;
    std::filesystem::path datadir;
  };

  NetManager(asio::io_context& io, Chainstate& chain, Mempool& mempool, BlockProcessor& blocks, Options options);
  ~NetManager();

  //! Binds the P2P port (if listening) and starts the connection loop.
  void start();
  void stop();
  std::uint16_t listen_port() const;

  // Called by Node after the chain or mempool changed.
  void blocks_connected(const std::vector<Block>& blocks, std::uint64_t source_peer);
  //! Announces connected blocks, and again the transfers a reorg put back into the mempool.
  void chain_changed(const ProcessBlockResult& r, std::uint64_t source_peer);
  void transaction_accepted(const Hash256& txid, std::uint64_t source_peer);

  // Called by peers.
  asio::awaitable<void> handle_message(std::shared_ptr<Peer> peer, net::Message msg);
  void peer_closed(const std::shared_ptr<Peer>& peer);
  void misbehaving(Peer& peer, std::string_view reason);
  const NetworkMagic& magic() const;
  const Options& options() const { return options_; }
  std::int64_t now() const;

  // RPC.
  std::vector<std::shared_ptr<Peer>> peers() const;
  std::size_t connection_count() const { return peers_.size(); }
  //! addnode add|remove|onetry; returns an error message or "".
  std::string addnode(const std::string& node, const std::string& command);
  std::vector<std::string> added_nodes() const { return added_nodes_; }
  bool disconnect_node(const std::string& address, std::uint64_t id);
  std::map<std::string, std::int64_t> banned() const;
  //! Bans an IP (or "ip:port" for loopback peers) until `until`; disconnects matching peers.
  void ban(const std::string& key, std::int64_t until, std::string_view reason);
  bool unban(const std::string& key);
  void clear_bans();
  AddressBook& address_book() { return addresses_; }
  std::uint64_t local_nonce() const { return local_nonce_; }
  std::uint64_t total_bytes_sent() const { return total_sent_; }
  std::uint64_t total_bytes_recv() const { return total_recv_; }
  void count_bytes(std::uint64_t sent, std::uint64_t recv) {
    total_sent_ += sent;
    total_recv_ += recv;
  }
  //! Adds addresses learned from a tracker and dials if we want more peers.
  void add_tracker_peers(const std::vector<net::NetAddress>& peers);
  std::size_t outbound_count() const;
  std::size_t wanted_outbound() const;

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> connection_loop();
  asio::awaitable<void> connect_to(std::string target, bool persistent);
  void start_peer(tcp::socket socket, bool inbound, net::NetAddress addr);
  void on_handshake(Peer& peer);
  void send_version(Peer& peer);
  void request_headers(Peer& peer, const Hash256& stop = Hash256{});
  void download_blocks();
  void check_stalls();
  bool is_banned(const net::NetAddress& a) const;
  std::string ban_key(const net::NetAddress& a) const;
  std::set<std::string> connected_endpoints() const;
  void remember_reject(const Hash256& h);
  //! A requested transaction arrived (from anyone): forget the request.
  void tx_request_done(const Hash256& h);
  //! The peer asked for a transaction will not deliver it (notfound, gone, timed out): ask the
  //! next peer that announced it, or forget the request.
  void retry_tx_request(const Hash256& h);
  void expire_tx_requests();

  asio::awaitable<void> on_version(Peer& p, net::VersionMsg m);
  asio::awaitable<void> on_inv(Peer& p, const net::InvMsg& m);
  asio::awaitable<void> on_getdata(Peer& p, const net::GetDataMsg& m);
  asio::awaitable<void> on_headers(Peer& p, const net::HeadersMsg& m);
  asio::awaitable<void> on_block(std::shared_ptr<Peer> p, net::BlockMsg m);
  //! The outcome of a block this peer sent (Node::queue_block): discourage it for an invalid
  //! block, ask for headers when the parent was unknown, download more.
  void block_processed(const std::shared_ptr<Peer>& peer, const Hash256& hash, const BlockSubmission& s);
  asio::awaitable<void> on_tx(std::shared_ptr<Peer> p, net::TxMsg m);
  void on_getheaders(Peer& p, const net::GetHeadersMsg& m);
  void on_addr(Peer& p, const net::AddrMsg& m);

  asio::io_context& io_;
  Chainstate& chain_;
  Mempool& mempool_;
  BlockProcessor& blocks_;
  Options options_;
  std::shared_ptr<tcp::acceptor> acceptor_;
  std::map<std::uint64_t, std::shared_ptr<Peer>> peers_;
  std::uint64_t next_peer_id_ = 1;
  std::uint64_t local_nonce_;
  std::mt19937_64 rng_;
  AddressBook addresses_;
  std::vector<std::string> added_nodes_;
  std::set<std::string> pending_connects_;
  std::set<std::string> self_addresses_;  //!< our own listen addresses, learned from self-connections
  std::map<std::string, std::int64_t> bans_;
  std::map<Hash256, std::uint64_t> blocks_in_flight_;  //!< block -> peer id
  std::unordered_set<Hash256, Hash256Hasher> recent_rejects_;
  std::deque<Hash256> recent_rejects_order_;
  struct TxRequest {
    std::uint64_t peer = 0;  //!< asked of this peer
    std::chrono::steady_clock::time_point since;
    std::vector<std::uint64_t> alternatives;  //!< other peers that announced it, asked next
  };
  std::unordered_map<Hash256, TxRequest, Hash256Hasher> txs_requested_;
  std::uint64_t total_sent_ = 0;
  std::uint64_t total_recv_ = 0;
  bool stopping_ = false;
  std::shared_ptr<asio::steady_timer> loop_timer_;
};

}  // namespace cheese
