#pragma once

#include <filesystem>
#include <vector>

#include "net/address.hpp"

namespace cheese {

//! Block-relay-only peers saved at shutdown (anchors.json in the network's data directory) and
//! dialled first, as block-relay-only, at the next start (Bitcoin Core's MAX_BLOCK_RELAY_ONLY_ANCHORS):
//! a restarted node goes back to peers it had reasons to trust before its address book, which
//! an attacker may have filled, is consulted.
inline constexpr std::size_t kMaxAnchors = 2;

//! Reads the anchors file and deletes it (an anchor is tried once: a node that crashes does not
//! dial the same anchors again and again). Returns at most kMaxAnchors addresses; a missing file
//! gives none, an unreadable one none (logged), entries that are not "ip:port" with a port are
//! skipped.
std::vector<net::NetAddress> read_anchors(const std::filesystem::path& file);

//! Writes at most kMaxAnchors addresses as a JSON array of "ip:port" strings, atomically (temp
//! file, fsync, rename), mode 0600. No addresses: no file is written. False if writing failed.
bool write_anchors(const std::filesystem::path& file, const std::vector<net::NetAddress>& anchors);

}  // namespace cheese
