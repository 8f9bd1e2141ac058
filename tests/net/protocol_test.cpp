#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "consensus/params.hpp"
#include "net/protocol.hpp"
#include "primitives/block.hpp"
#include "primitives/serialize.hpp"
#include "primitives/sha256.hpp"
#include "primitives/transaction.hpp"
#include "test_util.hpp"

using namespace cheese;
using namespace cheese::net;
using cheese::test::hex;

namespace {

const NetworkMagic& regtest_magic() { return chain_params(Network::kRegtest).magic; }
const NetworkMagic& main_magic() { return chain_params(Network::kMain).magic; }

constexpr const char* kVerackFrameHex = "facec4ee76657261636b000000000000000000005df6e0e2";
constexpr const char* kPingFrameHex = "facec4ee70696e6700000000000000000800000033bc15e5efcdab8967452301";

Hash256 hash_of(std::uint32_t n) {
  const std::array<std::uint8_t, 4> b = {static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
                                         static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
  return sha256d(b);
}

Transaction transfer(std::uint8_t who, std::uint64_t nonce) {
  Transaction tx;
  tx.sender.fill(who);
  tx.recipient.fill(static_cast<std::uint8_t>(who + 1));
  tx.amount = 1000 + nonce;
  tx.fee = 10;
  tx.nonce = nonce;
  tx.signature.fill(static_cast<std::uint8_t>(0x40 + who));
  return tx;
}

Block sample_block() {
  Block b;
  b.header.version = 1;
  b.header.prev_hash = hash_of(7);
  b.header.time = 1'800'000'000;
  b.header.bits = 0x207fffff;
  b.header.nonce = 42;
  PublicKey miner{};
  miner.fill(0x99);
  b.txs.push_back(make_coinbase(miner, 50 * kCoin, 3, hex("c0ffee")));
  b.txs.push_back(transfer(1, 0));
  b.header.merkle_root = merkle_root(b);
  return b;
}

BlockHeader header_of(std::uint32_t n) {
  BlockHeader h;
  h.version = 1;
  h.prev_hash = hash_of(n);
  h.merkle_root = hash_of(n + 1000);
  h.time = 1'800'000'000 + n;
  h.bits = 0x207fffff;
  h.nonce = n * 3;
  return h;
}

NetAddress addr(std::uint8_t last, std::uint16_t port) {
  NetAddress a = NetAddress::from_ipv4({203, 0, 114, last}, port);
  a.time = 1'800'000'000 + last;
  a.services = kServiceNetwork;
  return a;
}

//! One non-trivial instance of every message type.
std::vector<Message> sample_messages() {
  std::vector<Message> v;
  // With its optional tail: relay byte 0x00 and addr_from.
  v.emplace_back(VersionMsg{kProtocolVersion, kServiceNetwork, 1'800'000'123, "regtest", 4242, 28433,
                            0x1122334455667788ULL, "/cheesed:0.1.0/", false,
                            *NetAddress::parse_ip("2001:db8::5", 28433)});
  v.emplace_back(VerackMsg{});
  v.emplace_back(PingMsg{0x0123456789abcdefULL});
  v.emplace_back(PongMsg{0xfedcba9876543210ULL});
  v.emplace_back(InvMsg{{{InvType::kTx, hash_of(1)}, {InvType::kBlock, hash_of(2)}}});
  v.emplace_back(GetDataMsg{{{InvType::kBlock, hash_of(3)}}});
  v.emplace_back(NotFoundMsg{{{InvType::kTx, hash_of(4)}, {InvType::kTx, hash_of(5)}}});
  v.emplace_back(GetHeadersMsg{{hash_of(10), hash_of(9), hash_of(0)}, hash_of(11)});
  v.emplace_back(HeadersMsg{{header_of(1), header_of(2), header_of(3)}});
  v.emplace_back(BlockMsg{sample_block()});
  v.emplace_back(TxMsg{transfer(3, 17)});
  v.emplace_back(GetAddrMsg{});
  v.emplace_back(AddrMsg{{addr(1, 8433), addr(2, 18433), *NetAddress::parse_ip("2001:4860::8888", 28433)}});
  v.emplace_back(RegisterMsg{kTrackerProtocolVersion, 28433, 0xabcdef0123456789ULL, 7, 54});
  v.emplace_back(RegisteredMsg{0x55aa55aa55aa55aaULL, TrackerSecret{1, 2, 3}, 30,
                               NetAddress::from_ipv4({198, 51, 101, 7}, 50123)});
  v.emplace_back(HeartbeatMsg{0x55aa55aa55aa55aaULL, TrackerSecret{9, 8, 7}, 3, 54});
  v.emplace_back(GetPeersMsg{});
  v.emplace_back(PeersMsg{{addr(3, 8433), addr(4, 8433)}});
  v.emplace_back(GetStatusMsg{});
  v.emplace_back(StatusMsg{{{"main", 12}, {"test", 3}, {"regtest", 0}}});
  v.emplace_back(DeregisterMsg{0x55aa55aa55aa55aaULL, TrackerSecret{9, 8, 7}});
  v.emplace_back(TrackerErrorMsg{TrackerErrorCode::kNonceInUse, "node nonce in use"});
  v.emplace_back(SlotsMsg{23, 54});
  return v;
}

//! Feeds everything to the parser (draining as it goes) and collects the frames and the error.
struct ParseRun {
  std::vector<RawFrame> frames;
  std::optional<FrameError> error;
};

ParseRun parse_in_chunks(ByteSpan stream, const std::vector<std::size_t>& chunk_sizes, FrameParser parser) {
  ParseRun run;
  auto drain = [&] {
    while (true) {
      auto r = parser.next();
      if (!r) {
        run.error = r.error();
        return false;
      }
      if (!*r) return true;
      run.frames.push_back(std::move(**r));
    }
  };
  std::size_t pos = 0;
  std::size_t i = 0;
  while (pos < stream.size()) {
    const std::size_t n = std::min(chunk_sizes[i++ % chunk_sizes.size()], stream.size() - pos);
    auto chunk = stream.subspan(pos, n);
    bool stalled = false;
    while (!chunk.empty()) {
      const std::size_t took = parser.feed(chunk);
      chunk = chunk.subspan(took);
      if (!drain()) return run;
      if (took == 0 && stalled) FAIL("parser takes nothing even after draining, and reports no error");
      stalled = took == 0;
    }
    pos += n;
  }
  drain();
  return run;
}

ParseRun parse_all(ByteSpan stream, const NetworkMagic& magic = regtest_magic()) {
  return parse_in_chunks(stream, {stream.size() + 1}, FrameParser(magic));
}

Bytes concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes with_header(const Bytes& frame, std::size_t offset, std::uint8_t value) {
  Bytes b = frame;
  b[offset] = value;
  return b;
}

//! A frame header claiming `length` payload bytes, for tests that must not build the payload.
Bytes header_claiming(std::uint32_t length, std::string_view command = "block") {
  FrameHeader h;
  h.magic = regtest_magic();
  h.command = std::string(command);
  h.length = length;
  const auto b = encode_frame_header(h);
  return Bytes(b.begin(), b.end());
}

MessageDecodeError decode_error(std::string_view command, ByteSpan payload) {
  auto r = decode_message(command, payload);
  if (r) FAIL("expected " << command << " payload " << to_hex(payload).substr(0, 80) << " to fail");
  return r.error();
}

MessageDecodeError malformed(DecodeError e) { return {MessageError::kMalformed, e}; }

//! A payload of `count` as a varint, then `items` bytes of filler.
Bytes count_payload(std::uint64_t count, std::size_t item_bytes, std::uint8_t fill = 0) {
  Writer w;
  w.varint(count);
  Bytes b = std::move(w).take();
  b.resize(b.size() + item_bytes, fill);
  return b;
}

Bytes inv_payload(std::size_t n) {
  Writer w;
  w.varint(n);
  for (std::size_t i = 0; i < n; ++i) {
    w.u32(1);
    w.hash(hash_of(static_cast<std::uint32_t>(i)));
  }
  return std::move(w).take();
}

}  // namespace

TEST_CASE("every message round-trips through payload and frame", "[net][protocol]") {
  const auto messages = sample_messages();
  REQUIRE(messages.size() == std::variant_size_v<Message>);
  std::vector<std::string_view> commands;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    REQUIRE(m.index() == i);  // every alternative is covered exactly once
    const auto command = command_of(m);
    CAPTURE(command);
    commands.push_back(command);
    CHECK(is_known_command(command));
    CHECK(is_valid_command(command));

    const Bytes payload = encode_payload(m);
    auto back = decode_message(command, payload);
    REQUIRE(back.has_value());
    CHECK(*back == m);
    CHECK(encode_payload(*back) == payload);

    const Bytes frame = encode_frame(regtest_magic(), m);
    REQUIRE(frame.size() == kFrameHeaderSize + payload.size());
    auto h = decode_frame_header(frame, regtest_magic());
    REQUIRE(h.has_value());
    CHECK(h->magic == regtest_magic());
    CHECK(h->command == command);
    CHECK(h->length == payload.size());
    CHECK(checksum_matches(*h, ByteSpan(frame).subspan(kFrameHeaderSize)));
    const auto header = encode_frame_header(*h);
    CHECK(std::equal(header.begin(), header.end(), frame.begin()));

    auto run = parse_all(frame);
    REQUIRE(run.frames.size() == 1);
    CHECK_FALSE(run.error);
    CHECK(run.frames[0].command == command);
    CHECK(run.frames[0].payload == payload);
    CHECK(run.frames[0].magic == regtest_magic());
  }
  std::sort(commands.begin(), commands.end());
  CHECK(std::adjacent_find(commands.begin(), commands.end()) == commands.end());  // names are distinct
}

