// The P2P message processor (PeerManager) as a state machine, like Bitcoin Core's
// src/test/fuzz/process_message(s).cpp. Each input gets a fresh PeerHarness
// (tests/daemon/net/peer_harness.hpp: fake sink, clock and chain services over a real regtest
// Chainstate in a temporary directory, on /dev/shm when writable) whose chain holds 11 prebuilt
// blocks (key 1's first coinbase is spendable). The input is a script (fuzz_input.hpp) of up to
// 64 steps by up to 4 fake peers at a time: connect (inbound, or outbound of any connection kind), close, a
// handshake, messages (version with fuzzed fields, verack, ping/pong, inv/getdata/notfound of fuzzed hashes or of the
// prebuilt blocks and transfers, getheaders, headers of the prebuilt blocks or mutated ones, blocks and transfers
// prebuilt or mutated through net::decode_message, getaddr/addr with fuzzed addresses, slots (an outbound peer's
// load), raw fuzzed payloads of any command that decode), a message from a peer that is gone or never was, clock
// moves, ticks, running the queued block/transaction work, the block queue full or with room again. A peer the
// processor disconnected is closed at the end of the step, as the connection manager would.
//
// Properties after every step: no crash or sanitizer finding; the processor sends only to peers
// it saw connect and never to one after on_closed; a closed peer has nothing in flight; per peer
// tx_requests().in_flight <= kMaxTxRequestsPerPeer and downloads().in_flight <=
// net::kMaxBlocksInFlightPerPeer; peer_count() equals the open connections; the chain has a tip;
// the address book holds at most kMaxAddrBookEntries; a block-relay-only or feeler connection is
// never sent tx, addr, getaddr or a transaction inv.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "chain_fuzz_util.hpp"
#include "daemon/net/peer_harness.hpp"
#include "fuzz_check.hpp"
#include "fuzz_input.hpp"
#include "net/protocol.hpp"

using namespace cheese;
using cheese::fuzz::FuzzInput;
using cheese::test::PeerHarness;

namespace {

constexpr std::size_t kMaxSteps = 64;
constexpr std::size_t kMaxLivePeers = 4;
constexpr std::size_t kBaseBlocks = 11;  // regtest coinbase maturity is 10: key 1 can spend
constexpr std::size_t kAheadBlocks = 6;

//! Blocks and transfers built once: `base` is in every input's chain, `ahead` extends it (the
//! first carries transfers[0]), `fork` branches off base[8] with more work than base.
struct Setup {
  std::vector<Block> base, ahead, fork;
  std::vector<Transaction> transfers;  //!< key 1 to key 2, nonces 0..3, valid on base
  Transaction forged;                  //!< a transfer with a flipped signature bit

  Setup() {
    // Temporary files (the harness's Chainstate) go to /dev/shm: SQLite's fsyncs cost nothing.
    if (::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
    const SecretKey k1 = fuzz::key_from_seed(1);
    const PublicKey k2 = fuzz::key_from_seed(2).public_key();
    for (std::uint64_t n = 0; n < 4; ++n) transfers.push_back(fuzz::make_transfer(k1, k2, 1000 + n, 100, n));
    forged = transfers[0];
    forged.signature[5] ^= 1;
    std::uint32_t extra = 0;
    const auto on = [&](const Block& parent, std::uint64_t height, std::vector<Transaction> txs,
                        const PublicKey& to) {
      return fuzz::make_block(parent.hash(), height, parent.header.time, to, std::move(txs), extra++);
    };
    const Block& genesis = fuzz::regtest().genesis;
    for (std::uint64_t h = 1; h <= kBaseBlocks; ++h) {
      base.push_back(on(h == 1 ? genesis : base.back(), h - 1, {}, k1.public_key()));
    }
    for (std::uint64_t h = kBaseBlocks + 1; h <= kBaseBlocks + kAheadBlocks; ++h) {
      std::vector<Transaction> txs;
      if (h == kBaseBlocks + 1) txs.push_back(transfers[0]);
      ahead.push_back(on(ahead.empty() ? base.back() : ahead.back(), h - 1, std::move(txs), k2));
    }
    for (std::uint64_t h = 9; h <= 12; ++h) fork.push_back(on(fork.empty() ? base[7] : fork.back(), h - 1, {}, k2));
  }
};

const Setup& setup() {
  static const Setup s;
  return s;
}

constexpr std::string_view kCommands[] = {"version",   "verack",     "ping",       "pong",      "inv",      "getdata",
                                          "notfound",  "getheaders", "headers",    "block",     "tx",       "getaddr",
                                          "addr",      "register",   "registered", "heartbeat", "getpeers", "peers",
                                          "getstatus", "status",     "slots",      "bogus"};

//! One fuzzed run: the harness, the peers the script knows, and what the processor sent.
class Run {
 public:
  explicit Run(FuzzInput& in) : in_(in) {
    for (const auto& b : setup().base) FUZZ_CHECK(h_.chain.process_block(b, fuzz::kNow).verdict.ok());
  }

