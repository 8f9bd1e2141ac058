// What every peer socket gets, so a dead link is noticed in seconds (docs/protocol.md).
#include <coroutine>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <boost/asio.hpp>
#include <catch2/catch.hpp>

#include "daemon/net/connection.hpp"

using namespace cheese;

namespace {

int get_int_option(tcp::socket& s, int level, int name) {
  int value = 0;
  socklen_t size = sizeof value;
  REQUIRE(::getsockopt(s.native_handle(), level, name, &value, &size) == 0);
  return value;
}

}  // namespace

TEST_CASE("peer sockets get keepalive probes and a user timeout", "[daemon][net][connection]") {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  for (tcp::socket* s : {&client, &server}) {
    CHECK(get_int_option(*s, SOL_SOCKET, SO_KEEPALIVE) == 0);  // the kernel's default: off
    REQUIRE(configure_peer_socket(*s));
    CHECK(get_int_option(*s, SOL_SOCKET, SO_KEEPALIVE) == 1);
    CHECK(get_int_option(*s, IPPROTO_TCP, TCP_NODELAY) == 1);
    CHECK(get_int_option(*s, IPPROTO_TCP, TCP_KEEPIDLE) == kTcpKeepaliveIdle.count());
    CHECK(get_int_option(*s, IPPROTO_TCP, TCP_KEEPINTVL) == kTcpKeepaliveInterval.count());
    CHECK(get_int_option(*s, IPPROTO_TCP, TCP_KEEPCNT) == kTcpKeepaliveProbes);
    CHECK(get_int_option(*s, IPPROTO_TCP, TCP_USER_TIMEOUT) == kTcpUserTimeout.count() * 1000);
  }
}