TEST_CASE("payload layouts match docs/protocol.md", "[net][protocol]") {
  CHECK(to_hex(encode_payload(PingMsg{0x0102030405060708ULL})) == "0807060504030201");
  CHECK(encode_payload(VerackMsg{}).empty());
  CHECK(encode_payload(GetAddrMsg{}).empty());
  CHECK(encode_payload(GetPeersMsg{}).empty());
  CHECK(encode_payload(GetStatusMsg{}).empty());

  const VersionMsg v{1, 1, 2, "main", 3, 0x2011, 4, "/x/"};
  CHECK(to_hex(encode_payload(v)) ==
        "01000000"          // protocol_version
        "0100000000000000"  // services
        "0200000000000000"  // timestamp
        "046d61696e"        // "main"
        "0300000000000000"  // best_height
        "1120"              // listen_port 0x2011, little-endian
        "0400000000000000"  // nonce
        "032f782f");        // "/x/"

  // The relay flag: absent when true (the layout above); one 0x00 byte when false.
  VersionMsg no_relay = v;
  no_relay.relay = false;
  CHECK(to_hex(encode_payload(no_relay)) == to_hex(encode_payload(v)) + "00");
  const auto decoded = decode_message("version", encode_payload(no_relay));
  REQUIRE(decoded.has_value());
  CHECK(std::get<VersionMsg>(*decoded) == no_relay);
  CHECK(std::get<VersionMsg>(*decode_message("version", encode_payload(v))).relay);
  // 0x01 alone would be a second encoding of "relay"; a relay byte and part of addr_from is cut short.
  CHECK(decode_error("version", hex(to_hex(encode_payload(v)) + "01")) == malformed(DecodeError::kInvalidValue));
  CHECK(decode_error("version", hex(to_hex(encode_payload(v)) + "0000")) == malformed(DecodeError::kTruncated));

  InvMsg inv{{{InvType::kBlock, hash_of(1)}}};
  CHECK(to_hex(encode_payload(inv)) ==
        "01"
        "02000000" +
            to_hex(hash_of(1).bytes));

  GetHeadersMsg gh{{hash_of(1)}, Hash256{}};
  CHECK(to_hex(encode_payload(gh)) == "01" + to_hex(hash_of(1).bytes) + std::string(64, '0'));

  HeadersMsg hm{{header_of(5)}};
  const auto h80 = serialize(header_of(5));
  CHECK(to_hex(encode_payload(hm)) == "01" + to_hex(h80));

  NetAddress a = NetAddress::from_ipv4({1, 2, 3, 4}, 0x20f1);
  a.time = -1;
  a.services = 5;
  CHECK(to_hex(encode_payload(AddrMsg{{a}})) ==
        "01"
        "ffffffffffffffff"                  // time -1
        "0500000000000000"                  // services
        "00000000000000000000ffff01020304"  // ::ffff:1.2.3.4
        "f120");                            // port, little-endian
  CHECK(encode_payload(AddrMsg{{a}}).size() == 1 + kNetAddressSize);

  CHECK(to_hex(encode_payload(RegisterMsg{2, 0x6f21, 0x0807060504030201ULL, 0x0102, 0x0036})) ==
        "02"
        "216f"
        "0102030405060708"
        "0201"
        "3600");
  TrackerSecret secret{};
  for (std::size_t i = 0; i < secret.size(); ++i) secret[i] = static_cast<std::uint8_t>(0xa0 + i);
  CHECK(to_hex(encode_payload(RegisteredMsg{9, secret, 30, NetAddress::from_ipv4({10, 0, 0, 1}, 0x1234)})) ==
        "0900000000000000"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
        "1e000000"
        "00000000000000000000ffff0a000001"
        "3412");
  CHECK(to_hex(encode_payload(HeartbeatMsg{9, secret, 5, 54})) ==
        "0900000000000000"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
        "0500"
        "3600");
  CHECK(to_hex(encode_payload(DeregisterMsg{9, secret})) ==
        "0900000000000000"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  CHECK(to_hex(encode_payload(TrackerErrorMsg{TrackerErrorCode::kOldProtocol, "old"})) == "01036f6c64");
  CHECK(to_hex(encode_payload(StatusMsg{{{"test", 258}}})) ==
        "01"
        "0474657374"
        "02010000");
  CHECK(encode_payload(BlockMsg{sample_block()}) == serialize(sample_block()));
  CHECK(encode_payload(TxMsg{transfer(1, 2)}) == serialize(transfer(1, 2)));
}

TEST_CASE("version's addr_from: layout, one encoding, bounds", "[net][protocol]") {
  VersionMsg v{2, 1, 2, "main", 3, 0x2011, 4, "/x/"};
  const std::string base = to_hex(encode_payload(v));
  v.addr_from = NetAddress::from_ipv4({203, 0, 113, 9}, 0x20e1);
  // The relay byte (0x01: relay) comes first whenever addr_from follows; then ip[16] and port u16.
  CHECK(to_hex(encode_payload(v)) == base + "01" + "00000000000000000000ffffcb007109" + "e120");
  auto decoded = decode_message("version", encode_payload(v));
  REQUIRE(decoded.has_value());
  CHECK(std::get<VersionMsg>(*decoded) == v);
  v.relay = false;
  CHECK(to_hex(encode_payload(v)) == base + "00" + "00000000000000000000ffffcb007109" + "e120");
  decoded = decode_message("version", encode_payload(v));
  REQUIRE(decoded.has_value());
  CHECK(std::get<VersionMsg>(*decoded) == v);
  // A relay byte other than 0 or 1, a zero port or an unspecified IP (absence says "none").
  CHECK(decode_error("version", hex(base + "02" + "00000000000000000000ffffcb007109" + "e120")) ==
        malformed(DecodeError::kInvalidValue));
  CHECK(decode_error("version", hex(base + "01" + "00000000000000000000ffffcb007109" + "0000")) ==
        malformed(DecodeError::kInvalidValue));
  CHECK(decode_error("version", hex(base + "01" + std::string(32, '0') + "e120")) ==
        malformed(DecodeError::kInvalidValue));
  // Cut inside addr_from, or bytes after it.
  CHECK(decode_error("version", hex(base + "01" + "00000000000000000000ffffcb007109" + "e1")) ==
        malformed(DecodeError::kTruncated));
  CHECK(decode_error("version", hex(base + "01" + "00000000000000000000ffffcb007109" + "e12000")) ==
        malformed(DecodeError::kTrailingData));
}

TEST_CASE("verack and ping frames have the exact bytes of docs/protocol.md", "[net][protocol]") {
  const Bytes verack = encode_frame(regtest_magic(), VerackMsg{});
  const Bytes ping = encode_frame(regtest_magic(), PingMsg{0x0123456789abcdefULL});
  CHECK(to_hex(verack) == kVerackFrameHex);
  CHECK(to_hex(ping) == kPingFrameHex);
  CHECK(to_hex(payload_checksum({})) == "5df6e0e2");

  // The spec shows the same bytes (it is kept beside the tests: tests/data -> ../../docs).
  const auto doc = std::filesystem::path(CHEESE_TEST_DATA).parent_path().parent_path() / "docs" / "protocol.md";
  std::ifstream in(doc);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find(kVerackFrameHex) != std::string::npos);
  CHECK(text.str().find(kPingFrameHex) != std::string::npos);

  auto run = parse_all(concat({verack, ping}));
  REQUIRE(run.frames.size() == 2);
  CHECK(run.frames[0].command == "verack");
  CHECK(run.frames[1].command == "ping");
  CHECK(decode_message(run.frames[1].command, run.frames[1].payload).value() ==
        Message(PingMsg{0x0123456789abcdefULL}));
}

