#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/net/addr_book.hpp"
#include "daemon/net/ban_list.hpp"
#include "daemon/net/block_download.hpp"
#include "daemon/net/eviction.hpp"
#include "daemon/net/header_sync.hpp"
#include "daemon/net/headers_presync.hpp"
#include "daemon/net/local_addresses.hpp"
#include "daemon/net/net_events.hpp"
#include "daemon/net/tx_request.hpp"

namespace cheese {

//! Inventory hashes remembered per peer (what it has or was told), oldest forgotten first.
inline constexpr std::size_t kMaxKnownInventory = 20'000;
//! Rejected transaction hashes remembered (not asked for or checked again until the tip moves).
inline constexpr std::size_t kMaxRecentRejects = 20'000;
//! `getdata` is served only while the peer's send queue holds less than this; the rest of its
//! request waits (and its reader is paused) until the queue is written out. Bounds what a peer that
//! asks for large blocks and does not read can make us hold.
inline constexpr std::size_t kMaxGetDataBacklogBytes = 4 * 1024 * 1024;
//! Unsolicited addresses taken from one peer: a token bucket refilled at this rate (Bitcoin
//! Core's MAX_ADDR_RATE_PER_SECOND)...
inline constexpr double kAddrRatePerSecond = 0.1;
//! ...holding at most this many tokens (one to start with); addresses beyond the tokens are dropped.
inline constexpr double kMaxAddrTokens = 1000;
//! An address that failed this many dials in a row is not handed out in getaddr replies.
inline constexpr int kAddrDeadFailures = 3;
//! A newly learned listening peer's address is relayed to this many other peers (docs/protocol.md 7.3).
inline constexpr std::size_t kAddrRelayFanout = 2;
//! No new tip for this long (three block intervals) while peers are connected: the tip may be
//! stale, and one more outbound connection is asked for (Bitcoin Core's stale-tip check).
inline constexpr std::chrono::seconds kStaleTipAge{3 * 60};
//! The initial sync is done once the tip is at most this many block intervals old (Bitcoin Core's
//! CanDirectFetch); it is said once (MessageSink::initial_sync_done), and never taken back.
inline constexpr std::int64_t kInitialSyncTipAgeBlocks = 20;
//! An unrequested block more than this many blocks above our tip is not processed, even on a
//! branch with more work (Bitcoin Core's MIN_BLOCKS_TO_KEEP rule): we ask for blocks in order.
inline constexpr std::uint64_t kMaxUnrequestedBlocksAhead = 288;
//! Transactions announced to one peer per tick (kTickInterval, 500 ms) at most, 2,000 a second:
//! a burst reaches a peer at a pace it can fetch (Bitcoin Core trickles its `inv` too); the rest
//! waits in the peer's announce queue for the next ticks.
inline constexpr std::size_t kMaxInvTxPerTick = 1'000;
//! Transactions waiting to be announced to one peer (32 bytes each: 3.2 MB at most); beyond, new
//! ones are not announced to it (it will get them in blocks).
inline constexpr std::size_t kMaxTxToAnnounce = 100'000;
//! Entries an `addr` may carry when it is not the reply to our `getaddr` (docs/protocol.md 7.3).
inline constexpr std::size_t kMaxUnsolicitedAddr = 10;
//! A listening node announces its own address (`addr` of one entry) to each outbound full-relay
//! peer after the handshake and again this often while connected (Bitcoin Core's
//! AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL), so its entry stays fresh in other address books.
inline constexpr std::chrono::hours kSelfAnnounceInterval{24};

//! A node whose `slots` say this share of its inbound slots (or more) is taken is crowded: a dialler
//! with enough other peers leaves it for one with room (docs/protocol.md 7.8).
inline constexpr unsigned kCrowdedInboundPercent = 50;
//! Outbound peers (full-relay, block-relay-only, manual; handshake done) a node must already have
//! before it leaves a crowded one: its first peers are kept whatever their load, so a node that
//! fills honest nodes' slots cannot steer a newcomer's first connections.
inline constexpr std::size_t kMinOutboundToLeaveCrowded = 4;

//! What the processor needs of the node beyond reading the chain and the mempool: the way in for
//! blocks and transactions (BlockProcessor in the node; a fake in the unit tests).
class ChainServices {
 public:
  virtual ~ChainServices() = default;
  //! True while a block with this hash waits in the node's block queue.
  virtual bool block_queued(const Hash256& hash) const = 0;
  //! Queues a block; false (nothing queued, `done` not called) while the queue is full: the
  //! processor waits for block_queue_room(). `done` runs once the block is processed.
  virtual bool try_queue_block(std::shared_ptr<const Block> block, PeerId source,
                               std::function<void(const ProcessBlockResult&)> done) = 0;
  //! Checks a transaction (signature off the io thread) and offers it to the mempool; `done`
  //! runs with the outcome on the io thread.
  virtual void submit_transaction(Transaction tx, PeerId source, std::function<void(const MempoolAccept&)> done) = 0;
};

//! A bounded set of inventory hashes, oldest forgotten first.
class KnownInventory {
 public:
  bool contains(const Hash256& h) const { return set_.contains(h); }
  void insert(const Hash256& h);

