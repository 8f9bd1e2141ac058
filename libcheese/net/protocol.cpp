#include "net/protocol.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "primitives/sha256.hpp"

namespace cheese::net {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool is_command_char(std::uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

//! The name in a 12-byte command field, if it is 1..12 of [a-z0-9] followed only by NULs.
std::optional<std::string> parse_command_field(ByteSpan field) {
  std::size_t n = 0;
  while (n < kCommandSize && field[n] != 0) {
    if (!is_command_char(field[n])) return std::nullopt;
    ++n;
  }
  if (n == 0) return std::nullopt;
  for (std::size_t i = n; i < kCommandSize; ++i) {
    if (field[i] != 0) return std::nullopt;
  }
  return std::string(field.begin(), field.begin() + static_cast<std::ptrdiff_t>(n));
}

// ---- Field encoders and decoders shared by several messages ----

//! A var_string of printable ASCII (0x20..0x7e) of at most max_len bytes.
std::string read_printable(Reader& r, std::size_t max_len) {
  std::string s = r.var_string(max_len);
  if (r.ok() && !std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) {
    r.fail(DecodeError::kInvalidValue);
    return {};
  }
  return s;
}

void write_items(Writer& w, const std::vector<InvItem>& items) {
  w.varint(items.size());
  for (const auto& it : items) {
    w.u32(static_cast<std::uint32_t>(it.type));
    w.hash(it.hash);
  }
}

std::vector<InvItem> read_items(Reader& r) {
  const auto n = static_cast<std::size_t>(r.count(kMaxInvItems, kInvItemSize));
  std::vector<InvItem> items;
  items.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    InvItem it;
    const std::uint32_t type = r.u32();
    it.hash = r.hash();
    if (!r.ok()) break;
    if (type != static_cast<std::uint32_t>(InvType::kTx) && type != static_cast<std::uint32_t>(InvType::kBlock)) {
      r.fail(DecodeError::kInvalidValue);
      break;
    }
    it.type = static_cast<InvType>(type);
    items.push_back(it);
  }
  return items;
}

void write_address(Writer& w, const NetAddress& a) {
  w.i64(a.time);
  w.u64(a.services);
  w.raw(a.ip);
  w.u16(a.port);
}

NetAddress read_address(Reader& r) {
  NetAddress a;
  a.time = r.i64();
  a.services = r.u64();
  a.ip = r.array<16>();
  a.port = r.u16();
  return a;
}

void write_addresses(Writer& w, const std::vector<NetAddress>& v) {
  w.varint(v.size());
  for (const auto& a : v) write_address(w, a);
}

std::vector<NetAddress> read_addresses(Reader& r, std::size_t max_count) {
  const auto n = static_cast<std::size_t>(r.count(max_count, kNetAddressSize));
  std::vector<NetAddress> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) v.push_back(read_address(r));
  return v;
}

// ---- Per-message payloads: write() and read() ----

void write(Writer& w, const VersionMsg& m) {
  w.u32(m.protocol_version);
  w.u64(m.services);
  w.i64(m.timestamp);
  w.var_string(m.network);
  w.u64(m.best_height);
  w.u16(m.listen_port);
  w.u64(m.nonce);
  w.var_string(m.user_agent);
  // The optional tail (docs/protocol.md 4.1): nothing, `00`, or the relay byte and addr_from.
  if (m.addr_from) {
    w.u8(m.relay ? 1 : 0);
    w.raw(m.addr_from->ip);
    w.u16(m.addr_from->port);
  } else if (!m.relay) {
    w.u8(0);
  }
}
void read(Reader& r, VersionMsg& m) {
  m.protocol_version = r.u32();
  m.services = r.u64();
  m.timestamp = r.i64();
  m.network = read_printable(r, kMaxNetworkNameLength);
  m.best_height = r.u64();
  m.listen_port = r.u16();
  m.nonce = r.u64();
  m.user_agent = read_printable(r, kMaxUserAgentLength);
  if (!r.ok() || r.remaining() == 0) return;
  // The relay byte alone may only be 0x00 (absent means relay): every message has one encoding.
  const std::uint8_t relay = r.u8();
  if (r.remaining() == 0) {
    if (relay != 0) r.fail(DecodeError::kInvalidValue);
    m.relay = false;
    return;
  }
  if (relay > 1) r.fail(DecodeError::kInvalidValue);
  m.relay = relay == 1;
  NetAddress from;
  from.ip = r.array<16>();
  from.port = r.u16();
  // "No address" is said by leaving it out, not by zeros.
  if (r.ok() && (from.port == 0 || from.is_unspecified())) r.fail(DecodeError::kInvalidValue);
  m.addr_from = from;
}