TEST_CASE("frame header errors", "[net][protocol]") {
  const Bytes frame = encode_frame(regtest_magic(), PingMsg{7});

  SECTION("kTruncated: fewer than 24 header bytes") {
    for (std::size_t n = 0; n < kFrameHeaderSize; ++n) {
      auto h = decode_frame_header(ByteSpan(frame).first(n), regtest_magic());
      REQUIRE_FALSE(h.has_value());
      CHECK(h.error() == FrameError::kTruncated);
    }
    CHECK(decode_frame_header(ByteSpan(frame).first(kFrameHeaderSize), regtest_magic()).has_value());
  }

  SECTION("kBadMagic: another network's magic") {
    auto h = decode_frame_header(frame, main_magic());
    REQUIRE_FALSE(h.has_value());
    CHECK(h.error() == FrameError::kBadMagic);
    for (std::size_t i = 0; i < 4; ++i) {
      auto bad = with_header(frame, i, static_cast<std::uint8_t>(frame[i] ^ 0x01));
      CHECK(decode_frame_header(bad, regtest_magic()).error() == FrameError::kBadMagic);
      CHECK(parse_all(bad).error == FrameError::kBadMagic);
    }
  }

  SECTION("kBadCommand") {
    auto command_field = [&](std::string_view field12) {
      Bytes b = frame;
      REQUIRE(field12.size() == kCommandSize);
      std::copy(field12.begin(), field12.end(), b.begin() + 4);
      return b;
    };
    using namespace std::string_view_literals;
    for (auto field : {"\0\0\0\0\0\0\0\0\0\0\0\0"sv,   // empty
                       "\0ing\0\0\0\0\0\0\0\0"sv,      // NUL first
                       "Ping\0\0\0\0\0\0\0\0"sv,       // upper case
                       "pi-g\0\0\0\0\0\0\0\0"sv,       // punctuation
                       "ping \0\0\0\0\0\0\0"sv,        // space
                       "ping\0\0\0\0\0\0\0x"sv,        // non-NUL after NUL
                       "pi\0g\0\0\0\0\0\0\0\0"sv,      // NUL inside
                       "ping\xff\0\0\0\0\0\0\0"sv}) {  // high byte
      const Bytes bad = command_field(field);
      CAPTURE(to_hex(ByteSpan(bad).subspan(4, kCommandSize)));
      auto h = decode_frame_header(bad, regtest_magic());
      REQUIRE_FALSE(h.has_value());
      CHECK(h.error() == FrameError::kBadCommand);
      CHECK(parse_all(bad).error == FrameError::kBadCommand);
    }
    // All twelve characters used, no NUL: valid.
    auto full = decode_frame_header(command_field("abcdefghij12"), regtest_magic());
    REQUIRE(full.has_value());
    CHECK(full->command == "abcdefghij12");
  }

  SECTION("kOversized: decided from the header alone") {
    const Bytes h = header_claiming(kMaxPayloadSize + 1);
    auto r = decode_frame_header(h, regtest_magic());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == FrameError::kOversized);
    CHECK(decode_frame_header(header_claiming(0xffffffffU), regtest_magic()).error() == FrameError::kOversized);
    auto max = decode_frame_header(header_claiming(kMaxPayloadSize), regtest_magic());
    REQUIRE(max.has_value());
    CHECK(max->length == kMaxPayloadSize);

    // The parser rejects it after exactly the 24 header bytes and buffers nothing.
    FrameParser p(regtest_magic());
    Bytes stream = h;
    stream.resize(stream.size() + 1000, 0xab);
    CHECK(p.feed(stream) == kFrameHeaderSize);
    CHECK(p.buffered() == 0);
    CHECK(p.error() == FrameError::kOversized);
    auto n = p.next();
    REQUIRE_FALSE(n.has_value());
    CHECK(n.error() == FrameError::kOversized);
  }

  SECTION("kBadChecksum") {
    Bytes bad = frame;
    bad.back() ^= 0x80;
    auto h = decode_frame_header(bad, regtest_magic());
    REQUIRE(h.has_value());  // the header itself is fine
    CHECK_FALSE(checksum_matches(*h, ByteSpan(bad).subspan(kFrameHeaderSize)));
    CHECK(parse_all(bad).error == FrameError::kBadChecksum);
    Bytes bad_sum = with_header(frame, 20, static_cast<std::uint8_t>(frame[20] ^ 1));
    CHECK(parse_all(bad_sum).error == FrameError::kBadChecksum);
    // A payload of the wrong length never matches.
    CHECK_FALSE(checksum_matches(*h, ByteSpan(frame).subspan(kFrameHeaderSize, 7)));
  }

  SECTION("to_string") {
    for (auto e : {FrameError::kBadMagic, FrameError::kBadCommand, FrameError::kOversized, FrameError::kBadChecksum,
                   FrameError::kTruncated}) {
      CHECK(to_string(e) != "unknown");
    }
    CHECK(to_string(FrameError::kBadChecksum) == "bad-checksum");
  }
}