  void step() {
    const auto action = in_.range<std::uint8_t>(0, 20);
    if (trace()) std::fprintf(stderr, "step %u (live:%s)\n", unsigned{action}, peers_text(live_).c_str());
    switch (action) {
      case 0: connect(); break;
      case 1:
        if (auto p = live_peer()) close(*p);
        break;
      case 2:
        if (auto p = live_peer()) {
          deliver(*p, h_.version(1000 + *p, in_.range<std::uint64_t>(0, 20)));
          deliver(*p, net::VerackMsg{});
        }
        break;
      case 3: to_peer(version()); break;
      case 4: to_peer(net::VerackMsg{}); break;
      case 5: ping_or_pong(); break;
      case 6: to_peer(net::InvMsg{items()}); break;
      case 7: to_peer(net::GetDataMsg{items()}); break;
      case 8: to_peer(net::NotFoundMsg{items()}); break;
      case 9: to_peer(getheaders()); break;
      case 10: to_peer(headers()); break;
      case 11: block(); break;
      case 12: tx(); break;
      case 13: to_peer(in_.flag() ? net::Message{net::GetAddrMsg{}} : net::Message{addr()}); break;
      case 14: raw(); break;
      case 15: {
        static constexpr std::array<std::int64_t, 8> kSeconds = {1, 2, 20, 29, 31, 61, 121, 1201};
        h_.clock.advance(std::chrono::seconds(in_.flag() ? kSeconds[in_.pick(kSeconds.size())]
                                                         : std::int64_t{in_.range<std::uint16_t>(0, 3600)}));
        break;
      }
      case 16: h_.peers.on_tick(); break;
      case 17: h_.services.run_pending(); break;
      case 18:
        if (in_.flag()) {
          h_.services.room = 0;
        } else {
          h_.services.room = in_.range<std::size_t>(1, 1000);
          h_.peers.block_queue_room();
        }
        break;
      case 19: stale_peer(); break;
      case 20: {  // an outbound peer's load, crowded or not (valid: inbound <= max_inbound >= 1)
        const auto max_inbound = in_.range<std::uint16_t>(1, 60);
        to_peer(net::SlotsMsg{in_.range<std::uint16_t>(0, max_inbound), max_inbound});
        break;
      }
    }
    check_sends();
    close_disconnected();
    check_state();
  }

 private:
  // ---- peers

  void connect() {
    if (live_.size() >= kMaxLivePeers) return;
    const bool inbound = in_.flag();
    const auto n = static_cast<std::uint8_t>(in_.range<std::uint8_t>(1, 4));
    const auto port = static_cast<std::uint16_t>(40000 + in_.range<std::uint8_t>(0, 3));
    constexpr ConnectionType kOutbound[] = {ConnectionType::kOutboundFullRelay, ConnectionType::kBlockRelayOnly,
                                            ConnectionType::kFeeler, ConnectionType::kManual};
    const PeerId id = inbound ? h_.connect(true, n, port)
                              : h_.connect_as(kOutbound[in_.range<std::uint8_t>(0, 3)], n, port);
    if (const PeerState* p = h_.peers.peer(id); p && !p->full_relay()) quiet_.insert(id);
    FUZZ_CHECK(!seen_.contains(id));
    seen_.insert(id);
    live_.insert(id);
  }

