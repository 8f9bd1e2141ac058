#pragma once

// The tracker's table of live nodes. Pure bookkeeping: no sockets, no clock (times come in as
// arguments), so the rules (ownership, limits, listing after a connect-back, expiry, weighted
// sampling over network groups) are unit-testable. Ids and secrets come from libsodium's CSPRNG.

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
#include "net/protocol.hpp"

namespace cheese::tracker {

using Clock = std::chrono::steady_clock;

//! Every this many free inbound slots double a node's weight in `peers` answers, so the answers
//! go mostly to the least-connected nodes and no node's inbound slots fill up (docs/performance.md,
//! "Tracker spread": at 1,000 nodes the busiest has 16-18 inbound of 54, against 50-54 when uniform).
inline constexpr double kFreeSlotsPerWeightDoubling = 2.0;
//! Free slots beyond this weigh no more (cheesed's default inbound slots): a node that claims a
//! huge `max_inbound` is at most as likely as a fresh honest node, not certain to be in every answer.
inline constexpr std::uint16_t kMaxWeightedFreeSlots = 54;

//! One registered node.
struct Entry {
  std::uint64_t node_id = 0;
  Network network = Network::kMain;
  net::NetAddress address;       //!< observed ip, announced listen port (0 = not listening)
  std::uint64_t nonce = 0;       //!< the node's version nonce
  std::uint64_t connection = 0;  //!< the tracker connection that registered it
  net::TrackerSecret secret{};   //!< what heartbeat and deregister must present
  Clock::time_point last_seen;   //!< registration or last heartbeat
  std::int64_t last_seen_unix = 0;
  std::uint16_t inbound = 0;      //!< as last reported by the node
  std::uint16_t max_inbound = 0;  //!< as last reported by the node
  bool listed = false;            //!< the last connect-back completed a version handshake
  bool checking = false;          //!< a connect-back is running
  Clock::time_point next_check;   //!< when the next connect-back is due

  //! Inbound slots the node has left (0 when it reported none).
  std::uint16_t free_slots() const { return max_inbound > inbound ? max_inbound - inbound : 0; }
};

enum class RegisterError {
  kTooManyFromIp,  //!< -maxperip registrations from this IP already
  kFull,           //!< -maxentries registrations in all
  kNonceInUse,     //!< a live registration of another connection has this node nonce
  kAddressInUse,   //!< a live registration of another connection has this ip:listen_port
};
std::string_view to_string(RegisterError e);
net::TrackerErrorCode error_code(RegisterError e);

struct RegisterRequest {
  Network network = Network::kMain;
  net::NetAddress address;  //!< observed ip, announced listen port
  std::uint64_t nonce = 0;
  std::uint64_t connection = 0;
  std::uint16_t inbound = 0;
  std::uint16_t max_inbound = 0;
};

struct RegisterResult {
  std::optional<Entry> entry;   //!< the new registration, when accepted
  std::vector<Entry> replaced;  //!< the earlier registration of the same connection
  std::optional<RegisterError> error;
};

//! What a heartbeat or deregister with an id and a secret finds.
enum class OwnerCheck { kOk, kUnknownId, kBadSecret };

class Registry {
 public:
  struct Limits {
    std::size_t max_entries = 10'000;
    std::size_t max_per_ip = 4;
    std::size_t max_per_group = 2;  //!< entries of one network group in one sample
  };

  explicit Registry(Limits limits, std::uint64_t seed);

  //! Records a node. Replaces an earlier registration of the same connection (its owner); refuses
  //! one whose nonce or listening ip:port a live registration of another connection holds (so a
  //! third party cannot unlist a node); then checks the limits. The id is fresh, random, never 0;
  //! the secret is 128 random bits. The entry is not listed until mark_checked(ok).
  RegisterResult register_node(const RegisterRequest& req, Clock::time_point now, std::int64_t now_unix);
  //! Refreshes a registration and its inbound counts when the secret matches.
  OwnerCheck heartbeat(std::uint64_t node_id, const net::TrackerSecret& secret, std::uint16_t inbound,
                       std::uint16_t max_inbound, Clock::time_point now, std::int64_t now_unix);
  //! Removes a registration when the secret matches; the removed entry in `removed`.
  OwnerCheck deregister(std::uint64_t node_id, const net::TrackerSecret& secret, Entry* removed = nullptr);
  //! Removes the registration `node_id` if it belongs to `connection` (the connection closed).
  std::optional<Entry> remove_connection_entry(std::uint64_t node_id, std::uint64_t connection);
  //! Removes and returns every registration whose last heartbeat is older than `timeout`.
  std::vector<Entry> expire(Clock::time_point now, Clock::duration timeout);

  //! Up to `max` listening registrations whose connect-back is due, marked as being checked.
  std::vector<Entry> take_due_checks(Clock::time_point now, std::size_t max);
  //! Records a connect-back's result: listed = ok, the next check at `next`. The entry's previous
  //! listed state, or nothing when the registration is gone (or was replaced meanwhile).
  std::optional<bool> mark_checked(std::uint64_t node_id, bool ok, Clock::time_point next);

  //! Up to `max` distinct listed nodes of `network`, never the registration `exclude_id` nor any
  //! with nonce `exclude_nonce` (0 = none), at most Limits::max_per_group of one network group.
  //! Weighted random: each kFreeSlotsPerWeightDoubling free inbound slots (up to
  //! kMaxWeightedFreeSlots) double the weight.
  std::vector<Entry> sample(Network network, std::size_t max, std::uint64_t exclude_id, std::uint64_t exclude_nonce);

  const Entry* find(std::uint64_t node_id) const;
  std::size_t size() const { return entries_.size(); }
  std::size_t count(Network network) const;
  std::size_t count_listed(Network network) const;
  std::size_t count_ip(const net::IpBytes& ip) const;
  const Limits& limits() const { return limits_; }

 private:
  void erase(std::unordered_map<std::uint64_t, Entry>::iterator it);
  std::uint64_t fresh_id() const;
  std::optional<RegisterError> conflict(const RegisterRequest& req) const;

  Limits limits_;
  std::mt19937_64 rng_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::map<net::IpBytes, std::size_t> per_ip_;
  std::map<Network, std::size_t> per_network_;
};

}  // namespace cheese::tracker