TEST_CASE("a tracker accepts the magics it serves and learns the network", "[net][protocol]") {
  const auto magics = all_network_magics();
  CHECK(network_of_magic(magics[0]) == Network::kMain);
  CHECK(network_of_magic(magics[1]) == Network::kTest);
  CHECK(network_of_magic(magics[2]) == Network::kRegtest);
  CHECK_FALSE(network_of_magic(NetworkMagic{1, 2, 3, 4}).has_value());

  const Bytes a = encode_frame(magics[0], GetPeersMsg{});
  const Bytes b = encode_frame(magics[2], HeartbeatMsg{5, {}, 0, 0});
  auto ha = decode_frame_header(a, std::span<const NetworkMagic>(magics));
  REQUIRE(ha.has_value());
  CHECK(ha->magic == magics[0]);
  CHECK(decode_frame_header(encode_frame(NetworkMagic{1, 2, 3, 4}, GetPeersMsg{}),
                            std::span<const NetworkMagic>(magics))
            .error() == FrameError::kBadMagic);

  auto run = parse_in_chunks(concat({a, b}), {5}, FrameParser(std::span<const NetworkMagic>(magics)));
  REQUIRE(run.frames.size() == 2);
  CHECK_FALSE(run.error);
  CHECK(run.frames[0].magic == magics[0]);
  CHECK(run.frames[1].magic == magics[2]);
  CHECK(run.frames[1].command == "heartbeat");
}

TEST_CASE("unknown commands are distinct from malformed payloads", "[net][protocol]") {
  auto e = decode_error("sendcmpct", hex("00"));
  CHECK(e.kind == MessageError::kUnknownCommand);
  CHECK(to_string(e) == "unknown-command");
  CHECK_FALSE(is_known_command("sendcmpct"));
  CHECK(is_valid_command("sendcmpct"));
  CHECK_FALSE(is_valid_command(""));
  CHECK_FALSE(is_valid_command("toolongcommand"));
  CHECK_FALSE(is_valid_command("Ping"));

  // The frame layer passes it through: the node ignores it and carries on with the stream.
  const Bytes stream = concat(
      {encode_raw_frame(regtest_magic(), "sendcmpct", hex("0102")), encode_frame(regtest_magic(), PingMsg{1})});
  auto run = parse_all(stream);
  REQUIRE(run.frames.size() == 2);
  CHECK(decode_message(run.frames[0].command, run.frames[0].payload).error().kind == MessageError::kUnknownCommand);
  CHECK(decode_message(run.frames[1].command, run.frames[1].payload).has_value());

  auto m = decode_error("ping", hex("01"));
  CHECK(m == malformed(DecodeError::kTruncated));
  CHECK(to_string(m) == "malformed: truncated");

  CHECK_THROWS_AS(encode_raw_frame(regtest_magic(), "Bad", {}), std::invalid_argument);
  CHECK_THROWS_AS(encode_raw_frame(regtest_magic(), "", {}), std::invalid_argument);
}

