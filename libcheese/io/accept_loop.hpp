#pragma once

#include <coroutine>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>

namespace cheese::io {

//! How long accept_loop waits after a transient accept error (e.g. EMFILE) before trying again.
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

//! Accepts until the acceptor is closed (returns then); transient errors (e.g. EMFILE) wait 100 ms and go on.
//! Also returns when the awaiting coroutine is cancelled. The acceptor must outlive the loop.
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor,
                                         std::function<void(boost::asio::ip::tcp::socket)> on_accept);

}  // namespace cheese::io