 private:
  std::unordered_set<Hash256, Hash256Hasher> set_;
  std::deque<Hash256> order_;
};

//! The protocol state of one peer; only the processor changes it.
struct PeerState {
  PeerId id = 0;
  bool inbound = false;
  ConnectionType type = ConnectionType::kInbound;
  net::NetAddress address;
  std::chrono::steady_clock::time_point connected;
  std::optional<net::VersionMsg> version;
  bool handshake_done = false;
  bool disconnecting = false;  //!< asked to close; its messages are ignored until on_closed
  bool getaddr_answered = false;
  bool getaddr_pending = false;  //!< we sent getaddr; a large addr is accepted once, as its reply
  std::uint64_t ping_nonce = 0;  //!< of the ping waiting for its pong; 0 when none
  std::chrono::steady_clock::time_point ping_sent;
  std::optional<double> ping_seconds;
  std::optional<double> min_ping_seconds;
  std::chrono::steady_clock::time_point last_block{};  //!< last new block it gave us
  std::chrono::steady_clock::time_point last_tx{};     //!< last new transaction it gave us
  const BlockIndex* best_known = nullptr;              //!< most-work header we know this peer has
  //! Its low-work header chain being presynced (headers anti-DoS); at most one per peer.
  std::shared_ptr<HeadersPresync> presync;
  KnownInventory known;
  std::shared_ptr<const Block> waiting_block;            //!< received while the block queue was full
  bool tx_checking = false;                              //!< its transaction is being checked; reading paused
  std::deque<net::InvItem> getdata_backlog;              //!< asked for, not served yet (send queue too full)
  std::deque<Hash256> tx_to_announce;                    //!< accepted, not announced to it yet
  std::size_t inv_budget = kMaxInvTxPerTick;             //!< transactions it may still be told this tick
  double addr_tokens = 1;                                //!< unsolicited addresses it may still give us
  std::chrono::steady_clock::time_point addr_tokens_at;  //!< when addr_tokens was last refilled
  //! Where an inbound peer is dialled (its version's addr_from, else its IP and listen_port).
  std::optional<net::NetAddress> advertised;
  std::chrono::steady_clock::time_point next_self_announce{};  //!< epoch: none due
  std::optional<net::SlotsMsg> slots;                          //!< what an outbound peer said of its inbound slots