void write(Writer& w, const SlotsMsg& m) {
  w.u16(m.inbound);
  w.u16(m.max_inbound);
}
void read(Reader& r, SlotsMsg& m) {
  m.inbound = r.u16();
  m.max_inbound = r.u16();
  // A node without inbound slots does not listen and sends no `slots`; more inbound than slots
  // cannot be.
  if (r.ok() && (m.max_inbound == 0 || m.inbound > m.max_inbound)) r.fail(DecodeError::kInvalidValue);
}

void write(Writer&, const VerackMsg&) {}
void read(Reader&, VerackMsg&) {}
void write(Writer&, const GetAddrMsg&) {}
void read(Reader&, GetAddrMsg&) {}
void write(Writer&, const GetPeersMsg&) {}
void read(Reader&, GetPeersMsg&) {}
void write(Writer&, const GetStatusMsg&) {}
void read(Reader&, GetStatusMsg&) {}

void write(Writer& w, const PingMsg& m) { w.u64(m.nonce); }
void read(Reader& r, PingMsg& m) { m.nonce = r.u64(); }
void write(Writer& w, const PongMsg& m) { w.u64(m.nonce); }
void read(Reader& r, PongMsg& m) { m.nonce = r.u64(); }

void write(Writer& w, const InvMsg& m) { write_items(w, m.items); }
void read(Reader& r, InvMsg& m) { m.items = read_items(r); }
void write(Writer& w, const GetDataMsg& m) { write_items(w, m.items); }
void read(Reader& r, GetDataMsg& m) { m.items = read_items(r); }
void write(Writer& w, const NotFoundMsg& m) { write_items(w, m.items); }
void read(Reader& r, NotFoundMsg& m) { m.items = read_items(r); }

void write(Writer& w, const GetHeadersMsg& m) {
  w.varint(m.locator.size());
  for (const auto& h : m.locator) w.hash(h);
  w.hash(m.stop_hash);
}
void read(Reader& r, GetHeadersMsg& m) {
  const auto n = static_cast<std::size_t>(r.count(kMaxLocatorHashes, 32));
  m.locator.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) m.locator.push_back(r.hash());
  m.stop_hash = r.hash();
}

void write(Writer& w, const HeadersMsg& m) {
  w.varint(m.headers.size());
  for (const auto& h : m.headers) serialize(w, h);
}
void read(Reader& r, HeadersMsg& m) {
  const auto n = static_cast<std::size_t>(r.count(kMaxHeadersPerMessage, kHeaderSize));
  m.headers.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) m.headers.push_back(deserialize_header(r));
}

void write(Writer& w, const BlockMsg& m) { serialize(w, m.block); }
void write(Writer& w, const TxMsg& m) { serialize(w, m.tx); }
void read(Reader& r, TxMsg& m) { m.tx = deserialize_transaction(r); }

void write(Writer& w, const AddrMsg& m) { write_addresses(w, m.addresses); }
void read(Reader& r, AddrMsg& m) { m.addresses = read_addresses(r, kMaxAddrPerMessage); }

//! The version-1 register: listen_port and node_nonce only.
constexpr std::size_t kRegisterV1Size = 2 + 8;

void write(Writer& w, const RegisterMsg& m) {
  if (m.version == 1) {  // the old layout, so that decoding and encoding round-trip
    w.u16(m.listen_port);
    w.u64(m.node_nonce);
    return;
  }
  w.u8(m.version);
  w.u16(m.listen_port);
  w.u64(m.node_nonce);
  w.u16(m.inbound);
  w.u16(m.max_inbound);
}
void read(Reader& r, RegisterMsg& m) {
  if (r.remaining() == kRegisterV1Size) {  // an old node: decoded so that it can be told why not
    m.version = 1;
    m.listen_port = r.u16();
    m.node_nonce = r.u64();
    return;
  }
  m.version = r.u8();
  if (r.ok() && m.version < 2) r.fail(DecodeError::kInvalidValue);
  m.listen_port = r.u16();
  m.node_nonce = r.u64();
  m.inbound = r.u16();
  m.max_inbound = r.u16();
}

void write(Writer& w, const RegisteredMsg& m) {
  w.u64(m.node_id);
  w.raw(m.secret);
  w.u32(m.heartbeat_interval);
  w.raw(m.observed.ip);
  w.u16(m.observed.port);
}
void read(Reader& r, RegisteredMsg& m) {
  m.node_id = r.u64();
  m.secret = r.array<kTrackerSecretSize>();
  m.heartbeat_interval = r.u32();
  m.observed.ip = r.array<16>();
  m.observed.port = r.u16();
}