TEST_CASE("every proper prefix of a payload is rejected", "[net][protocol]") {
  for (const Message& m : sample_messages()) {
    const auto command = command_of(m);
    const Bytes payload = encode_payload(m);
    CAPTURE(command);
    // A version's optional tail (relay byte, addr_from) may end after the user agent or relay byte.
    const std::size_t tail = command == "version" && std::get<VersionMsg>(m).addr_from ? 19 : 0;
    for (std::size_t n = 0; n < payload.size(); ++n) {
      CAPTURE(n);
      if (command == "register" && n == 10) continue;  // the version-1 layout (its own test)
      if (tail && (n == payload.size() - tail || n == payload.size() - tail + 1)) continue;
      auto e = decode_error(command, ByteSpan(payload).first(n));
      CHECK(e.kind == MessageError::kMalformed);
      // A count whose items no longer fit is kOversized; anything else ends inside a field.
      CHECK((e.detail == DecodeError::kTruncated || e.detail == DecodeError::kOversized));
    }
  }
}

TEST_CASE("trailing bytes after a payload are rejected", "[net][protocol]") {
  for (const Message& m : sample_messages()) {
    const auto command = command_of(m);
    CAPTURE(command);
    for (std::size_t extra : {1U, 2U, 36U}) {
      Bytes payload = encode_payload(m);
      payload.resize(payload.size() + extra, 0x00);
      CHECK(decode_error(command, payload) == malformed(DecodeError::kTrailingData));
    }
  }
}

TEST_CASE("counts above each limit are kOversized, at the limit they decode", "[net][protocol]") {
  SECTION("inv, getdata, notfound") {
    for (auto command : {"inv", "getdata", "notfound"}) {
      CAPTURE(command);
      auto at = decode_message(command, inv_payload(kMaxInvItems));
      REQUIRE(at.has_value());
      CHECK(encode_payload(*at) == inv_payload(kMaxInvItems));
      // Over the limit even though the payload really holds all the items.
      CHECK(decode_error(command, inv_payload(kMaxInvItems + 1)) == malformed(DecodeError::kOversized));
    }
  }
  SECTION("getheaders") {
    const std::size_t item = 32;
    CHECK(decode_message("getheaders", count_payload(kMaxLocatorHashes, kMaxLocatorHashes * item + 32)).has_value());
    CHECK(decode_error("getheaders", count_payload(kMaxLocatorHashes + 1, (kMaxLocatorHashes + 1) * item + 32)) ==
          malformed(DecodeError::kOversized));
  }
  SECTION("headers") {
    auto at = decode_message("headers", count_payload(kMaxHeadersPerMessage, kMaxHeadersPerMessage * kHeaderSize));
    REQUIRE(at.has_value());
    CHECK(std::get<HeadersMsg>(*at).headers.size() == kMaxHeadersPerMessage);
    CHECK(decode_error("headers",
                       count_payload(kMaxHeadersPerMessage + 1, (kMaxHeadersPerMessage + 1) * kHeaderSize)) ==
          malformed(DecodeError::kOversized));
  }
  SECTION("addr and peers") {
    CHECK(
        decode_message("addr", count_payload(kMaxAddrPerMessage, kMaxAddrPerMessage * kNetAddressSize)).has_value());
    CHECK(decode_error("addr", count_payload(kMaxAddrPerMessage + 1, (kMaxAddrPerMessage + 1) * kNetAddressSize)) ==
          malformed(DecodeError::kOversized));
    CHECK(decode_message("peers", count_payload(kMaxTrackerPeers, kMaxTrackerPeers * kNetAddressSize)).has_value());
    CHECK(decode_error("peers", count_payload(kMaxTrackerPeers + 1, (kMaxTrackerPeers + 1) * kNetAddressSize)) ==
          malformed(DecodeError::kOversized));
  }
  SECTION("status") {
    StatusMsg s;
    for (std::size_t i = 0; i < kMaxStatusEntries + 1; ++i) s.networks.push_back({"n" + std::to_string(i), 1});
    CHECK(decode_error("status", encode_payload(s)) == malformed(DecodeError::kOversized));
    s.networks.pop_back();
    CHECK(decode_message("status", encode_payload(s)).value() == Message(s));
  }
  SECTION("strings") {
    VersionMsg v;
    v.network = "regtest";
    v.user_agent = std::string(kMaxUserAgentLength, 'a');
    CHECK(decode_message("version", encode_payload(v)).has_value());
    v.user_agent.push_back('a');
    CHECK(decode_error("version", encode_payload(v)) == malformed(DecodeError::kOversized));
    v.user_agent = "ua";
    v.network = std::string(kMaxNetworkNameLength, 'n');
    CHECK(decode_message("version", encode_payload(v)).has_value());
    v.network.push_back('n');
    CHECK(decode_error("version", encode_payload(v)) == malformed(DecodeError::kOversized));
    StatusMsg s{{{std::string(kMaxNetworkNameLength + 1, 'x'), 1}}};
    CHECK(decode_error("status", encode_payload(s)) == malformed(DecodeError::kOversized));
  }
  SECTION("absurd counts in tiny payloads fail before any allocation") {
    const Bytes huge = hex("ffffffffffffffffff");  // varint 2^64 - 1
    const Bytes big32 = hex("feffffffff");         // varint 2^32 - 1
    for (auto command : {"inv", "getdata", "notfound", "getheaders", "headers", "addr", "peers", "status", "block"}) {
      CAPTURE(command);
      Bytes h = huge;
      Bytes b = big32;
      if (std::string_view(command) == "block") {  // the count follows the 80-byte header
        const auto hdr = serialize(header_of(1));
        h.insert(h.begin(), hdr.begin(), hdr.end());
        b.insert(b.begin(), hdr.begin(), hdr.end());
      }
      CHECK(decode_error(command, h) == malformed(DecodeError::kOversized));
      CHECK(decode_error(command, b) == malformed(DecodeError::kOversized));
    }
    VersionMsg v;
    Bytes p = encode_payload(v);
    // Replace the empty network string's length byte (offset 20) by a huge length.
    p.erase(p.begin() + 20);
    p.insert(p.begin() + 20, huge.begin(), huge.end());
    CHECK(decode_error("version", p) == malformed(DecodeError::kOversized));
  }
  SECTION("a block payload above kMaxBlockSize") {
    CHECK(decode_error("block", Bytes(kMaxBlockSize + 1, 0)) == malformed(DecodeError::kOversized));
  }
}

