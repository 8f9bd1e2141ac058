#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "consensus/params.hpp"
#include "io/frame_reader.hpp"
#include "io_test_util.hpp"
#include "net/protocol.hpp"

using namespace cheese;
using namespace cheese::io;
using namespace cheese::io::test;
using namespace std::chrono_literals;

namespace {

using ReadResult = Result<net::RawFrame, FrameReadError>;

const NetworkMagic& regtest_magic() { return chain_params(Network::kRegtest).magic; }
const NetworkMagic& main_magic() { return chain_params(Network::kMain).magic; }

//! Writes `bytes` in pieces at the given offsets, letting the reader run between them.
asio::awaitable<void> write_in_pieces(tcp::socket& s, Bytes bytes, std::vector<std::size_t> cuts) {
  std::size_t from = 0;
  cuts.push_back(bytes.size());
  for (std::size_t to : cuts) {
    co_await asio::async_write(s, asio::buffer(bytes.data() + from, to - from), asio::use_awaitable);
    from = to;
    asio::steady_timer pause(s.get_executor(), 2ms);
    co_await pause.async_wait(asio::use_awaitable);
  }
}

//! Reads `count` results (frames or errors) into `out`.
asio::awaitable<void> read_results(FrameReader& reader, std::size_t count, std::vector<ReadResult>& out) {
  for (std::size_t i = 0; i < count; ++i) out.push_back(co_await reader.next());
}

struct Fixture {
  asio::io_context io;
  SocketPair pair{io};
  std::vector<ReadResult> results;
  bool read_done = false, write_done = false;
  std::exception_ptr read_error, write_error;

