#pragma once

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "net/protocol.hpp"
#include "primitives/bytes.hpp"
#include "primitives/result.hpp"

namespace cheese::io {

//! Why FrameReader::next() has no frame. The stream is dead after any of them.
struct FrameReadError {
  enum Kind {
    kClosed,  //!< the peer closed the connection (eof)
    kSocket,  //!< any other read error, including operation_aborted after a cancellation
    kFrame,   //!< the bytes are not a valid frame (`frame` says why)
  } kind = kClosed;
  boost::system::error_code ec;
  std::optional<net::FrameError> frame;
  //! "connection closed", the socket error's text, or "bad frame: <reason>".
  std::string message() const;
};

//! Reads checked frames from a stream socket through net::FrameParser (never allocates from an
//! unchecked length). Reads at most kMaxReadChunk bytes at a time, so a header is rejected before
//! more than that of its payload has been read.
class FrameReader {
 public:
  static constexpr std::size_t kMaxReadChunk = 64 * 1024;

  FrameReader(boost::asio::ip::tcp::socket& socket, const NetworkMagic& magic);
  FrameReader(boost::asio::ip::tcp::socket& socket, std::span<const NetworkMagic> accepted);

  //! A lower payload limit than net::kMaxPayloadSize (e.g. the tracker's): a header announcing
  //! more fails with FrameError::kOversized as soon as it arrives, before its payload is buffered.
  //! Also shrinks the read chunk to one such frame.
  void set_max_payload(std::uint32_t max_payload);
  //! Hands in bytes already read from the socket (by a protocol sniffer, or after a PROXY line):
  //! they are parsed before anything more is read.
  void prepend(ByteSpan bytes);

  //! The next complete frame, or why there is none. After an error, the frames completed before
  //! it come first, then the same error forever.
  boost::asio::awaitable<Result<net::RawFrame, FrameReadError>> next();

  //! Bytes read from the socket so far (prepended bytes not counted).
  std::uint64_t bytes_read() const { return bytes_read_; }
  //! Bytes read (or prepended) but not yet returned as frames.
  std::size_t buffered() const { return parser_.buffered() + (pending_.size() - pending_pos_); }

 private:
  void feed_pending();
  std::size_t read_chunk() const;

  boost::asio::ip::tcp::socket& socket_;
  net::FrameParser parser_;
  std::uint32_t max_payload_ = net::kMaxPayloadSize;
  Bytes pending_;  //!< read but not yet fed to the parser, from pending_pos_ on
  std::size_t pending_pos_ = 0;
  std::uint64_t bytes_read_ = 0;
  // The frame being fed, tracked here only to apply max_payload_ (the parser checks the rest).
  std::array<std::uint8_t, net::kFrameHeaderSize> header_{};
  std::size_t header_have_ = 0;
  std::uint32_t payload_left_ = 0;
  std::optional<FrameReadError> over_limit_;  //!< reported after the frames completed before it
  std::optional<FrameReadError> socket_end_;  //!< eof or socket error, once seen
};

}  // namespace cheese::io