TEST_CASE("a version-1 register decodes as version 1; a version byte below 2 is invalid", "[net][protocol]") {
  // What an old node sends: listen_port, node_nonce and nothing else.
  auto old = decode_message("register", hex("216f0102030405060708"));
  REQUIRE(old.has_value());
  const auto& r = std::get<RegisterMsg>(*old);
  CHECK(r.version == 1);
  CHECK(r.listen_port == 0x6f21);
  CHECK(r.node_nonce == 0x0807060504030201ULL);
  for (const char* bad : {"00216f010203040506070800003600", "01216f010203040506070800003600"}) {
    CHECK(decode_error("register", hex(bad)) == malformed(DecodeError::kInvalidValue));
  }
  auto v3 = decode_message("register", hex("03216f010203040506070800003600"));
  REQUIRE(v3.has_value());  // a later version is the tracker's to judge
  CHECK(std::get<RegisterMsg>(*v3).version == 3);
  // Version 1 encodes as its own 10-byte layout (what an old node sent).
  CHECK(to_hex(encode_payload(RegisterMsg{1, 0x6f21, 0x0807060504030201ULL, 0, 0})) == "216f0102030405060708");
}

TEST_CASE("slots: layout and bounds (docs/protocol.md 4.1)", "[net][protocol]") {
  // inbound u16, then max_inbound u16, little-endian: 23 of 54.
  CHECK(to_hex(encode_payload(SlotsMsg{23, 54})) == "17003600");
  // At the bounds: full (inbound == max_inbound), empty, one slot, the u16 maximum.
  for (const SlotsMsg m :
       {SlotsMsg{54, 54}, SlotsMsg{0, 54}, SlotsMsg{0, 1}, SlotsMsg{1, 1}, SlotsMsg{65535, 65535}}) {
    CAPTURE(m.inbound, m.max_inbound);
    const auto back = decode_message("slots", encode_payload(m));
    REQUIRE(back.has_value());
    CHECK(std::get<SlotsMsg>(*back) == m);
  }
  // One more inbound than slots, or no slots at all (a node that does not listen sends none).
  CHECK(decode_error("slots", hex("37003600")) == malformed(DecodeError::kInvalidValue));
  CHECK(decode_error("slots", hex("00000000")) == malformed(DecodeError::kInvalidValue));
  CHECK(decode_error("slots", hex("170036")) == malformed(DecodeError::kTruncated));
  CHECK(decode_error("slots", hex("1700360000")) == malformed(DecodeError::kTrailingData));
}

TEST_CASE("invalid field values", "[net][protocol]") {
  SECTION("unknown inventory type") {
    for (std::uint32_t type : {0U, 3U, 0xffffffffU}) {
      Writer w;
      w.varint(1);
      w.u32(type);
      w.hash(hash_of(1));
      CHECK(decode_error("inv", w.bytes()) == malformed(DecodeError::kInvalidValue));
      CHECK(decode_error("getdata", w.bytes()) == malformed(DecodeError::kInvalidValue));
      CHECK(decode_error("notfound", w.bytes()) == malformed(DecodeError::kInvalidValue));
    }
    CHECK(to_string(InvType::kTx) == "tx");
    CHECK(to_string(InvType::kBlock) == "block");
  }
  SECTION("non-canonical count") {
    CHECK(decode_error("inv", hex("fd0000")) == malformed(DecodeError::kNonCanonical));
    CHECK(decode_error("addr", hex("fd0100")) == malformed(DecodeError::kNonCanonical));
  }
  SECTION("non-printable strings") {
    for (char bad : {'\0', '\n', '\x7f', '\x80'}) {
      VersionMsg v;
      v.network = "regtest";
      v.user_agent = std::string("/ua") + bad;
      CHECK(decode_error("version", encode_payload(v)) == malformed(DecodeError::kInvalidValue));
      v.user_agent = "/ua/";
      v.network = std::string("reg") + bad;
      CHECK(decode_error("version", encode_payload(v)) == malformed(DecodeError::kInvalidValue));
      StatusMsg s{{{std::string("m") + bad, 1}}};
      CHECK(decode_error("status", encode_payload(s)) == malformed(DecodeError::kInvalidValue));
    }
  }
  SECTION("unknown transaction kind in tx") {
    Bytes tx = serialize(transfer(1, 1));
    tx[0] = 7;
    CHECK(decode_error("tx", tx) == malformed(DecodeError::kInvalidValue));
  }
}

