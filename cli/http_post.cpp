// cheese-cli's one HTTP POST (Beast, with a deadline for the whole exchange).
// GCC 12: <coroutine> before Boost.Asio, or Asio's coroutine support fails to compile.
#include <coroutine>

// Asio's scheduler trips GCC 12's -Wnull-dereference after inlining, a false positive that
// system-header status does not silence.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#pragma GCC diagnostic pop
#include <fmt/format.h>

#include <string>

#include "cli_detail.hpp"

#ifndef CHEESE_VERSION
#define CHEESE_VERSION "unknown"
#endif

namespace cheese::cli::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::uint64_t kMaxReplyBytes = 256u << 20;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t group = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      group <<= 8;
      if (k < n) group |= static_cast<unsigned char>(in[i + k]);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 63u] : '=';
    }
  }
  return out;
}

//! Runs one asynchronous operation to completion (Beast's timeouts only apply to those).
template <typename Initiate>
boost::system::error_code run_op(asio::io_context& ioc, Initiate&& initiate) {
  boost::system::error_code result;
  initiate([&result](const boost::system::error_code& ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

}  // namespace

HttpReply http_post(const Endpoint& endpoint, const std::string& target, std::string_view user_pass, std::string body,
                    std::chrono::seconds timeout) {
  asio::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  const auto addresses = resolver.resolve(endpoint.host, std::to_string(endpoint.port),
                                          tcp::resolver::numeric_service, ec);
  if (ec) throw ConnectError(ec.message());

  beast::tcp_stream stream(ioc);
  if (timeout.count() > 0) stream.expires_after(timeout);
  ec = run_op(ioc, [&](auto handler) { stream.async_connect(addresses, std::move(handler)); });
  if (ec == beast::error::timeout) throw ConnectError(fmt::format("timed out after {} s", timeout.count()));
  if (ec) throw ConnectError(ec.message());

  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, endpoint.display());
  req.set(http::field::user_agent, "cheese-cli/" CHEESE_VERSION);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::accept, "application/json");
  req.set(http::field::authorization, "Basic " + base64(user_pass));
  req.keep_alive(false);
  req.body() = std::move(body);
  req.prepare_payload();

  const auto failed = [&](const boost::system::error_code& e) {
    if (e == beast::error::timeout) {
      return TransportError(
          fmt::format("no reply from {} within {} s (see -rpcclienttimeout)", endpoint.display(), timeout.count()));
    }
    if (e == http::error::end_of_stream || e == asio::error::eof) {
      return TransportError(fmt::format("the server {} closed the connection without a reply", endpoint.display()));
    }
    return TransportError(fmt::format("RPC request to {} failed: {}", endpoint.display(), e.message()));
  };
  ec = run_op(ioc, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
  if (ec) throw failed(ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxReplyBytes);
  ec = run_op(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) throw failed(ec);

  stream.socket().shutdown(tcp::socket::shutdown_both, ec);  // the reply is in; errors don't matter
  auto& res = parser.get();
  return {res.result_int(), std::move(res.body())};
}

}  // namespace cheese::cli::detail