void write(Writer& w, const HeartbeatMsg& m) {
  w.u64(m.node_id);
  w.raw(m.secret);
  w.u16(m.inbound);
  w.u16(m.max_inbound);
}
void read(Reader& r, HeartbeatMsg& m) {
  m.node_id = r.u64();
  m.secret = r.array<kTrackerSecretSize>();
  m.inbound = r.u16();
  m.max_inbound = r.u16();
}

void write(Writer& w, const DeregisterMsg& m) {
  w.u64(m.node_id);
  w.raw(m.secret);
}
void read(Reader& r, DeregisterMsg& m) {
  m.node_id = r.u64();
  m.secret = r.array<kTrackerSecretSize>();
}

void write(Writer& w, const TrackerErrorMsg& m) {
  w.u8(static_cast<std::uint8_t>(m.code));
  w.var_string(m.reason);
}
void read(Reader& r, TrackerErrorMsg& m) {
  m.code = static_cast<TrackerErrorCode>(r.u8());  // unknown codes are kept: the text explains them
  m.reason = read_printable(r, kMaxTrackerErrorLength);
}

void write(Writer& w, const PeersMsg& m) { write_addresses(w, m.peers); }
void read(Reader& r, PeersMsg& m) { m.peers = read_addresses(r, kMaxTrackerPeers); }

void write(Writer& w, const StatusMsg& m) {
  w.varint(m.networks.size());
  for (const auto& s : m.networks) {
    w.var_string(s.network);
    w.u32(s.peers);
  }
}
void read(Reader& r, StatusMsg& m) {
  // Smallest entry: an empty name (1 byte) and the u32.
  const auto n = static_cast<std::size_t>(r.count(kMaxStatusEntries, 1 + 4));
  m.networks.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    NetworkStatus s;
    s.network = read_printable(r, kMaxNetworkNameLength);
    s.peers = r.u32();
    m.networks.push_back(std::move(s));
  }
}

DecodedMessage malformed(DecodeError e) { return Unexpected{MessageDecodeError{MessageError::kMalformed, e}}; }

template <typename T>
DecodedMessage decode_as(ByteSpan payload) {
  if constexpr (std::is_same_v<T, BlockMsg>) {
    // decode_block enforces kMaxBlockSize and exact consumption itself.
    auto b = decode_block(payload);
    if (!b) return malformed(b.error());
    return Message(std::in_place_type<BlockMsg>, BlockMsg{std::move(b).value()});
  } else {
    Reader r(payload);
    T m;
    read(r, m);
    r.expect_end();
    if (!r.ok()) return malformed(r.error());
    return Message(std::in_place_type<T>, std::move(m));
  }
}

template <std::size_t I = 0>
DecodedMessage decode_by_command(std::string_view command, ByteSpan payload) {
  if constexpr (I == std::variant_size_v<Message>) {
    return Unexpected{MessageDecodeError{MessageError::kUnknownCommand, DecodeError::kInvalidValue}};
  } else {
    using T = std::variant_alternative_t<I, Message>;
    if (command == T::kCommand) return decode_as<T>(payload);
    return decode_by_command<I + 1>(command, payload);
  }
}

template <std::size_t I = 0>
bool known_command(std::string_view command) {
  if constexpr (I == std::variant_size_v<Message>) {
    return false;
  } else {
    return command == std::variant_alternative_t<I, Message>::kCommand || known_command<I + 1>(command);
  }
}

Result<FrameHeader, FrameError> decode_header_fields(ByteSpan first24) {
  if (first24.size() < kFrameHeaderSize) return Unexpected{FrameError::kTruncated};
  FrameHeader h;
  std::copy_n(first24.begin(), 4, h.magic.begin());
  auto command = parse_command_field(first24.subspan(4, kCommandSize));
  if (!command) return Unexpected{FrameError::kBadCommand};
  h.command = std::move(*command);
  Reader r(first24.subspan(16, 8));
  h.length = r.u32();
  h.checksum = r.array<4>();
  if (h.length > kMaxPayloadSize) return Unexpected{FrameError::kOversized};
  return h;
}

}  // namespace

std::string_view to_string(InvType t) {
  switch (t) {
    case InvType::kTx: return "tx";
    case InvType::kBlock: return "block";
  }
  return "unknown";
}

std::string_view command_of(const Message& m) {
  return std::visit([](const auto& msg) { return std::decay_t<decltype(msg)>::kCommand; }, m);
}

bool is_known_command(std::string_view command) { return known_command(command); }

bool is_valid_command(std::string_view command) {
  return !command.empty() && command.size() <= kCommandSize &&
         std::all_of(command.begin(), command.end(),
                     [](char c) { return is_command_char(static_cast<std::uint8_t>(c)); });
}