TEST_CASE("FrameParser yields the same frames byte by byte and in random chunks", "[net][protocol]") {
  std::vector<Bytes> frames;
  for (const Message& m : sample_messages()) frames.push_back(encode_frame(regtest_magic(), m));
  frames.push_back(encode_raw_frame(regtest_magic(), "future1", hex("deadbeef")));
  const Bytes stream = concat(frames);

  const auto whole = parse_all(stream);
  REQUIRE(whole.frames.size() == frames.size());
  CHECK_FALSE(whole.error);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    CHECK(encode_raw_frame(whole.frames[i].magic, whole.frames[i].command, whole.frames[i].payload) == frames[i]);
  }

  const auto bytewise = parse_in_chunks(stream, {1}, FrameParser(regtest_magic()));
  CHECK(bytewise.frames == whole.frames);
  CHECK_FALSE(bytewise.error);

  std::mt19937_64 rng(20261125);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 64; ++i) sizes.push_back(std::uniform_int_distribution<std::size_t>(1, 200)(rng));
    const auto chunked = parse_in_chunks(stream, sizes, FrameParser(regtest_magic()));
    CHECK(chunked.frames == whole.frames);
    CHECK_FALSE(chunked.error);
  }

  // Every frame gets out as soon as its last byte is in, not later.
  FrameParser p(regtest_magic());
  std::size_t completed = 0;
  std::size_t end_of_frame = frames[0].size();
  for (std::size_t i = 0; i < stream.size(); ++i) {
    REQUIRE(p.feed(ByteSpan(stream).subspan(i, 1)) == 1);
    auto r = p.next();
    REQUIRE(r.has_value());
    if (i + 1 == end_of_frame) {
      REQUIRE(r->has_value());
      ++completed;
      if (completed < frames.size()) end_of_frame += frames[completed].size();
    } else {
      CHECK_FALSE(r->has_value());
    }
  }
  CHECK(completed == frames.size());
  CHECK(p.buffered() == 0);
}

TEST_CASE("FrameParser returns good frames, then the error, then stays dead", "[net][protocol]") {
  const Bytes good = encode_frame(regtest_magic(), PingMsg{1});
  Bytes bad = encode_frame(regtest_magic(), PongMsg{2});
  bad.back() ^= 1;
  const Bytes after = encode_frame(regtest_magic(), PingMsg{3});
  const Bytes stream = concat({good, good, bad, after});

  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, stream.size()}) {
    auto run = parse_in_chunks(stream, {chunk}, FrameParser(regtest_magic()));
    CHECK(run.frames.size() == 2);
    CHECK(run.error == FrameError::kBadChecksum);
  }

  FrameParser p(regtest_magic());
  CHECK(p.feed(stream) == good.size() * 2 + bad.size());  // stops taking at the error
  CHECK(p.error() == FrameError::kBadChecksum);
  CHECK(p.next().value().has_value());
  CHECK(p.next().value().has_value());
  for (int i = 0; i < 3; ++i) CHECK(p.next().error() == FrameError::kBadChecksum);
  CHECK(p.feed(after) == 0);
  CHECK(p.next().error() == FrameError::kBadChecksum);
}

TEST_CASE("FrameParser bounds what it buffers", "[net][protocol]") {
  // The largest frame fills the buffer exactly; the next bytes wait until it is taken.
  const Bytes big_payload(kMaxPayloadSize, 0x5a);
  const Bytes big = encode_raw_frame(regtest_magic(), "block", big_payload);
  REQUIRE(big.size() == FrameParser::kMaxBufferedBytes);
  const Bytes small = encode_frame(regtest_magic(), PingMsg{9});
  const Bytes stream = concat({big, small});

  FrameParser p(regtest_magic());
  CHECK(p.feed(stream) == big.size());
  CHECK(p.buffered() == FrameParser::kMaxBufferedBytes);
  CHECK(p.feed(small) == 0);
  auto f = p.next();
  REQUIRE(f.has_value());
  REQUIRE(f->has_value());
  CHECK((*f)->payload.size() == kMaxPayloadSize);
  CHECK(p.buffered() == 0);
  CHECK(p.feed(small) == small.size());
  auto g = p.next();
  REQUIRE(g.has_value());
  REQUIRE(g->has_value());
  CHECK((*g)->command == "ping");

  // Many small frames fed at once: feed takes what fits, the rest after draining.
  std::vector<Bytes> many(FrameParser::kMaxBufferedBytes / small.size() + 10, small);
  const Bytes flood = concat(many);
  auto run = parse_all(flood);
  CHECK(run.frames.size() == many.size());
  CHECK_FALSE(run.error);
}

TEST_CASE("FrameParser survives garbage", "[net][protocol]") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    Bytes garbage(std::uniform_int_distribution<std::size_t>(0, 300)(rng));
    for (auto& b : garbage) b = static_cast<std::uint8_t>(rng());
    if (round % 2 == 1) {
      // A valid frame first, then garbage: the frame comes out, then an error (or a wait).
      const Bytes good = encode_frame(regtest_magic(), PingMsg{static_cast<std::uint64_t>(round)});
      garbage.insert(garbage.begin(), good.begin(), good.end());
    }
    const std::size_t chunk = std::uniform_int_distribution<std::size_t>(1, 50)(rng);
    auto run = parse_in_chunks(garbage, {chunk}, FrameParser(regtest_magic()));
    if (round % 2 == 1) CHECK(run.frames.size() >= 1);
    const std::size_t good_bytes = round % 2 == 1 ? 32 : 0;
    if (garbage.size() >= good_bytes + kFrameHeaderSize) {
      CHECK(run.error.has_value());  // random bytes essentially never carry the regtest magic
    }
    for (const auto& f : run.frames) (void)decode_message(f.command, f.payload);
  }

  // Garbage behind a valid magic: every header byte mutated still ends in a frame or an error.
  const Bytes frame = encode_frame(regtest_magic(), InvMsg{{{InvType::kTx, hash_of(1)}}});
  for (std::size_t i = 0; i < frame.size(); ++i) {
    for (std::uint8_t v : {std::uint8_t{0x00}, std::uint8_t{0xff}, std::uint8_t{0x41}}) {
      const Bytes mutated = with_header(frame, i, v);
      auto run = parse_all(mutated);
      CHECK((run.frames.size() == 1 || run.error.has_value() || (i >= 16 && i < 20)));  // a longer length waits
      for (const auto& f : run.frames) (void)decode_message(f.command, f.payload);
    }
  }
}

