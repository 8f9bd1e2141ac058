// PeerManager's own addresses (docs/protocol.md 7.6): what it advertises in `version`
// (addr_from) and in its self-announcements, and where an inbound peer asks to be dialled.
#include <algorithm>
#include "daemon/net/peer_manager.hpp"

#include "util/log.hpp"

namespace cheese {

std::optional<net::NetAddress> PeerManager::our_address_for(const PeerState& p) const {
  if (!options_.listen || listen_port_ == 0 || !options_.local_addresses) return std::nullopt;
  return options_.local_addresses->best_for(p.address);
}

net::NetAddress PeerManager::inbound_listen_address(PeerState& p, const net::VersionMsg& m) {
  net::NetAddress listen = p.address;
  listen.port = m.listen_port;
  if (!m.addr_from || !acceptable_address(*m.addr_from)) return listen;
  // Another IP than the connection's is a claim like an unsolicited `addr` entry: it takes the
  // address token a peer starts with, so its first `addr` then waits for the refill.
  if (m.addr_from->ip != p.address.ip) p.addr_tokens = std::max(0.0, p.addr_tokens - 1);
  net::NetAddress from = p.address;
  from.ip = m.addr_from->ip;
  from.port = m.addr_from->port;
  return from;
}

void PeerManager::announce_self(PeerState& p, std::chrono::steady_clock::time_point now) {
  p.next_self_announce = now + kSelfAnnounceInterval;
  auto self = our_address_for(p);
  if (!self) return;
  self->time = clock_.unix_now();
  self->services = net::kServiceNetwork;
  log_debug("net", "peer {}: announcing our address {}", p.id, self->to_string());
  sink_.send(p.id, net::AddrMsg{{*self}});
}

}  // namespace cheese