  void close(PeerId id) {
    check_sends();  // what was sent before on_closed
    h_.close(id);
    live_.erase(id);
    closed_.insert(id);
    // From here on the sink records everything sent to it, so a send after on_closed shows.
    h_.sink.disconnected.erase(id);
    check_sends();
  }

  //! The connection manager closes what the processor disconnected.
  void close_disconnected() {
    std::vector<PeerId> gone;
    for (PeerId id : live_) {
      if (h_.sink.disconnected.contains(id)) gone.push_back(id);
    }
    for (PeerId id : gone) close(id);
  }

  std::optional<PeerId> live_peer() {
    if (live_.empty()) return std::nullopt;
    return *std::next(live_.begin(), static_cast<std::ptrdiff_t>(in_.pick(live_.size())));
  }

  void deliver(PeerId id, net::Message m) { h_.peers.on_message(id, std::move(m)); }

  void to_peer(net::Message m) {
    if (auto p = live_peer()) deliver(*p, std::move(m));
  }

  //! A message from a peer that was closed, or from an id that never connected: ignored.
  void stale_peer() {
    const PeerId id = !closed_.empty() && in_.flag() ? *closed_.begin() : PeerId{1'000'000} + in_.byte();
    const auto before = h_.sink.sent.size();
    h_.peers.on_message(id, in_.flag() ? net::Message{version()} : net::Message{net::PingMsg{7}});
    h_.peers.on_closed(id);
    FUZZ_CHECK(h_.sink.sent.size() == before);
  }

  // ---- messages

  net::VersionMsg version() {
    net::VersionMsg v = h_.version(in_.integral<std::uint64_t>(), in_.range<std::uint64_t>(0, 20));
    const std::uint8_t knobs = in_.byte();
    if (knobs & 1) v.nonce = h_.peers.local_nonce();
    if (knobs & 2) v.network = (knobs & 4) ? "main" : "";
    if (knobs & 8) v.protocol_version = in_.range<std::uint32_t>(0, 3);
    if (knobs & 16) v.listen_port = in_.integral<std::uint16_t>();
    if (knobs & 32) v.timestamp = static_cast<std::int64_t>(in_.integral<std::uint64_t>());
    if (knobs & 64) v.services = in_.integral<std::uint64_t>();
    if (knobs & 128) v.user_agent.assign(in_.range<std::size_t>(0, 300), 'u');
    if (in_.flag()) {  // addr_from: another IP than the connection's, or any port
      v.addr_from = net::NetAddress::from_ipv4({127, 0, 0, in_.byte()}, in_.integral<std::uint16_t>());
    }
    return v;
  }

  void ping_or_pong() {
    if (in_.flag()) {
      to_peer(net::PingMsg{in_.integral<std::uint64_t>()});
      return;
    }
    auto p = live_peer();
    if (!p) return;
    const auto it = last_ping_.find(*p);
    const std::uint64_t nonce = in_.flag() && it != last_ping_.end() ? it->second : in_.integral<std::uint64_t>();
    deliver(*p, net::PongMsg{nonce});
  }

  //! A hash: of a prebuilt block or transfer, of the harness chain, or fuzzed.
  Hash256 some_hash() {
    const Setup& s = setup();
    switch (in_.range<std::uint8_t>(0, 5)) {
      case 0: return s.base[in_.pick(s.base.size())].hash();
      case 1: return s.ahead[in_.pick(s.ahead.size())].hash();
      case 2: return s.fork[in_.pick(s.fork.size())].hash();
      case 3: return txid(s.transfers[in_.pick(s.transfers.size())]);
      case 4: return h_.chain.tip()->hash;
      default: {
        Hash256 h;
        const auto b = in_.bytes(32);
        std::copy(b.begin(), b.end(), h.bytes.begin());
        return h;
      }
    }
  }

