#pragma once

// A PeerManager with no I/O around it, for unit tests and the process_message fuzz target (as
// Bitcoin Core's denialofservice_tests.cpp drives PeerManager): fake peers connect, send messages
// and read what the processor sent back. The chain is a real regtest Chainstate in a temporary
// directory; the node's block queue and transaction checks are fakes that run when asked
// (run_pending), so a test sees the processor wait for them. Header-only.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chain/chain_test_util.hpp"
#include "chain/mempool.hpp"
#include "daemon/net/addr_book.hpp"
#include "daemon/net/peer_manager.hpp"

namespace cheese::test {

//! A clock that moves only when told.
class FakeClock final : public Clock {
 public:
  std::int64_t unix_now() const override { return unix_; }
  std::chrono::steady_clock::time_point steady_now() const override { return steady_; }
  void advance(std::chrono::seconds s) {
    unix_ += s.count();
    steady_ += s;
  }

 private:
  std::int64_t unix_ = kNow;
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1)};
};

//! Records everything the processor asks of the connections.
class FakeSink final : public MessageSink {
 public:
  struct Sent {
    PeerId peer;
    net::Message message;
  };
  std::vector<Sent> sent;
  std::map<PeerId, std::string> disconnected;
  std::vector<std::pair<net::NetAddress, std::string>> discouraged;
  std::map<PeerId, bool> paused;
  std::vector<net::NetAddress> own_addresses;
  std::map<PeerId, net::NetAddress> listening;

  //! Bytes "queued" per peer: every send adds its frame's size; a test drains it by hand.
  std::map<PeerId, std::size_t> queue_bytes;

  void send(PeerId peer, const net::Message& m) override {
    if (disconnected.contains(peer)) return;
    queue_bytes[peer] += net::kFrameHeaderSize + net::encode_payload(m).size();
    sent.push_back({peer, m});
  }
  std::size_t send_queue_bytes(PeerId peer) const override {
    auto it = queue_bytes.find(peer);
    return it == queue_bytes.end() ? 0 : it->second;
  }
  void disconnect(PeerId peer, std::string_view reason) override { disconnected.emplace(peer, std::string(reason)); }
  void discourage(PeerId peer, const net::NetAddress& address, std::string_view reason) override {
    discouraged.emplace_back(address, std::string(reason));
    disconnect(peer, reason);
  }
  void pause_reading(PeerId peer, bool p) override { paused[peer] = p; }
  void listen_address(PeerId peer, const net::NetAddress& address) override { listening[peer] = address; }
  void own_address(const net::NetAddress& address) override { own_addresses.push_back(address); }
  void stale_tip(bool stale) override { stale_tip_reports.push_back(stale); }
  std::vector<bool> stale_tip_reports;
  void initial_sync_done() override { ++initial_sync_reports; }
  int initial_sync_reports = 0;

  //! The messages of type M sent to `peer` since the last take, removed from `sent`.
  template <typename M>
  std::vector<M> take(PeerId peer) {
    std::vector<M> out;
    std::vector<Sent> rest;
    for (auto& s : sent) {
      if (s.peer == peer && std::holds_alternative<M>(s.message)) {
        out.push_back(std::get<M>(std::move(s.message)));
      } else {
        rest.push_back(std::move(s));
      }
    }
    sent = std::move(rest);
    return out;
  }
  std::size_t count_to(PeerId peer) const {
    return static_cast<std::size_t>(
        std::count_if(sent.begin(), sent.end(), [peer](const Sent& s) { return s.peer == peer; }));
  }
  bool is_paused(PeerId peer) const {
    auto it = paused.find(peer);
    return it != paused.end() && it->second;
  }
};

//! The node's block queue and transaction checks, run when the test says so.
class FakeServices final : public ChainServices {
 public:
  FakeServices(Chainstate& chain, Mempool& mempool, const FakeClock& clock)
      : chain_(chain), mempool_(mempool), clock_(clock) {}

  //! Blocks the queue still takes before it is "full" (try_queue_block returns false).
  std::size_t room = 1'000'000;
  std::vector<Hash256> queued_blocks;  //!< every block queued, in order
  std::vector<Hash256> submitted_txs;  //!< every transaction submitted, in order
  //! Listeners the node would run after the chain or mempool changed (the processor's relay).
  std::function<void(const ProcessBlockResult&, PeerId)> on_chain_change;
  std::function<void(const Hash256&, PeerId)> on_tx_accepted;

