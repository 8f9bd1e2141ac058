// The P2P/tracker codec of libcheese/net (docs/protocol.md). The first input byte picks a mode:
//
//  0: stream. The rest is a byte stream fed to a FrameParser in chunks of (byte 1 % 64) + 1
//     bytes. Properties: chunking does not change the frames or the error; the frames returned
//     are exactly the leading bytes of the stream; a frame whose payload decodes re-encodes to
//     the very same frame bytes; an unknown command is reported as such and only for unknown
//     commands; the first header's verdict agrees with decode_frame_header.
//  1: payload. Byte 1 picks a known command, the rest is its payload (so the decoders are
//     reached without the fuzzer having to forge SHA-256d checksums). Properties: a payload
//     that decodes re-encodes to exactly the input (every encoding is canonical) and respects
//     the count limits; a failure is always kMalformed.
//  2: address text. The rest is parsed by NetAddress::parse_endpoint / parse_ip. Properties: a
//     parsed address prints to text that parses back to the same address.

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "consensus/params.hpp"
#include "fuzz_check.hpp"
#include "net/protocol.hpp"

using namespace cheese;
using namespace cheese::net;

namespace {

template <std::size_t... I>
constexpr std::array<std::string_view, sizeof...(I)> commands_of(std::index_sequence<I...>) {
  return {std::variant_alternative_t<I, Message>::kCommand...};
}
constexpr auto kCommands = commands_of(std::make_index_sequence<std::variant_size_v<Message>>());

struct Parsed {
  std::vector<RawFrame> frames;
  std::optional<FrameError> error;
};

Parsed parse(ByteSpan stream, std::size_t chunk) {
  FrameParser parser(chain_params(Network::kRegtest).magic);
  Parsed out;
  auto drain = [&] {
    while (true) {
      auto r = parser.next();
      if (!r) {
        out.error = r.error();
        return false;
      }
      if (!*r) return true;
      out.frames.push_back(std::move(**r));
    }
  };
  while (!stream.empty()) {
    const auto piece = stream.first(std::min(chunk, stream.size()));
    const std::size_t took = parser.feed(piece);
    // Inputs are far below kMaxBufferedBytes, so the parser takes everything until it errs.
    FUZZ_CHECK(took == piece.size() || parser.error().has_value());
    FUZZ_CHECK(parser.buffered() <= FrameParser::kMaxBufferedBytes);
    stream = stream.subspan(piece.size());
    if (!drain()) return out;
  }
  drain();
  return out;
}

void check_message(std::string_view command, ByteSpan payload) {
  auto m = decode_message(command, payload);
  if (!m) {
    FUZZ_CHECK((m.error().kind == MessageError::kUnknownCommand) == !is_known_command(command));
    return;
  }
  FUZZ_CHECK(is_known_command(command));
  FUZZ_CHECK(command_of(*m) == command);
  const Bytes again = encode_payload(*m);
  FUZZ_CHECK(std::equal(again.begin(), again.end(), payload.begin(), payload.end()));
  std::visit(
      [](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, InvMsg> || std::is_same_v<T, GetDataMsg> || std::is_same_v<T, NotFoundMsg>) {
          FUZZ_CHECK(msg.items.size() <= kMaxInvItems);
        } else if constexpr (std::is_same_v<T, GetHeadersMsg>) {
          FUZZ_CHECK(msg.locator.size() <= kMaxLocatorHashes);
        } else if constexpr (std::is_same_v<T, HeadersMsg>) {
          FUZZ_CHECK(msg.headers.size() <= kMaxHeadersPerMessage);
        } else if constexpr (std::is_same_v<T, AddrMsg>) {
          FUZZ_CHECK(msg.addresses.size() <= kMaxAddrPerMessage);
        } else if constexpr (std::is_same_v<T, PeersMsg>) {
          FUZZ_CHECK(msg.peers.size() <= kMaxTrackerPeers);
        } else if constexpr (std::is_same_v<T, StatusMsg>) {
          FUZZ_CHECK(msg.networks.size() <= kMaxStatusEntries);
        } else if constexpr (std::is_same_v<T, VersionMsg>) {
          FUZZ_CHECK(msg.user_agent.size() <= kMaxUserAgentLength);
          FUZZ_CHECK(msg.network.size() <= kMaxNetworkNameLength);
          FUZZ_CHECK(!msg.addr_from || (msg.addr_from->port != 0 && !msg.addr_from->is_unspecified()));
        }
      },
      *m);
}

