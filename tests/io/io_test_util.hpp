#pragma once

// Helpers of the io tests: every wait is bounded.

#include <coroutine>

#include <boost/asio.hpp>

#include <chrono>
#include <exception>
#include <functional>

namespace cheese::io::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

//! Runs `io` until `done()` or `timeout`; returns done().
inline bool run_until(asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return done();
}

//! A connected pair of loopback sockets (127.0.0.1 only).
struct SocketPair {
  explicit SocketPair(asio::io_context& io) : a(io), b(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    a.connect(acceptor.local_endpoint());
    b = acceptor.accept();
  }
  tcp::socket a;  //!< the writing side in the tests
  tcp::socket b;  //!< the reading side
};

//! A completion handler for co_spawn that records the outcome (tests use no `detached`).
struct Record {
  bool* done;
  std::exception_ptr* error;
  void operator()(std::exception_ptr e) const {
    *done = true;
    *error = std::move(e);
  }
};

}  // namespace cheese::io::test