  bool block_queued(const Hash256& hash) const override { return waiting_.contains(hash); }
  bool try_queue_block(std::shared_ptr<const Block> block, PeerId source,
                       std::function<void(const ProcessBlockResult&)> done) override {
    if (room == 0) return false;
    --room;
    const Hash256 hash = block->hash();
    queued_blocks.push_back(hash);
    waiting_.insert(hash);
    pending_.push_back([this, block, hash, source, done = std::move(done)] {
      waiting_.erase(hash);
      const ProcessBlockResult r = chain_.process_block(*block, clock_.unix_now());
      mempool_.reorganize(r.disconnected, r.connected, chain_, clock_.unix_now());
      if (on_chain_change && (!r.connected.empty() || !r.disconnected.empty())) on_chain_change(r, source);
      done(r);
    });
    return true;
  }
  void submit_transaction(Transaction tx, PeerId source, std::function<void(const MempoolAccept&)> done) override {
    submitted_txs.push_back(txid(tx));
    pending_.push_back([this, tx = std::move(tx), source, done = std::move(done)] {
      MempoolAccept r;
      if (!verify_transaction_signature(tx, chain_.params().magic)) {
        r.reason = MempoolReject::kConsensus;
        r.consensus = Reject::kTxBadSignature;
      } else {
        r = mempool_.accept(tx, chain_, clock_.unix_now(), /*signature_checked=*/true);
        if (r.ok() && on_tx_accepted) on_tx_accepted(txid(tx), source);
      }
      done(r);
    });
  }
  //! Runs the queued work (blocks in order, transaction checks) until none is left.
  std::size_t run_pending() {
    std::size_t n = 0;
    while (!pending_.empty()) {
      auto job = std::move(pending_.front());
      pending_.pop_front();
      job();
      ++n;
    }
    return n;
  }
  std::size_t pending() const { return pending_.size(); }

 private:
  Chainstate& chain_;
  Mempool& mempool_;
  const FakeClock& clock_;
  std::set<Hash256> waiting_;
  std::deque<std::function<void()>> pending_;
};

//! A processor over a fresh regtest chain, with fake peers.
class PeerHarness {
 public:
  explicit PeerHarness(PeerManager::Options options = default_options())
      : dir_("peerman"),
        chain(dir_.file("chain.sqlite"), regtest(), 1),
        mempool(regtest()),
        services(chain, mempool, clock),
        peers(chain, mempool, book, services, sink, clock, options) {
    peers.set_listen_port(28433);
    services.on_chain_change = [this](const ProcessBlockResult& r, PeerId source) { peers.chain_changed(r, source); };
    services.on_tx_accepted = [this](const Hash256& id, PeerId source) { peers.transaction_accepted(id, source); };
  }

  static PeerManager::Options default_options() {
    PeerManager::Options o;
    o.local_nonce = 0x5e1f5e1f5e1f5e1fULL;
    o.max_inbound = 54;  // the default -maxconnections (64) less 10 outbound: `slots` is sent
    return o;
  }

  //! A new connection from (inbound) or to 127.0.0.<n>:<port>.
  PeerId connect(bool inbound, std::uint8_t n = 2, std::uint16_t port = 40000) {
    const PeerId id = next_id_++;
    peers.on_connected({id, inbound, net::NetAddress::from_ipv4({127, 0, 0, n}, port)});
    return id;
  }
  //! A new outbound connection of kind `type` to 127.0.0.<n>:<port>.
  PeerId connect_as(ConnectionType type, std::uint8_t n = 2, std::uint16_t port = 40000) {
    const PeerId id = next_id_++;
    peers.on_connected({id, false, net::NetAddress::from_ipv4({127, 0, 0, n}, port), type});
    return id;
  }
  //! An outbound connection of kind `type` past version/verack, what we sent cleared.
  PeerId handshaked_as(ConnectionType type, std::uint8_t n = 2) {
    const PeerId id = connect_as(type, n);
    peers.on_message(id, version(1000 + id));
    peers.on_message(id, net::VerackMsg{});
    sink.sent.clear();
    return id;
  }
  net::VersionMsg version(std::uint64_t nonce = 42, std::uint64_t height = 0) const {
    net::VersionMsg v;
    v.protocol_version = net::kProtocolVersion;
    v.services = net::kServiceNetwork;
    v.timestamp = clock.unix_now();
    v.network = regtest().name;
    v.best_height = height;
    v.listen_port = 28433;
    v.nonce = nonce;
    v.user_agent = "/test:1/";
    return v;
  }
  //! A connected peer past version/verack, with what the handshake made us send cleared.
  PeerId handshaked(bool inbound = true, std::uint8_t n = 2) {
    const PeerId id = connect(inbound, n);
    peers.on_message(id, version(1000 + id));
    peers.on_message(id, net::VerackMsg{});
    sink.sent.clear();
    return id;
  }
  //! The peer's send queue was written out (what a connection reports when its queue empties).
  void drain(PeerId id) {
    sink.queue_bytes[id] = 0;
    peers.on_send_drained(id);
  }
  //! The peer's connection closed (what the connection manager reports after a disconnect).
  void close(PeerId id) { peers.on_closed(id); }

  FakeClock clock;
  FakeSink sink;

 private:
  TempDir dir_;
  PeerId next_id_ = 1;

 public:
  Chainstate chain;
  Mempool mempool;
  AddressBook book{AddressBook::Key{7}};  // a fixed key: where addresses land is the same every run
  FakeServices services;
  PeerManager peers;
};

}  // namespace cheese::test
