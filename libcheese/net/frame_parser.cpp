#include <algorithm>

#include "net/protocol.hpp"

namespace cheese::net {

namespace {
//! A drained buffer larger than this is released rather than kept for the next frame, so an idle
//! peer that once sent a 4 MiB block does not pin 4 MiB.
constexpr std::size_t kKeepCapacity = 256 * 1024;
}  // namespace

bool FrameParser::check_header_at(std::size_t pos) {
  auto h = decode_frame_header(ByteSpan(buf_).subspan(pos, kFrameHeaderSize), accepted_);
  if (!h) {
    error_ = h.error();
    return false;
  }
  current_length_ = h->length;
  return true;
}

std::size_t FrameParser::feed(ByteSpan bytes) {
  if (error_) return 0;
  if (start_ > 0) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(start_));
    cursor_ -= start_;
    start_ = 0;
  }
  std::size_t taken = 0;
  while (taken < bytes.size() && !error_) {
    const std::size_t room = kMaxBufferedBytes - buffered();
    if (room == 0) break;
    // Bytes still missing from the frame being received: its header, or then its payload.
    const std::size_t have = buf_.size() - cursor_;
    const std::size_t want = (current_length_ ? kFrameHeaderSize + std::size_t{*current_length_} : kFrameHeaderSize) -
                             have;
    const std::size_t n = std::min({want, bytes.size() - taken, room});
    const auto from = bytes.subspan(taken, n);
    buf_.insert(buf_.end(), from.begin(), from.end());
    taken += n;
    if (n < want) break;

    if (!current_length_ && !check_header_at(cursor_)) {
      buf_.resize(cursor_);  // the bad header is dropped; completed frames stay for next()
      break;
    }
    if (buf_.size() - cursor_ == kFrameHeaderSize + std::size_t{*current_length_}) {
      auto h = decode_frame_header(ByteSpan(buf_).subspan(cursor_, kFrameHeaderSize), accepted_);
      if (!checksum_matches(*h, ByteSpan(buf_).subspan(cursor_ + kFrameHeaderSize))) {
        error_ = FrameError::kBadChecksum;
        buf_.resize(cursor_);
        break;
      }
      cursor_ = buf_.size();
      current_length_.reset();
    }
  }
  return taken;
}

Result<std::optional<RawFrame>, FrameError> FrameParser::next() {
  if (start_ == cursor_) {
    if (error_) return Unexpected{*error_};
    return std::optional<RawFrame>{};
  }
  // [start_, cursor_) holds frames that were checked in feed(), so their headers decode.
  const ByteSpan all(buf_);
  auto h = decode_frame_header(all.subspan(start_, kFrameHeaderSize), accepted_);
  RawFrame f;
  f.magic = h->magic;
  f.command = std::move(h->command);
  const auto payload = all.subspan(start_ + kFrameHeaderSize, h->length);
  f.payload.assign(payload.begin(), payload.end());
  start_ += kFrameHeaderSize + std::size_t{h->length};
  if (start_ == buf_.size()) {
    if (buf_.capacity() > kKeepCapacity) {
      Bytes().swap(buf_);
    } else {
      buf_.clear();
    }
    start_ = 0;
    cursor_ = 0;
  }
  return std::optional<RawFrame>(std::move(f));
}

}  // namespace cheese::net