TEST_CASE("NetAddress parses, formats and classifies addresses", "[net][protocol]") {
  SECTION("IPv4") {
    auto a = NetAddress::parse_ip("1.2.3.4", 8433);
    REQUIRE(a.has_value());
    CHECK(a->is_ipv4());
    CHECK(to_hex(a->ip) == "00000000000000000000ffff01020304");
    CHECK(a->ip_string() == "1.2.3.4");
    CHECK(a->to_string() == "1.2.3.4:8433");
    CHECK(*a == NetAddress::from_ipv4({1, 2, 3, 4}, 8433));
    for (auto bad :
         {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1..3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.-4"}) {
      CAPTURE(bad);
      CHECK_FALSE(NetAddress::parse_ip(bad, 1).has_value());
    }
  }
  SECTION("IPv6") {
    struct Case {
      const char* in;
      const char* hex;
      const char* shown;
    };
    for (const Case& c :
         {Case{"::1", "00000000000000000000000000000001", "::1"},
          Case{"::", "00000000000000000000000000000000", "::"},
          Case{"2001:DB8::7", "20010db8000000000000000000000007", "2001:db8::7"},
          Case{"2001:0db8:0000:0000:0001:0000:0000:0001", "20010db8000000000001000000000001", "2001:db8::1:0:0:1"},
          Case{"1:0:2:3:4:5:6:7", "00010000000200030004000500060007", "1:0:2:3:4:5:6:7"},
          Case{"fe80::", "fe800000000000000000000000000000", "fe80::"},
          Case{"::ffff:1.2.3.4", "00000000000000000000ffff01020304", "1.2.3.4"},
          Case{"64:ff9b::192.0.2.33", "0064ff9b0000000000000000c0000221", "64:ff9b::c000:221"}}) {
      CAPTURE(c.in);
      auto a = NetAddress::parse_ip(c.in, 1);
      REQUIRE(a.has_value());
      CHECK(to_hex(a->ip) == c.hex);
      CHECK(a->ip_string() == c.shown);
      CHECK(NetAddress::parse_ip(a->ip_string(), 1) == a);  // the shown text parses back
    }
    CHECK(NetAddress::parse_ip("::1", 8433)->to_string() == "[::1]:8433");
    for (auto bad : {":", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1::", "1:", "::g",
                     "1:2:3:4:5:6:7::8", "::1.2.3", "1.2.3.4::", "[::1]"}) {
      CAPTURE(bad);
      CHECK_FALSE(NetAddress::parse_ip(bad, 1).has_value());
    }
  }
  SECTION("endpoints") {
    CHECK(NetAddress::parse_endpoint("1.2.3.4", 8433)->to_string() == "1.2.3.4:8433");
    CHECK(NetAddress::parse_endpoint("1.2.3.4:18433", 8433)->to_string() == "1.2.3.4:18433");
    CHECK(NetAddress::parse_endpoint("[::1]:28433", 8433)->to_string() == "[::1]:28433");
    CHECK(NetAddress::parse_endpoint("[::1]", 8433)->to_string() == "[::1]:8433");
    CHECK(NetAddress::parse_endpoint("2001:db8::1", 8433)->to_string() == "[2001:db8::1]:8433");
    for (auto bad : {"", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:x", "[::1", "[::1]x", "[1.2.3.4]:1",
                     "localhost:8433", "[::1]:"}) {
      CAPTURE(bad);
      CHECK_FALSE(NetAddress::parse_endpoint(bad, 8433).has_value());
    }
  }
  SECTION("classification") {
    auto at = [](const char* ip) { return *NetAddress::parse_ip(ip, 8433); };
    CHECK(at("127.0.0.1").is_loopback());
    CHECK(at("127.9.9.9").is_loopback());
    CHECK(at("::1").is_loopback());
    CHECK_FALSE(at("128.0.0.1").is_loopback());
    CHECK(at("0.0.0.0").is_unspecified());
    CHECK(at("::").is_unspecified());
    CHECK_FALSE(at("::1").is_ipv4());
    for (auto r : {"1.2.3.4", "8.8.8.8", "100.128.0.1", "172.32.0.1", "2001:4860::8888", "2a00::1"}) {
      CAPTURE(r);
      CHECK(at(r).is_routable());
    }
    for (auto nr : {"0.0.0.0",     "0.1.2.3",        "10.1.2.3",        "100.64.0.1",  "127.0.0.1",  "169.254.1.1",
                    "172.16.0.1",  "172.31.255.255", "192.168.1.1",     "192.0.2.1",   "198.18.0.1", "198.51.100.1",
                    "203.0.113.9", "224.0.0.1",      "255.255.255.255", "::",          "::1",        "fc00::1",
                    "fd12::1",     "fe80::1",        "ff02::1",         "2001:db8::1", "::1.2.3.4",  "100::1"}) {
      CAPTURE(nr);
      CHECK_FALSE(at(nr).is_routable());
    }
  }
  SECTION("same endpoint ignores time and services") {
    NetAddress a = addr(1, 8433);
    NetAddress b = a;
    b.time += 100;
    b.services = 0;
    CHECK(a.same_endpoint(b));
    CHECK_FALSE(a == b);
    b.port = 8434;
    CHECK_FALSE(a.same_endpoint(b));
  }
}

TEST_CASE("locator heights: ten back one by one, then doubling, then genesis", "[net][protocol]") {
  CHECK(locator_heights(0) == std::vector<std::uint64_t>{0});
  CHECK(locator_heights(5) == std::vector<std::uint64_t>{5, 4, 3, 2, 1, 0});
  CHECK(locator_heights(10) == std::vector<std::uint64_t>{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  CHECK(locator_heights(100) ==
        std::vector<std::uint64_t>{100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 89, 85, 77, 61, 29, 0});
  for (std::uint64_t tip : {std::uint64_t{11}, std::uint64_t{12345}, std::uint64_t{1'000'000'000},
                            std::uint64_t{UINT64_MAX}, std::uint64_t{UINT64_MAX - 1}}) {
    CAPTURE(tip);
    const auto h = locator_heights(tip);
    CHECK(h.front() == tip);
    CHECK(h.back() == 0);
    CHECK(h.size() <= kMaxLocatorHashes);
    CHECK(std::adjacent_find(h.begin(), h.end(), std::less_equal<>()) == h.end());  // strictly decreasing
  }
  CHECK(locator_heights(1'000'000'000).size() < 45);
  // A locator of any of our chains fits one getheaders.
  GetHeadersMsg gh;
  gh.locator.assign(locator_heights(UINT64_MAX).size(), hash_of(1));
  CHECK(decode_message("getheaders", encode_payload(gh)).has_value());
}