Bytes encode_payload(const Message& m) {
  Writer w;
  std::visit([&w](const auto& msg) { write(w, msg); }, m);
  return std::move(w).take();
}

std::array<std::uint8_t, 4> payload_checksum(ByteSpan payload) {
  const Hash256 h = sha256d(payload);
  return {h.bytes[0], h.bytes[1], h.bytes[2], h.bytes[3]};
}

std::array<std::uint8_t, kFrameHeaderSize> encode_frame_header(const FrameHeader& h) {
  std::array<std::uint8_t, kFrameHeaderSize> out{};
  std::copy(h.magic.begin(), h.magic.end(), out.begin());
  std::copy_n(h.command.begin(), std::min(h.command.size(), kCommandSize), out.begin() + 4);
  for (std::size_t i = 0; i < 4; ++i) out[16 + i] = static_cast<std::uint8_t>(h.length >> (8 * i));
  std::copy(h.checksum.begin(), h.checksum.end(), out.begin() + 20);
  return out;
}

Bytes encode_raw_frame(const NetworkMagic& magic, std::string_view command, ByteSpan payload) {
  if (!is_valid_command(command)) throw std::invalid_argument("encode_raw_frame: invalid command");
  if (payload.size() > kMaxPayloadSize) throw std::invalid_argument("encode_raw_frame: payload too large");
  FrameHeader h;
  h.magic = magic;
  h.command = std::string(command);
  h.length = static_cast<std::uint32_t>(payload.size());
  h.checksum = payload_checksum(payload);
  const auto header = encode_frame_header(h);
  Bytes out;
  out.reserve(kFrameHeaderSize + payload.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes encode_frame(const NetworkMagic& magic, const Message& m) {
  const Bytes payload = encode_payload(m);
  return encode_raw_frame(magic, command_of(m), payload);
}

std::string_view to_string(FrameError e) {
  switch (e) {
    case FrameError::kBadMagic: return "bad-magic";
    case FrameError::kBadCommand: return "bad-command";
    case FrameError::kOversized: return "oversized";
    case FrameError::kBadChecksum: return "bad-checksum";
    case FrameError::kTruncated: return "truncated";
  }
  return "unknown";
}

Result<FrameHeader, FrameError> decode_frame_header(ByteSpan first24, const NetworkMagic& expected) {
  return decode_frame_header(first24, std::span<const NetworkMagic>(&expected, 1));
}

Result<FrameHeader, FrameError> decode_frame_header(ByteSpan first24, std::span<const NetworkMagic> accepted) {
  if (first24.size() < kFrameHeaderSize) return Unexpected{FrameError::kTruncated};
  const bool magic_ok = std::any_of(accepted.begin(), accepted.end(), [&](const NetworkMagic& m) {
    return std::equal(m.begin(), m.end(), first24.begin());
  });
  if (!magic_ok) return Unexpected{FrameError::kBadMagic};
  return decode_header_fields(first24);
}

bool checksum_matches(const FrameHeader& h, ByteSpan payload) {
  return payload.size() == h.length && payload_checksum(payload) == h.checksum;
}

std::array<NetworkMagic, 3> all_network_magics() {
  return {chain_params(Network::kMain).magic, chain_params(Network::kTest).magic,
          chain_params(Network::kRegtest).magic};
}

std::optional<Network> network_of_magic(const NetworkMagic& magic) {
  for (Network n : {Network::kMain, Network::kTest, Network::kRegtest}) {
    if (chain_params(n).magic == magic) return n;
  }
  return std::nullopt;
}

std::string_view to_string(MessageError e) {
  switch (e) {
    case MessageError::kUnknownCommand: return "unknown-command";
    case MessageError::kMalformed: return "malformed";
  }
  return "unknown";
}

std::string to_string(const MessageDecodeError& e) {
  if (e.kind == MessageError::kUnknownCommand) return std::string(to_string(e.kind));
  return std::string(to_string(e.kind)) + ": " + std::string(cheese::to_string(e.detail));
}

DecodedMessage decode_message(std::string_view command, ByteSpan payload) {
  return decode_by_command(command, payload);
}

std::vector<std::uint64_t> locator_heights(std::uint64_t tip_height) {
  std::vector<std::uint64_t> out;
  std::uint64_t height = tip_height;
  std::uint64_t step = 1;
  while (true) {
    out.push_back(height);
    if (height == 0) break;
    if (out.size() >= 10) step = step > (UINT64_MAX >> 1) ? height : step * 2;
    height = height > step ? height - step : 0;
  }
  return out;
}

}  // namespace cheese::net
