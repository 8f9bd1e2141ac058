#pragma once

// The tracker's table of live nodes. Pure bookkeeping: no sockets, no clock (times come in as
// arguments), so the rules (limits, replacement, expiry, random sampling) are unit-testable.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "consensus/params.hpp"
#include "net/address.hpp"

namespace cheese::tracker {

using Clock = std::chrono::steady_clock;

//! One registered node.
struct Entry {
  std::uint64_t node_id = 0;
  Network network = Network::kMain;
  net::NetAddress address;       //!< observed ip, announced listen port (0 = not listening)
  std::uint64_t nonce = 0;       //!< the node's version nonce
  std::uint64_t connection = 0;  //!< the tracker connection that registered it
  Clock::time_point last_seen;   //!< registration or last heartbeat
  std::int64_t last_seen_unix = 0;
};

enum class RegisterError {
  kTooManyFromIp,  //!< -maxperip registrations from this IP already
  kFull,           //!< -maxentries registrations in all
};
std::string_view to_string(RegisterError e);

struct RegisterResult {
  std::optional<Entry> entry;   //!< the new registration, when accepted
  std::vector<Entry> replaced;  //!< earlier registrations it replaced
  std::optional<RegisterError> error;
};

class Registry {
 public:
  struct Limits {
    std::size_t max_entries = 10'000;
    std::size_t max_per_ip = 64;
  };

  explicit Registry(Limits limits, std::uint64_t seed);

  //! Records a node. Replaces an earlier registration of the same connection, of the same
  //! (network, ip, listen_port) when listening, and of the same (network, nonce); then checks the
  //! limits. The node id is fresh and random (never 0, never reused while live).
  RegisterResult register_node(Network network, const net::NetAddress& address, std::uint64_t nonce,
                               std::uint64_t connection, Clock::time_point now, std::int64_t now_unix);
  //! Refreshes a registration; false when the id is unknown (expired, replaced, tracker restarted).
  bool heartbeat(std::uint64_t node_id, Clock::time_point now, std::int64_t now_unix);
  //! Removes the registration `node_id` if it belongs to `connection` (the connection closed).
  std::optional<Entry> remove_connection_entry(std::uint64_t node_id, std::uint64_t connection);
  //! Removes and returns every registration whose last heartbeat is older than `timeout`.
  std::vector<Entry> expire(Clock::time_point now, Clock::duration timeout);
  //! Up to `max` distinct random listening nodes of `network`, never the registration
  //! `exclude_id` nor any registration with nonce `exclude_nonce` (0 = none).
  std::vector<Entry> sample(Network network, std::size_t max, std::uint64_t exclude_id, std::uint64_t exclude_nonce);

  const Entry* find(std::uint64_t node_id) const;
  std::size_t size() const { return entries_.size(); }
  std::size_t count(Network network) const;
  std::size_t count_ip(const net::IpBytes& ip) const;

 private:
  void erase(std::unordered_map<std::uint64_t, Entry>::iterator it);
  std::uint64_t fresh_id();

  Limits limits_;
  std::mt19937_64 rng_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::map<net::IpBytes, std::size_t> per_ip_;
  std::map<Network, std::size_t> per_network_;
};

}  // namespace cheese::tracker