  std::vector<net::InvItem> items() {
    std::vector<net::InvItem> out(in_.range<std::size_t>(0, 8));
    for (auto& item : out) {
      item.type = in_.flag() ? net::InvType::kBlock : net::InvType::kTx;
      item.hash = some_hash();
    }
    return out;
  }

  net::GetHeadersMsg getheaders() {
    net::GetHeadersMsg m;
    if (in_.flag()) {
      const auto* from = h_.chain.lookup(some_hash());
      if (from) m.locator = h_.chain.locator(from);
    } else {
      m.locator.resize(in_.range<std::size_t>(0, 4));
      for (auto& hash : m.locator) hash = some_hash();
    }
    if (in_.flag()) m.stop_hash = some_hash();
    return m;
  }

  const std::vector<Block>& some_branch() {
    const Setup& s = setup();
    switch (in_.range<std::uint8_t>(0, 2)) {
      case 0: return s.ahead;
      case 1: return s.fork;
      default: return s.base;
    }
  }

  net::HeadersMsg headers() {
    const auto& branch = some_branch();
    const std::size_t from = in_.pick(branch.size());
    const std::size_t n = in_.range<std::size_t>(0, branch.size() - from);
    net::HeadersMsg m;
    for (std::size_t i = from; i < from + n; ++i) m.headers.push_back(branch[i].header);
    if (!m.headers.empty() && in_.flag()) {
      BlockHeader& hd = m.headers[in_.pick(m.headers.size())];
      switch (in_.range<std::uint8_t>(0, 3)) {
        case 0: hd.nonce ^= in_.integral<std::uint32_t>(); break;
        case 1: hd.time = in_.integral<std::uint32_t>(); break;
        case 2: hd.bits = in_.integral<std::uint32_t>(); break;
        default: hd.prev_hash = some_hash(); break;
      }
    }
    return m;
  }

  //! The payload bytes with a few fuzzed byte edits.
  Bytes mutated(Bytes payload) {
    const std::size_t edits = in_.range<std::size_t>(1, 4);
    for (std::size_t i = 0; i < edits && !payload.empty(); ++i) {
      const std::size_t at = in_.pick(payload.size());
      switch (in_.range<std::uint8_t>(0, 2)) {
        case 0: payload[at] ^= static_cast<std::uint8_t>(1u << in_.range<std::uint8_t>(0, 7)); break;
        case 1: payload[at] = in_.byte(); break;
        default: payload.resize(at); break;
      }
    }
    return payload;
  }

  void deliver_decoded(std::string_view command, const Bytes& payload) {
    auto m = net::decode_message(command, payload);
    if (m) to_peer(std::move(*m));
  }

  void block() {
    const auto& branch = some_branch();
    const Block& b = branch[in_.pick(branch.size())];
    if (in_.flag()) {
      to_peer(net::BlockMsg{b});
    } else {
      deliver_decoded("block", mutated(net::encode_payload(net::BlockMsg{b})));
    }
  }

  void tx() {
    const Setup& s = setup();
    switch (in_.range<std::uint8_t>(0, 2)) {
      case 0: to_peer(net::TxMsg{s.transfers[in_.pick(s.transfers.size())]}); break;
      case 1: to_peer(net::TxMsg{s.forged}); break;
      default:
        deliver_decoded("tx", mutated(net::encode_payload(net::TxMsg{s.transfers[in_.pick(s.transfers.size())]})));
    }
  }

