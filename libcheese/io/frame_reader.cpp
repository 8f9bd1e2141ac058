#include "io/frame_reader.hpp"

#include <coroutine>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace cheese::io {

namespace asio = boost::asio;

std::string FrameReadError::message() const {
  switch (kind) {
    case kClosed: return "connection closed";
    case kSocket: return ec.message();
    case kFrame: return fmt::format("bad frame: {}", frame ? net::to_string(*frame) : std::string_view("unknown"));
  }
  return "unknown";
}

FrameReader::FrameReader(asio::ip::tcp::socket& socket, const NetworkMagic& magic)
    : socket_(socket), parser_(magic) {}

FrameReader::FrameReader(asio::ip::tcp::socket& socket, std::span<const NetworkMagic> accepted)
    : socket_(socket), parser_(accepted) {}

void FrameReader::set_max_payload(std::uint32_t max_payload) {
  max_payload_ = std::min(max_payload, net::kMaxPayloadSize);
}

void FrameReader::prepend(ByteSpan bytes) {
  pending_.insert(pending_.begin() + static_cast<std::ptrdiff_t>(pending_pos_), bytes.begin(), bytes.end());
}

std::size_t FrameReader::read_chunk() const {
  return std::min(kMaxReadChunk, net::kFrameHeaderSize + std::size_t{max_payload_});
}

void FrameReader::feed_pending() {
  while (pending_pos_ < pending_.size() && !parser_.error() && !over_limit_) {
    const ByteSpan rest = ByteSpan(pending_).subspan(pending_pos_);
    // Feed up to the end of the current header, or of the current payload, then look.
    const bool in_header = header_have_ < header_.size();
    const std::size_t step = std::min<std::size_t>(rest.size(),
                                                   in_header ? header_.size() - header_have_ : payload_left_);
    const std::size_t taken = parser_.feed(rest.first(step));
    if (in_header) {
      std::copy_n(rest.begin(), taken, header_.begin() + static_cast<std::ptrdiff_t>(header_have_));
      header_have_ += taken;
      if (header_have_ == header_.size() && !parser_.error()) {
        // The parser accepted this header, so it decodes against its own magic.
        const NetworkMagic magic{header_[0], header_[1], header_[2], header_[3]};
        const auto h = net::decode_frame_header(header_, magic);
        payload_left_ = h ? h->length : 0;
        if (payload_left_ > max_payload_) {
          over_limit_ = FrameReadError{FrameReadError::kFrame, {}, net::FrameError::kOversized};
        }
        if (payload_left_ == 0) header_have_ = 0;
      }
    } else {
      payload_left_ -= static_cast<std::uint32_t>(taken);
      if (payload_left_ == 0) header_have_ = 0;
    }
    pending_pos_ += taken;
    if (taken < step) break;  // the parser is full (a whole frame waits in it) or the stream is dead
  }
}

asio::awaitable<Result<net::RawFrame, FrameReadError>> FrameReader::next() {
  for (;;) {
    feed_pending();
    auto frame = parser_.next();
    if (!frame) co_return Unexpected{FrameReadError{FrameReadError::kFrame, {}, frame.error()}};
    if (*frame) co_return std::move(**frame);
    if (over_limit_) co_return Unexpected{*over_limit_};
    if (socket_end_) co_return Unexpected{*socket_end_};
    if (pending_pos_ < pending_.size()) continue;  // the parser made room: feed the rest

    pending_.resize(read_chunk());
    pending_pos_ = 0;
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(pending_), asio::as_tuple(asio::use_awaitable));
    pending_.resize(n);
    bytes_read_ += n;
    if (ec) {
      // Bytes that came with the error are still parsed before it is reported.
      socket_end_ = ec == asio::error::eof ? FrameReadError{FrameReadError::kClosed, ec, std::nullopt}
                                           : FrameReadError{FrameReadError::kSocket, ec, std::nullopt};
    }
  }
}

}  // namespace cheese::io
