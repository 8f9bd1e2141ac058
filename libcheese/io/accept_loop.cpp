#include "io/accept_loop.hpp"

#include <coroutine>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cheese::io {

namespace asio = boost::asio;

asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor,
                                  std::function<void(asio::ip::tcp::socket)> on_accept) {
  while (acceptor.is_open()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors and the like: back off instead of spinning.
      asio::steady_timer delay(acceptor.get_executor(), kAcceptRetryDelay);
      auto [wait_ec] = co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
      if (wait_ec == asio::error::operation_aborted) co_return;
      continue;
    }
    on_accept(std::move(socket));
  }
}

}  // namespace cheese::io
