#pragma once

// The tracker's connect-back: before a registration is handed out, the tracker dials the claimed
// ip:listen_port and completes the first half of a `version` handshake on the registration's
// network (docs/protocol.md 8.1). Runs as a coroutine on the tracker's io_context.

#include <coroutine>

#include <boost/asio.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "consensus/params.hpp"
#include "net/address.hpp"

namespace cheese::tracker {

//! A connect-back that has not received the node's `version` within this time fails.
inline constexpr std::chrono::seconds kConnectBackTimeout{5};
//! Connect-backs running at once; more due checks wait for the next round.
inline constexpr std::size_t kMaxConcurrentConnectBacks = 16;
//! A listed node is checked again this often by default (-recheckinterval); a failure unlists it,
//! and an unlisted one is retried as often.
inline constexpr std::int64_t kDefaultRecheckIntervalSeconds = 10 * 60;
//! The user agent the tracker announces in its `version`.
inline constexpr const char* kTrackerUserAgent = "/cheese-tracker:0.2.0/";

struct ConnectBackResult {
  bool ok = false;
  std::string why;  //!< why not, for the log
};

//! Dials `address`, sends `version` with `network`'s magic and waits for the node's `version`:
//! the same magic, the same network name, and `nonce` as its nonce (the one it registered).
//! Never throws; closes the connection before returning.
boost::asio::awaitable<ConnectBackResult> connect_back(Network network, net::NetAddress address, std::uint64_t nonce,
                                                       std::chrono::milliseconds timeout);

}  // namespace cheese::tracker
