#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "net/address.hpp"
#include "net/protocol.hpp"

namespace cheese {

//! A connection's number, unique for the process's lifetime (never reused).
using PeerId = std::uint64_t;

//! Why a connection exists (Bitcoin Core's ConnectionType); getpeerinfo shows its name.
enum class ConnectionType {
  kOutboundFullRelay,  //!< dialled from the address book: blocks, transactions and addresses
  kBlockRelayOnly,     //!< dialled from the address book or the anchors: blocks and headers only
  kFeeler,             //!< a short connection that tests an address, closed after the handshake
  kManual,             //!< -connect, -addnode, `addnode onetry`: full relay
  kInbound,            //!< accepted
  kAddrFetch,          //!< -seednode: getaddr, then closed once the addresses arrive
};

//! "outbound-full-relay", "block-relay-only", "feeler", "manual", "inbound" or "addr-fetch" (as
//! bitcoind names them).
constexpr std::string_view to_string(ConnectionType t) {
  switch (t) {
    case ConnectionType::kOutboundFullRelay: return "outbound-full-relay";
    case ConnectionType::kBlockRelayOnly: return "block-relay-only";
    case ConnectionType::kFeeler: return "feeler";
    case ConnectionType::kManual: return "manual";
    case ConnectionType::kInbound: return "inbound";
    case ConnectionType::kAddrFetch: return "addr-fetch";
  }
  return "inbound";
}

//! What the connection manager knows of a new connection.
struct ConnectionInfo {
  PeerId id = 0;
  bool inbound = false;
  net::NetAddress address;  //!< remote ip:port of the connection
  //! Of an outbound connection (an inbound one is always kInbound, whatever this says).
  ConnectionType type = ConnectionType::kOutboundFullRelay;
  ConnectionType kind() const { return inbound ? ConnectionType::kInbound : type; }
};

//! What the message processor may ask of the connections (Bitcoin Core's CConnman as seen from
//! PeerManager): it never touches a socket itself.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  //! Queues a message for the peer; a peer whose send queue overflows is dropped.
  virtual void send(PeerId peer, const net::Message& m) = 0;
  //! Closes the connection; on_closed follows.
  virtual void disconnect(PeerId peer, std::string_view reason) = 0;
  //! Bans the peer's address for kDiscourageDuration and disconnects it (a protocol fault).
  virtual void discourage(PeerId peer, const net::NetAddress& address, std::string_view reason) = 0;
  //! Bytes queued for the peer and not yet written to its socket.
  virtual std::size_t send_queue_bytes(PeerId peer) const = 0;
  //! Stops (true) or resumes (false) reading the peer's messages: back-pressure while its block
  //! or transaction waits to be processed.
  virtual void pause_reading(PeerId peer, bool paused) = 0;
  //! The address the peer says it listens on (its IP, the port from its version): a node
  //! connected to us is not dialled again there.
  virtual void listen_address(PeerId peer, const net::NetAddress& address) = 0;
  //! Our tip looks stale (no new block for kStaleTipAge while peers are connected): the connection
  //! manager dials one outbound connection more, to a network group it has no outbound peer in,
  //! until the tip moves again (false).
  virtual void stale_tip(bool stale) = 0;
  //! The tip became recent for the first time (the initial sync is done): said once.
  virtual void initial_sync_done() = 0;
  //! One of our own listening addresses (learned from a connection to ourselves): never dial it.
  virtual void own_address(const net::NetAddress& address) = 0;
};

struct EvictionCandidate;

//! What the connections tell the message processor (Bitcoin Core's NetEventsInterface).
class NetEvents {
 public:
  virtual ~NetEvents() = default;
  virtual void on_connected(const ConnectionInfo& info) = 0;
  //! A decoded message, in the order received.
  virtual void on_message(PeerId peer, net::Message message) = 0;
  virtual void on_closed(PeerId peer) = 0;
  //! The peer's send queue was written out to the socket (it may be served more).
  virtual void on_send_drained(PeerId peer) = 0;
  //! What the protocol knows that makes the peer worth keeping (min ping, last new block and
  //! transaction it gave us), for inbound eviction; `c.id` is set, the rest is filled in.
  virtual void eviction_hints(EvictionCandidate& c) const = 0;
  //! About twice a second: timeouts, pings, stalled downloads, requests to retry.
  virtual void on_tick() = 0;
};

//! The time the processor acts on: a wall clock for timestamps and chain rules, a steady clock
//! for timeouts. Tests pass a clock they move by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t unix_now() const = 0;
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

//! The system's clocks.
class SystemClock final : public Clock {
 public:
  std::int64_t unix_now() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point steady_now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace cheese
