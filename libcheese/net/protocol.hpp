#pragma once

// The framed binary protocol of node<->node and node<->tracker traffic, specified byte by byte in
// docs/protocol.md. Pure: bytes in, message or error out; message in, bytes out. No sockets,
// no clocks.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "consensus/params.hpp"
#include "net/address.hpp"
#include "primitives/block.hpp"
#include "primitives/bytes.hpp"
#include "primitives/hash.hpp"
#include "primitives/result.hpp"
#include "primitives/serialize.hpp"
#include "primitives/transaction.hpp"

namespace cheese::net {

// ---- Wire limits (docs/protocol.md section 3) ----
//! 2: `version` may carry `addr_from` (docs/protocol.md 4.1). 3: the accepting side may send
//! `slots` between its `version` and `verack`.
inline constexpr std::uint32_t kProtocolVersion = 3;
//! The first version whose `version` may carry `addr_from`: a node answering an older peer's
//! `version` leaves it out.
inline constexpr std::uint32_t kAddrFromProtocolVersion = 2;
//! The first version that may be sent `slots`: the accepting side sends it only when the opener's
//! `version` says this or more (an older node would take it for a message before `verack`).
inline constexpr std::uint32_t kSlotsProtocolVersion = 3;
inline constexpr std::uint32_t kMinProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 24;
inline constexpr std::size_t kCommandSize = 12;
inline constexpr std::uint32_t kMaxPayloadSize = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxInvItems = 50'000;
inline constexpr std::size_t kMaxLocatorHashes = 101;
inline constexpr std::size_t kMaxHeadersPerMessage = 2'000;
inline constexpr std::size_t kMaxAddrPerMessage = 1'000;
inline constexpr std::size_t kMaxUserAgentLength = 256;
inline constexpr std::size_t kMaxNetworkNameLength = 16;
inline constexpr std::size_t kMaxTrackerPeers = 10;
//! Longest `reason` text of a `trackererror`.
inline constexpr std::size_t kMaxTrackerErrorLength = 256;
inline constexpr std::size_t kMaxStatusEntries = 16;
//! Bytes of one address entry on the wire: time, services, ip, port.
inline constexpr std::size_t kNetAddressSize = 8 + 8 + 16 + 2;
//! Bytes of one inventory item on the wire: type, hash.
inline constexpr std::size_t kInvItemSize = 4 + 32;

//! `version.services` bit: the node stores and serves full blocks.
inline constexpr std::uint64_t kServiceNetwork = 1;

// ---- Timing policy (docs/protocol.md section 10); the daemon and tracker enforce these ----
inline constexpr std::chrono::seconds kHandshakeTimeout{60};
inline constexpr std::chrono::seconds kPingInterval{30};
inline constexpr std::chrono::seconds kPingTimeout{60};
inline constexpr std::chrono::seconds kIdleTimeout{20 * 60};
inline constexpr std::chrono::seconds kBlockStallTimeout{2 * 60};
inline constexpr std::size_t kMaxBlocksInFlightPerPeer = 16;
inline constexpr std::chrono::seconds kDefaultHeartbeatInterval{30};
inline constexpr std::uint32_t kTrackerMissedHeartbeats = 3;
inline constexpr std::uint16_t kDefaultTrackerPort = 9999;
//! The tracker conversation's version, the first byte of `register` (docs/protocol.md 4.6). A
//! version-1 `register` (10 bytes, no version byte) is answered by a `trackererror`.
inline constexpr std::uint8_t kTrackerProtocolVersion = 2;
//! Bytes of a registration's secret (128 bits, from the tracker's CSPRNG).
inline constexpr std::size_t kTrackerSecretSize = 16;
using TrackerSecret = std::array<std::uint8_t, kTrackerSecretSize>;

// ---- Messages (docs/protocol.md section 4); each names its command ----

struct VersionMsg {
  static constexpr std::string_view kCommand = "version";
  std::uint32_t protocol_version = kProtocolVersion;
  std::uint64_t services = 0;
  std::int64_t timestamp = 0;  //!< unix seconds
  std::string network;         //!< "main", "test", "regtest"
  std::uint64_t best_height = 0;
  std::uint16_t listen_port = 0;  //!< 0 = not listening
  std::uint64_t nonce = 0;        //!< random per node run: detects self-connections
  std::string user_agent;
  //! false: "do not announce or send me transactions" (a block-relay-only connection). On the
  //! wire only when false, as one trailing 0x00 byte; absent means true (docs/protocol.md 4.1).
  bool relay = true;
  //! Where the sender asks to be dialled (its -externalip, a bound address, or what a tracker saw);
  //! only `ip` and `port` travel. Absent: the receiver uses the connection's IP and listen_port.
  std::optional<NetAddress> addr_from;
  friend bool operator==(const VersionMsg&, const VersionMsg&) = default;
};

struct VerackMsg {
  static constexpr std::string_view kCommand = "verack";
  friend bool operator==(const VerackMsg&, const VerackMsg&) = default;
};

//! The accepting side's inbound connections and inbound limit, sent between its `version` and
//! `verack` (protocol version 3, docs/protocol.md 4.1): the dialler may leave a crowded node for
//! one with room. `inbound` <= `max_inbound`, `max_inbound` >= 1.
struct SlotsMsg {
  static constexpr std::string_view kCommand = "slots";
  std::uint16_t inbound = 0;
  std::uint16_t max_inbound = 0;
  friend bool operator==(const SlotsMsg&, const SlotsMsg&) = default;
};

struct PingMsg {
  static constexpr std::string_view kCommand = "ping";
  std::uint64_t nonce = 0;
  friend bool operator==(const PingMsg&, const PingMsg&) = default;
};

struct PongMsg {
  static constexpr std::string_view kCommand = "pong";
  std::uint64_t nonce = 0;  //!< the nonce of the ping being answered
  friend bool operator==(const PongMsg&, const PongMsg&) = default;
};

enum class InvType : std::uint32_t { kTx = 1, kBlock = 2 };
std::string_view to_string(InvType t);

struct InvItem {
  InvType type = InvType::kTx;
  Hash256 hash{};
  friend bool operator==(const InvItem&, const InvItem&) = default;
};

struct InvMsg {
  static constexpr std::string_view kCommand = "inv";
  std::vector<InvItem> items;
  friend bool operator==(const InvMsg&, const InvMsg&) = default;
};

struct GetDataMsg {
  static constexpr std::string_view kCommand = "getdata";
  std::vector<InvItem> items;
  friend bool operator==(const GetDataMsg&, const GetDataMsg&) = default;
};

struct NotFoundMsg {
  static constexpr std::string_view kCommand = "notfound";
  std::vector<InvItem> items;
  friend bool operator==(const NotFoundMsg&, const NotFoundMsg&) = default;
};

struct GetHeadersMsg {
  static constexpr std::string_view kCommand = "getheaders";
  std::vector<Hash256> locator;  //!< newest first; see locator_heights()
  Hash256 stop_hash{};           //!< all zero = as many as allowed
  friend bool operator==(const GetHeadersMsg&, const GetHeadersMsg&) = default;
};

struct HeadersMsg {
  static constexpr std::string_view kCommand = "headers";
  std::vector<BlockHeader> headers;  //!< consecutive, oldest first
  friend bool operator==(const HeadersMsg&, const HeadersMsg&) = default;
};

struct BlockMsg {
  static constexpr std::string_view kCommand = "block";
  Block block;
  friend bool operator==(const BlockMsg&, const BlockMsg&) = default;
};

struct TxMsg {
  static constexpr std::string_view kCommand = "tx";
  Transaction tx;
  friend bool operator==(const TxMsg&, const TxMsg&) = default;
};

struct GetAddrMsg {
  static constexpr std::string_view kCommand = "getaddr";
  friend bool operator==(const GetAddrMsg&, const GetAddrMsg&) = default;
};

struct AddrMsg {
  static constexpr std::string_view kCommand = "addr";
  std::vector<NetAddress> addresses;
  friend bool operator==(const AddrMsg&, const AddrMsg&) = default;
};

// Tracker messages: same framing; the frame's magic says which network the node is on.

struct RegisterMsg {
  static constexpr std::string_view kCommand = "register";
  //! kTrackerProtocolVersion when encoded; 1 when a 10-byte version-1 payload was decoded (its
  //! inbound fields are then 0).
  std::uint8_t version = kTrackerProtocolVersion;
  std::uint16_t listen_port = 0;  //!< 0 = not listening (never handed out)
  std::uint64_t node_nonce = 0;   //!< the node's version nonce
  std::uint16_t inbound = 0;      //!< inbound connections the node has now
  std::uint16_t max_inbound = 0;  //!< inbound connections it accepts
  friend bool operator==(const RegisterMsg&, const RegisterMsg&) = default;
};

struct RegisteredMsg {
  static constexpr std::string_view kCommand = "registered";
  std::uint64_t node_id = 0;
  TrackerSecret secret{};                //!< proves ownership in heartbeat and deregister
  std::uint32_t heartbeat_interval = 0;  //!< seconds
  //! The node's connection as the tracker saw it; only ip and port travel (time and services
  //! decode as zero).
  NetAddress observed;
  friend bool operator==(const RegisteredMsg&, const RegisteredMsg&) = default;
};

struct HeartbeatMsg {
  static constexpr std::string_view kCommand = "heartbeat";
  std::uint64_t node_id = 0;
  TrackerSecret secret{};
  std::uint16_t inbound = 0;
  std::uint16_t max_inbound = 0;
  friend bool operator==(const HeartbeatMsg&, const HeartbeatMsg&) = default;
};

//! Ends a registration at once (a node shutting down, or reconnecting after its old connection
//! was lost, before it registers again).
struct DeregisterMsg {
  static constexpr std::string_view kCommand = "deregister";
  std::uint64_t node_id = 0;
  TrackerSecret secret{};
  friend bool operator==(const DeregisterMsg&, const DeregisterMsg&) = default;
};

//! Why the tracker refuses a message; the tracker closes the connection after sending it.
enum class TrackerErrorCode : std::uint8_t {
  kOldProtocol = 1,   //!< a version-1 register: upgrade the node
  kNonceInUse = 2,    //!< a live registration from another connection has this node nonce
  kAddressInUse = 3,  //!< ... or this ip:listen_port
  kTooManyFromIp = 4,
  kFull = 5,
  kBadSecret = 6,  //!< heartbeat or deregister with a wrong secret
  kUnknownId = 7,  //!< heartbeat for a registration the tracker does not have (register again)
};

struct TrackerErrorMsg {
  static constexpr std::string_view kCommand = "trackererror";
  TrackerErrorCode code = TrackerErrorCode::kOldProtocol;
  std::string reason;  //!< printable ASCII, at most kMaxTrackerErrorLength
  friend bool operator==(const TrackerErrorMsg&, const TrackerErrorMsg&) = default;
};

struct GetPeersMsg {
  static constexpr std::string_view kCommand = "getpeers";
  friend bool operator==(const GetPeersMsg&, const GetPeersMsg&) = default;
};

struct PeersMsg {
  static constexpr std::string_view kCommand = "peers";
  std::vector<NetAddress> peers;  //!< at most kMaxTrackerPeers
  friend bool operator==(const PeersMsg&, const PeersMsg&) = default;
};

struct GetStatusMsg {
  static constexpr std::string_view kCommand = "getstatus";
  friend bool operator==(const GetStatusMsg&, const GetStatusMsg&) = default;
};

struct NetworkStatus {
  std::string network;
  std::uint32_t peers = 0;
  friend bool operator==(const NetworkStatus&, const NetworkStatus&) = default;
};

struct StatusMsg {
  static constexpr std::string_view kCommand = "status";
  std::vector<NetworkStatus> networks;  //!< at most kMaxStatusEntries
  friend bool operator==(const StatusMsg&, const StatusMsg&) = default;
};

using Message =
    std::variant<VersionMsg, VerackMsg, PingMsg, PongMsg, InvMsg, GetDataMsg, NotFoundMsg, GetHeadersMsg, HeadersMsg,
                 BlockMsg, TxMsg, GetAddrMsg, AddrMsg, RegisterMsg, RegisteredMsg, HeartbeatMsg, GetPeersMsg,
                 PeersMsg, GetStatusMsg, StatusMsg, DeregisterMsg, TrackerErrorMsg, SlotsMsg>;

//! The command string of a message ("version", "inv", ...).
std::string_view command_of(const Message& m);
//! True when the command names one of the messages above.
bool is_known_command(std::string_view command);
//! True for 1..12 characters of a-z and 0-9 (what a frame's command field may hold).
bool is_valid_command(std::string_view command);

//! The payload bytes of a message. Does not enforce the count limits: a caller that builds an
//! inv/addr/headers from its own data must keep within kMax* or the peer will reject it.
Bytes encode_payload(const Message& m);
//! A whole frame: 24-byte header (magic, command, length, checksum) and payload.
Bytes encode_frame(const NetworkMagic& magic, const Message& m);
//! A frame around arbitrary payload bytes; throws std::invalid_argument if the command is not
//! is_valid_command() or the payload exceeds kMaxPayloadSize.
Bytes encode_raw_frame(const NetworkMagic& magic, std::string_view command, ByteSpan payload);
//! First 4 bytes of SHA-256d(payload).
std::array<std::uint8_t, 4> payload_checksum(ByteSpan payload);

// ---- Frames ----

enum class FrameError {
  kBadMagic,     //!< not the expected network's magic
  kBadCommand,   //!< command field is not 1..12 of [a-z0-9] then NULs
  kOversized,    //!< payload length above kMaxPayloadSize
  kBadChecksum,  //!< payload does not match the header's checksum
  kTruncated,    //!< fewer than kFrameHeaderSize header bytes
};
std::string_view to_string(FrameError e);

struct FrameHeader {
  NetworkMagic magic{};
  std::string command;
  std::uint32_t length = 0;
  std::array<std::uint8_t, 4> checksum{};
  friend bool operator==(const FrameHeader&, const FrameHeader&) = default;
};

//! Decodes and checks the first kFrameHeaderSize bytes of a frame (more are ignored): magic,
//! then command, then length <= kMaxPayloadSize. The checksum is checked by checksum_matches().
Result<FrameHeader, FrameError> decode_frame_header(ByteSpan first24, const NetworkMagic& expected);
//! The same for a listener serving several networks (a tracker): any of `accepted` is fine,
//! and the header's magic tells which.
Result<FrameHeader, FrameError> decode_frame_header(ByteSpan first24, std::span<const NetworkMagic> accepted);
//! The 24 header bytes of a frame with this header.
std::array<std::uint8_t, kFrameHeaderSize> encode_frame_header(const FrameHeader& h);
[[nodiscard]] bool checksum_matches(const FrameHeader& h, ByteSpan payload);

//! The magics of main, test and regtest (for a tracker serving all of them).
std::array<NetworkMagic, 3> all_network_magics();
//! The network a magic belongs to; nullopt for a foreign magic.
std::optional<Network> network_of_magic(const NetworkMagic& magic);

// ---- Messages from payloads ----

enum class MessageError {
  kUnknownCommand,  //!< well-formed but unknown command: ignore it (forward compatibility)
  kMalformed,       //!< known command, payload does not decode: the peer misbehaved
};
std::string_view to_string(MessageError e);

struct MessageDecodeError {
  MessageError kind = MessageError::kMalformed;
  DecodeError detail = DecodeError::kTruncated;  //!< why, for kMalformed
  friend bool operator==(const MessageDecodeError&, const MessageDecodeError&) = default;
};
//! "unknown-command" or "malformed: <detail>".
std::string to_string(const MessageDecodeError& e);

//! What decode_message returns.
using DecodedMessage = Result<Message, MessageDecodeError>;

//! Decodes the payload of a frame with this command. The payload must be consumed exactly.
DecodedMessage decode_message(std::string_view command, ByteSpan payload);

// ---- Incremental stream parsing ----

//! One complete, checked frame: its magic, command and payload (the payload not yet decoded).
struct RawFrame {
  NetworkMagic magic{};
  std::string command;
  Bytes payload;
  friend bool operator==(const RawFrame&, const RawFrame&) = default;
};

//! Splits a byte stream into checked frames, without I/O. feed() buffers at most
//! kMaxBufferedBytes unparsed bytes and checks each header as soon as its 24 bytes arrive, so a
//! bad magic/command/length is caught before its payload is buffered; the payload length is never
//! used to allocate. After the first error the stream is dead: next() returns the frames completed
//! before it, then the error, forever.
class FrameParser {
 public:
  static constexpr std::size_t kMaxBufferedBytes = kFrameHeaderSize + kMaxPayloadSize;