void fuzz_stream(ByteSpan in) {
  if (in.empty()) return;
  const std::size_t chunk = (in[0] % 64U) + 1;
  const ByteSpan stream = in.subspan(1);
  const Parsed chunked = parse(stream, chunk);
  const Parsed whole = parse(stream, stream.size() + 1);
  FUZZ_CHECK(chunked.frames == whole.frames);
  FUZZ_CHECK(chunked.error == whole.error);

  const NetworkMagic& magic = chain_params(Network::kRegtest).magic;
  std::size_t pos = 0;
  for (const RawFrame& f : whole.frames) {
    FUZZ_CHECK(f.magic == magic);
    FUZZ_CHECK(is_valid_command(f.command));
    FUZZ_CHECK(f.payload.size() <= kMaxPayloadSize);
    const Bytes raw = encode_raw_frame(f.magic, f.command, f.payload);
    FUZZ_CHECK(pos + raw.size() <= stream.size());
    FUZZ_CHECK(std::equal(raw.begin(), raw.end(), stream.begin() + static_cast<std::ptrdiff_t>(pos)));
    check_message(f.command, f.payload);
    if (auto m = decode_message(f.command, f.payload)) {
      const Bytes frame = encode_frame(magic, *m);
      FUZZ_CHECK(frame == raw);
    }
    pos += raw.size();
  }
  if (whole.error) {
    // The error concerns the frame right after the good ones; a header error is what
    // decode_frame_header says about those 24 bytes.
    const ByteSpan rest = stream.subspan(pos);
    FUZZ_CHECK(*whole.error != FrameError::kTruncated);
    if (*whole.error == FrameError::kBadChecksum) {
      auto h = decode_frame_header(rest, magic);
      FUZZ_CHECK(h.has_value());
      FUZZ_CHECK(rest.size() >= kFrameHeaderSize + h->length);
      FUZZ_CHECK(!checksum_matches(*h, rest.subspan(kFrameHeaderSize, h->length)));
    } else {
      auto h = decode_frame_header(rest, magic);
      FUZZ_CHECK(!h.has_value() && h.error() == *whole.error);
    }
  } else if (stream.size() - pos >= kFrameHeaderSize) {
    // Waiting for the rest of a frame whose header is fine.
    auto h = decode_frame_header(stream.subspan(pos), magic);
    FUZZ_CHECK(h.has_value());
    FUZZ_CHECK(stream.size() - pos < kFrameHeaderSize + h->length);
  }
}

void fuzz_payload(ByteSpan in) {
  if (in.empty()) return;
  const std::string_view command = kCommands[in[0] % kCommands.size()];
  const ByteSpan payload = in.subspan(1);
  check_message(command, payload);
  auto m = decode_message(command, payload);
  if (!m) FUZZ_CHECK(m.error().kind == MessageError::kMalformed);
}

void fuzz_address(ByteSpan in) {
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  if (auto a = NetAddress::parse_endpoint(text, 8433)) {
    auto back = NetAddress::parse_endpoint(a->to_string(), 1);
    FUZZ_CHECK(back.has_value() && *back == *a);
    (void)a->is_routable();
    (void)a->is_loopback();
  }
  if (auto a = NetAddress::parse_ip(text, 7)) {
    auto back = NetAddress::parse_ip(a->ip_string(), 7);
    FUZZ_CHECK(back.has_value() && *back == *a);
    FUZZ_CHECK(a->is_ipv4() == (a->ip_string().find(':') == std::string::npos));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in = fuzz::input(data, size);
  if (in.empty()) return 0;
  switch (in[0] % 3) {
    case 0: fuzz_stream(in.subspan(1)); break;
    case 1: fuzz_payload(in.subspan(1)); break;
    default: fuzz_address(in.subspan(1)); break;
  }
  return 0;
}
