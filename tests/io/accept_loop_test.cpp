#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include <vector>

#include "io/accept_loop.hpp"
#include "io/task_group.hpp"
#include "io_test_util.hpp"

using namespace cheese::io;
using namespace cheese::io::test;
using namespace std::chrono_literals;

TEST_CASE("accept_loop accepts N connections and returns when the acceptor closes", "[io][accept_loop]") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  constexpr std::size_t kClients = 5;
  std::vector<tcp::socket> accepted;
  bool returned = false;
  std::exception_ptr error;
  asio::co_spawn(io,
                 accept_loop(acceptor,
                             [&](tcp::socket s) {
                               accepted.push_back(std::move(s));
                               if (accepted.size() == kClients) acceptor.close();
                             }),
                 Record{&returned, &error});
  std::vector<tcp::socket> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.emplace_back(io);
    clients.back().connect(acceptor.local_endpoint());
  }
  REQUIRE(run_until(
      io, [&] { return returned; }, 5s));
  CHECK_FALSE(error);
  CHECK(accepted.size() == kClients);
  for (const auto& s : accepted) CHECK(s.is_open());
}

TEST_CASE("accept_loop returns when its task group is closed", "[io][accept_loop]") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  TaskGroup group(io.get_executor());
  std::size_t accepted = 0;
  REQUIRE(group.spawn("accept loop", accept_loop(acceptor, [&](tcp::socket) { ++accepted; })));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  REQUIRE(run_until(
      io, [&] { return accepted == 1; }, 5s));
  group.close();
  bool joined = false;
  std::exception_ptr error;
  asio::co_spawn(io, group.join(), Record{&joined, &error});
  REQUIRE(run_until(
      io, [&] { return joined; }, 5s));
  CHECK(acceptor.is_open());  // cancelled, not closed
}