  net::AddrMsg addr() {
    net::AddrMsg m;
    // Mostly small (unsolicited) messages; sometimes one as large as a getaddr reply may be.
    const std::size_t n = in_.flag() ? in_.range<std::size_t>(0, 12)
                                     : in_.range<std::size_t>(0, net::kMaxAddrPerMessage);
    const std::uint32_t salt = in_.integral<std::uint32_t>();
    for (std::size_t i = 0; i < n; ++i) {
      const auto x = static_cast<std::uint32_t>(i) * 2654435761u + salt;
      net::NetAddress a = net::NetAddress::from_ipv4(
          {static_cast<std::uint8_t>(x >> 24), static_cast<std::uint8_t>(x >> 16), static_cast<std::uint8_t>(x >> 8),
           static_cast<std::uint8_t>(x)},
          static_cast<std::uint16_t>(x >> 7));
      a.time = static_cast<std::int64_t>(x) * 1000;
      m.addresses.push_back(a);
    }
    return m;
  }

  //! Raw payload bytes of any command; delivered when they decode.
  void raw() {
    const std::string_view command = kCommands[in_.pick(std::size(kCommands))];
    const auto bytes = in_.bytes(in_.range<std::size_t>(0, 512));
    deliver_decoded(command, Bytes(bytes.begin(), bytes.end()));
  }

  // ---- properties

  //! CHEESE_FUZZ_TRACE=1 prints the steps and what was sent (to replay a failing input).
  static bool trace() {
    static const bool on = std::getenv("CHEESE_FUZZ_TRACE") != nullptr;
    return on;
  }
  static std::string peers_text(const std::set<PeerId>& ids) {
    std::string out;
    for (PeerId id : ids) out += " " + std::to_string(id);
    return out;
  }

  //! Everything sent since the last call went to a peer that connected and was not closed yet.
  void check_sends() {
    for (const auto& s : h_.sink.sent) {
      if (trace())
        std::fprintf(stderr, "  sent %s to %llu\n", std::string(net::command_of(s.message)).c_str(),
                     static_cast<unsigned long long>(s.peer));
      FUZZ_CHECK(seen_.contains(s.peer));
      FUZZ_CHECK(!closed_.contains(s.peer));
      if (quiet_.contains(s.peer)) {
        // Block-relay-only and feeler connections: never a transaction or an address.
        FUZZ_CHECK(!std::holds_alternative<net::TxMsg>(s.message));
        FUZZ_CHECK(!std::holds_alternative<net::AddrMsg>(s.message));
        FUZZ_CHECK(!std::holds_alternative<net::GetAddrMsg>(s.message));
        if (const auto* inv = std::get_if<net::InvMsg>(&s.message)) {
          for (const auto& item : inv->items) FUZZ_CHECK(item.type != net::InvType::kTx);
        }
      }
      if (const auto* ping = std::get_if<net::PingMsg>(&s.message)) last_ping_[s.peer] = ping->nonce;
    }
    h_.sink.sent.clear();
  }

  void check_state() {
    FUZZ_CHECK(h_.peers.peer_count() == live_.size());
    for (PeerId id : seen_) {
      const std::size_t txs = h_.peers.tx_requests().in_flight(id);
      const std::size_t blocks = h_.peers.downloads().in_flight(id);
      FUZZ_CHECK(txs <= kMaxTxRequestsPerPeer);
      FUZZ_CHECK(blocks <= net::kMaxBlocksInFlightPerPeer);
      if (closed_.contains(id)) {
        FUZZ_CHECK(txs == 0);
        FUZZ_CHECK(blocks == 0);
        FUZZ_CHECK(h_.peers.peer(id) == nullptr);
      }
    }
    FUZZ_CHECK(h_.chain.tip() != nullptr);
    FUZZ_CHECK(h_.chain.height() >= kBaseBlocks);
    FUZZ_CHECK(h_.book.size() <= kMaxAddrBookEntries);
  }

  FuzzInput& in_;
  PeerHarness h_;
  std::set<PeerId> seen_, live_, closed_;
  std::set<PeerId> quiet_;  //!< block-relay-only and feeler connections
  std::map<PeerId, std::uint64_t> last_ping_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)setup();
  FuzzInput in(data, size);
  Run run(in);
  for (std::size_t i = 0; i < kMaxSteps && !in.empty(); ++i) run.step();
  return 0;
}