  explicit FrameParser(const NetworkMagic& magic) : accepted_{magic} {}
  //! For a tracker: frames of any of these networks (RawFrame::magic says which).
  explicit FrameParser(std::span<const NetworkMagic> accepted) : accepted_(accepted.begin(), accepted.end()) {}

  //! Takes as many bytes as fit (all of them unless kMaxBufferedBytes would be exceeded, or the
  //! stream is dead) and returns how many it took. Call next() until it returns nullopt, then
  //! feed the rest.
  std::size_t feed(ByteSpan bytes);
  //! The next complete frame; nullopt if more bytes are needed; the error once the stream is dead.
  Result<std::optional<RawFrame>, FrameError> next();

  //! Bytes fed but not yet returned by next().
  std::size_t buffered() const { return buf_.size() - start_; }
  //! The error that killed the stream, as soon as feed() saw it (next() still returns the frames
  //! completed before it first).
  std::optional<FrameError> error() const { return error_; }

 private:
  bool check_header_at(std::size_t pos);

  std::vector<NetworkMagic> accepted_;
  Bytes buf_;
  std::size_t start_ = 0;   //!< first byte not yet returned by next()
  std::size_t cursor_ = 0;  //!< start of the frame being received; [start_, cursor_) are complete
  std::optional<std::uint32_t> current_length_;  //!< payload length, once the header checked out
  std::optional<FrameError> error_;
};

// ---- Sync helpers ----

//! Heights whose block hashes form a getheaders locator from a tip at tip_height, newest first:
//! the tip and the 9 below it, then steps of 2, 4, 8, ..., and always genesis (0) last.
std::vector<std::uint64_t> locator_heights(std::uint64_t tip_height);

}  // namespace cheese::net