  void read(FrameReader& reader, std::size_t count) {
    asio::co_spawn(io, read_results(reader, count, results), Record{&read_done, &read_error});
  }
  void write(Bytes bytes, std::vector<std::size_t> cuts = {}) {
    asio::co_spawn(io, write_in_pieces(pair.a, std::move(bytes), std::move(cuts)), Record{&write_done, &write_error});
  }
  bool run() {
    return run_until(
               io, [this] { return read_done; }, 10s) &&
           !read_error;
  }
};

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("frame reader reads frames split across writes, then eof as kClosed", "[io][frame_reader]") {
  Fixture f;
  const Bytes big(100'000, 0x5a);
  const Bytes ping = net::encode_frame(regtest_magic(), net::PingMsg{7});
  const Bytes pong = net::encode_frame(regtest_magic(), net::PongMsg{8});
  const Bytes block = net::encode_raw_frame(regtest_magic(), "block", big);
  // Cuts inside the first header, at its end, inside a payload, across two frames.
  f.write(concat({ping, pong, block}), {1, 5, 23, 24, 30, ping.size() + 3, ping.size() + pong.size() + 40, 70'000});
  FrameReader reader(f.pair.b, regtest_magic());
  f.read(reader, 3);
  REQUIRE(f.run());
  REQUIRE(f.results.size() == 3);
  for (const auto& r : f.results) REQUIRE(r.has_value());
  CHECK(f.results[0]->command == "ping");
  CHECK(net::decode_message("ping", f.results[0]->payload).value() == net::Message{net::PingMsg{7}});
  CHECK(f.results[1]->command == "pong");
  CHECK(f.results[2]->command == "block");
  CHECK(f.results[2]->magic == regtest_magic());
  CHECK(f.results[2]->payload == big);
  CHECK(reader.buffered() == 0);
  CHECK(reader.bytes_read() == ping.size() + pong.size() + block.size());

  // The writer closes: eof, and eof again (a dead stream stays dead).
  REQUIRE(run_until(
      f.io, [&] { return f.write_done; }, 5s));
  f.pair.a.close();
  f.read_done = false;
  f.results.clear();
  f.read(reader, 2);
  REQUIRE(f.run());
  for (const auto& r : f.results) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == FrameReadError::kClosed);
    CHECK(r.error().message() == "connection closed");
  }
}

TEST_CASE("frame reader rejects a bad magic before reading the payload", "[io][frame_reader]") {
  Fixture f;
  const Bytes payload(1024 * 1024, 1);
  const Bytes good = net::encode_frame(regtest_magic(), net::PingMsg{1});
  // The frame before the bad one is still returned, then the error, forever.
  f.write(concat({good, net::encode_raw_frame(main_magic(), "block", payload)}));
  FrameReader reader(f.pair.b, regtest_magic());
  f.read(reader, 3);
  REQUIRE(f.run());
  REQUIRE(f.results[0].has_value());
  CHECK(f.results[0]->command == "ping");
  for (std::size_t i = 1; i < 3; ++i) {
    REQUIRE_FALSE(f.results[i].has_value());
    CHECK(f.results[i].error().kind == FrameReadError::kFrame);
    CHECK(f.results[i].error().frame == net::FrameError::kBadMagic);
  }
  CHECK(f.results[1].error().message() == "bad frame: " + std::string(net::to_string(net::FrameError::kBadMagic)));
  CHECK(reader.bytes_read() <= FrameReader::kMaxReadChunk);
  CHECK(reader.bytes_read() < payload.size());
}

TEST_CASE("frame reader rejects an oversized length before reading the payload", "[io][frame_reader]") {
  Fixture f;
  FrameReader reader(f.pair.b, regtest_magic());
  std::uint32_t announced = 0;
  std::size_t limit_read = 0;
  SECTION("above the protocol's limit") {
    announced = net::kMaxPayloadSize + 1;
    limit_read = FrameReader::kMaxReadChunk;
  }
  SECTION("above a lower limit set by the program") {
    reader.set_max_payload(4096);
    announced = 10'000;
    limit_read = net::kFrameHeaderSize + 4096;
  }
  net::FrameHeader h;
  h.magic = regtest_magic();
  h.command = "block";
  h.length = announced;
  const auto header = net::encode_frame_header(h);
  Bytes bytes(header.begin(), header.end());
  bytes.resize(bytes.size() + 200'000, 2);  // a flood of payload after the header
  f.write(bytes);
  f.read(reader, 1);
  REQUIRE(f.run());
  REQUIRE_FALSE(f.results[0].has_value());
  CHECK(f.results[0].error().kind == FrameReadError::kFrame);
  CHECK(f.results[0].error().frame == net::FrameError::kOversized);
  CHECK(reader.bytes_read() <= limit_read);
}

TEST_CASE("frame reader reports a bad checksum and accepts several networks", "[io][frame_reader]") {
  Fixture f;
  Bytes bad = net::encode_frame(main_magic(), net::PingMsg{3});
  bad.back() ^= 1;
  f.write(concat(
      {net::encode_frame(main_magic(), net::PingMsg{1}), net::encode_frame(regtest_magic(), net::PingMsg{2}), bad}));
  const auto magics = net::all_network_magics();
  FrameReader reader(f.pair.b, std::span<const NetworkMagic>(magics));
  f.read(reader, 3);
  REQUIRE(f.run());
  REQUIRE(f.results[0].has_value());
  CHECK(f.results[0]->magic == main_magic());
  REQUIRE(f.results[1].has_value());
  CHECK(f.results[1]->magic == regtest_magic());
  REQUIRE_FALSE(f.results[2].has_value());
  CHECK(f.results[2].error().frame == net::FrameError::kBadChecksum);
}

TEST_CASE("frame reader parses bytes handed in before it reads", "[io][frame_reader]") {
  Fixture f;
  const Bytes frame = net::encode_frame(regtest_magic(), net::PongMsg{9});
  // A sniffer already read the first 4 bytes (the magic).
  f.write(Bytes(frame.begin() + 4, frame.end()));
  FrameReader reader(f.pair.b, regtest_magic());
  reader.prepend(ByteSpan(frame).first(4));
  CHECK(reader.buffered() == 4);
  f.read(reader, 1);
  REQUIRE(f.run());
  REQUIRE(f.results[0].has_value());
  CHECK(f.results[0]->command == "pong");
  CHECK(reader.bytes_read() == frame.size() - 4);
}

TEST_CASE("frame reader reports a socket error as kSocket", "[io][frame_reader]") {
  Fixture f;
  FrameReader reader(f.pair.b, regtest_magic());
  f.read(reader, 1);
  run_until(
      f.io, [] { return false; }, 20ms);
  f.pair.b.cancel();
  REQUIRE(f.run());
  REQUIRE_FALSE(f.results[0].has_value());
  CHECK(f.results[0].error().kind == FrameReadError::kSocket);
  CHECK(f.results[0].error().ec == asio::error::operation_aborted);
}