  //! Transactions and addresses travel on this connection: not block-relay-only, not a feeler.
  //! On the others our version says relay=false and their tx, inv of tx and addr are ignored.
  bool full_relay() const { return type != ConnectionType::kBlockRelayOnly && type != ConnectionType::kFeeler; }
  //! We announce transactions and relay addresses to it: a full-relay connection whose peer did
  //! not ask for none (its version's relay flag; the other side of a block-relay-only connection).
  bool wants_relay() const { return full_relay() && version && version->relay; }
};

//! The P2P protocol (Bitcoin Core's PeerManager in net_processing.cpp): handshake, ping,
//! headers-first sync, block download, transaction requests and relay, address gossip. Owns every
//! peer's protocol state and does no I/O: the connection manager calls it (NetEvents) and it
//! answers through a MessageSink, so a unit test drives it with fake peers.
class PeerManager final : public NetEvents {
 public:
  struct Options {
    std::uint64_t local_nonce = 0;  //!< in our version; detects connections to ourselves
    bool listen = true;
    std::chrono::seconds handshake_timeout = net::kHandshakeTimeout;
    std::chrono::seconds ping_interval = net::kPingInterval;
    std::chrono::seconds ping_timeout = net::kPingTimeout;
    std::chrono::seconds stall_timeout = net::kBlockStallTimeout;
    //! No branch with less work is stored or downloaded (ChainParams::minimum_chain_work, or
    //! -minimumchainwork).
    U256 minimum_chain_work{};
    //! Our own addresses (owned by the connection manager): version's addr_from and the `addr`
    //! we announce ourselves with. nullptr: none advertised.
    const LocalAddresses* local_addresses = nullptr;
    //! -onlynet: addresses of other networks are not stored.
    ReachableNetworks reachable;
    //! Our inbound slots (what -maxconnections leaves after the outbound ones), sent in `slots`;
    //! 0: no `slots` is sent.
    std::size_t max_inbound = 0;
  };

  PeerManager(Chainstate& chain, const Mempool& mempool, AddressBook& addresses, ChainServices& services,
              MessageSink& sink, const Clock& clock, Options options);

  //! Our listening port, announced in version (0 until the listener is bound).
  void set_listen_port(std::uint16_t port) { listen_port_ = port; }
  std::uint64_t local_nonce() const { return options_.local_nonce; }

  void on_connected(const ConnectionInfo& info) override;
  void on_message(PeerId peer, net::Message message) override;
  void on_closed(PeerId peer) override;
  void on_tick() override;
  void on_send_drained(PeerId peer) override;
  void eviction_hints(EvictionCandidate& c) const override;

  //! After the chain changed: announces connected blocks, and again the transfers a reorg put
  //! back into the mempool.
  void chain_changed(const ProcessBlockResult& r, PeerId source);
  //! After a transaction entered the mempool: announced to every peer but its source.
  void transaction_accepted(const Hash256& txid, PeerId source);
  //! The node's block queue has room again: blocks held back are queued, readers resume.
  void block_queue_room();

  //! A peer's state (getpeerinfo); nullptr for an unknown peer.
  const PeerState* peer(PeerId id) const;
  std::size_t peer_count() const { return peers_.size(); }
  const TxRequestTracker& tx_requests() const { return tx_requests_; }
  const BlockDownload& downloads() const { return downloads_; }

 private:
  PeerState* find(PeerId id);
  void misbehaving(PeerState& p, std::string_view reason);
  void send_version(PeerState& p);
  //! Our inbound connections and slots, to an inbound peer of protocol version 3 or more.
  void send_slots(PeerState& p);
  //! An outbound peer's `slots` (between its version and verack): a crowded one is left when we
  //! have kMinOutboundToLeaveCrowded other outbound peers and it is a connection of our choosing.
  void slots_received(PeerState& p, const net::SlotsMsg& m);
  void send_ping(PeerState& p);
  void request_headers(PeerState& p, const Hash256& stop = Hash256{});
  void complete_handshake(PeerState& p);
  void download_blocks();
  void remember_reject(const Hash256& h);
  void send_tx_requests(const std::vector<TxRequestTracker::Request>& requests);
  //! Asks for deferred announcements that now fit among their peers' requests.
  void request_deferred_txs();
  //! Sends the peer's queued announcements, up to its budget for this tick.
  void announce_queued_txs(PeerState& p);
  void check_timeouts(PeerState& p, std::chrono::steady_clock::time_point now);
  void check_stale_tip(std::chrono::steady_clock::time_point now);
  //! Tells the sink once that the tip is recent (kInitialSyncTipAgeBlocks).
  void check_initial_sync();
  void queue_block(PeerState& p, std::shared_ptr<const Block> block);
  //! Reading is paused while the peer's block waits for room, its transaction is checked, or its
  //! getdata waits for its send queue.
  void update_pause(PeerState& p);
  //! Serves the peer's getdata backlog while its send queue is below kMaxGetDataBacklogBytes.
  void serve_getdata(PeerState& p);
  //! An unrequested block is processed only if it would give us more work than our tip, and is at
  //! most kMaxUnrequestedBlocksAhead blocks above it.
  bool worth_unrequested(const Block& block) const;
  //! A `headers` message whose branch does not reach the anti-DoS threshold: a full one starts a
  //! presync (HeadersPresync), a partial one is ignored.
  void low_work_headers(PeerState& p, const net::HeadersMsg& m);
  //! The next `headers` message of a peer whose chain is being presynced.
  void continue_presync(PeerState& p, const net::HeadersMsg& m);
  //! Headers were stored from this peer: what it is known to have, and what to download.
  void headers_stored(PeerState& p, const HeaderSync::Outcome& r);
  //! Main and test take only routable addresses; regtest also loopback and private ones (tests).
  bool acceptable_address(const net::NetAddress& a) const;
  //! The address we advertise to `p` (nullopt when not listening or none is known).
  std::optional<net::NetAddress> our_address_for(const PeerState& p) const;
  //! Where an inbound peer that listens is dialled: its addr_from when acceptable (taking an
  //! address token when its IP is not the connection's), else the connection's IP with listen_port.
  net::NetAddress inbound_listen_address(PeerState& p, const net::VersionMsg& m);
  //! Our address in an `addr` to an outbound full-relay peer, now and every kSelfAnnounceInterval.
  void announce_self(PeerState& p, std::chrono::steady_clock::time_point now);
  //! Sends `a` in an addr to kAddrRelayFanout random peers other than `source`.
  void relay_address(const net::NetAddress& a, PeerId source);
  void block_processed(PeerId id, const net::NetAddress& address, const Hash256& hash, const ProcessBlockResult& r);
  void tx_processed(PeerId id, const net::NetAddress& address, const Hash256& id_hash, const MempoolAccept& r);

  void handle(PeerState& p, net::VersionMsg m);
  void handle(PeerState& p, net::VerackMsg m);
  void handle(PeerState& p, net::PingMsg m);
  void handle(PeerState& p, net::PongMsg m);
  void handle(PeerState& p, net::InvMsg m);
  void handle(PeerState& p, net::GetDataMsg m);
  void handle(PeerState& p, net::NotFoundMsg m);
  void handle(PeerState& p, net::GetHeadersMsg m);
  void handle(PeerState& p, net::HeadersMsg m);
  void handle(PeerState& p, net::BlockMsg m);
  void handle(PeerState& p, net::TxMsg m);
  void handle(PeerState& p, net::GetAddrMsg m);
  void handle(PeerState& p, net::AddrMsg m);
  //! `slots` is valid only before verack (slots_received): after it, a protocol violation.
  void handle(PeerState& p, net::SlotsMsg m);
  //! Tracker messages have no meaning between nodes: ignored like unknown commands.
  template <typename TrackerMsg>
  void handle(PeerState& p, TrackerMsg m);

  Chainstate& chain_;
  const Mempool& mempool_;
  AddressBook& addresses_;
  ChainServices& services_;
  MessageSink& sink_;
  const Clock& clock_;
  Options options_;
  std::uint16_t listen_port_ = 0;
  std::chrono::steady_clock::time_point last_tip_change_;
  bool stale_tip_ = false;
  bool initial_sync_done_ = false;
  std::mt19937_64 rng_;
  std::map<PeerId, PeerState> peers_;
  HeaderSync headers_;
  BlockDownload downloads_;
  TxRequestTracker tx_requests_;
  std::unordered_set<Hash256, Hash256Hasher> recent_rejects_;
  std::deque<Hash256> recent_rejects_order_;
};

}  // namespace cheese
