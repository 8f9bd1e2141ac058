// cheese-tracker's options (cheese-tracker -help).
#include <fmt/format.h>

#include <algorithm>

#include "tracker_server.hpp"

namespace cheese::tracker {

std::chrono::seconds TrackerOptions::heartbeat_interval() const {
  return std::max(std::chrono::seconds(1), heartbeat_timeout / net::kTrackerMissedHeartbeats);
}

std::vector<OptionSpec> tracker_option_specs() {
  using K = OptionSpec::Kind;
  return {
      {"help", K::kFlag, "", "Print this help and exit (also -h, -?)"},
      {"h", K::kFlag, "", "Same as -help"},
      {"?", K::kFlag, "", "Same as -help"},
      {"port", K::kInt, std::to_string(net::kDefaultTrackerPort), "TCP port to listen on (0: any free port)"},
      {"bind", K::kString, "0.0.0.0", "Address to listen on (IPv4 or IPv6, e.g. 127.0.0.1 or ::)"},
      {"heartbeattimeout", K::kInt, std::to_string(kDefaultHeartbeatTimeoutSeconds),
       "Seconds without a heartbeat after which a node is forgotten; nodes are asked to send one every "
       "timeout/3 seconds"},
      {"idletimeout", K::kInt, std::to_string(kDefaultIdleTimeoutSeconds),
       "Seconds a connection may stay silent before it is closed (must exceed the heartbeat interval)"},
      {"maxentries", K::kInt, std::to_string(kDefaultMaxEntries), "Maximum registered nodes, all networks together"},
      {"maxperip", K::kInt, std::to_string(kDefaultMaxPerIp), "Maximum registered nodes per source IP"},
      {"maxpergroup", K::kInt, std::to_string(kDefaultMaxPerGroup),
       "Maximum nodes of one network group (/16 IPv4, /32 IPv6) in one peers answer"},
      {"recheckinterval", K::kInt, std::to_string(kDefaultRecheckIntervalSeconds),
       "Seconds between connect-back checks of a registered node (a failed check unlists it)"},
      {"trustedproxy", K::kList, "",
       "A fronting proxy (CIDR, e.g. 10.0.0.5 or 10.0.0.0/24; repeatable) whose connections may start with a "
       "PROXY protocol v1 line naming the node's address; a PROXY line from anyone else is refused"},
      {"trustclaimedaddr", K::kFlag, "0", "Removed: use -trustedproxy=<CIDR> (an error if given)"},
      {"printtoconsole", K::kFlag, "1", "Write the log to standard output"},
      {"debug", K::kFlag, "0", "Log every message received"},
  };
}

std::optional<std::string> parse_tracker_options(int argc, const char* const* argv, TrackerOptions& out, bool& help) {
  Args args(tracker_option_specs());
  if (auto err = args.parse_command_line(argc, argv)) return err;
  for (const auto& p : args.positional()) {
    return fmt::format("unexpected argument '{}' (options start with '-'; see cheese-tracker -help)", p);
  }
  help = args.get_bool("help") || args.get_bool("h") || args.get_bool("?");
  if (help) return std::nullopt;
  const std::int64_t port = args.get_int("port", net::kDefaultTrackerPort);
  if (port < 0 || port > 65535) return fmt::format("invalid -port={}: a port is 0..65535", port);
  out.port = static_cast<std::uint16_t>(port);
  out.bind = args.get_string("bind", "0.0.0.0");
  boost::system::error_code ec;
  asio::ip::make_address(out.bind, ec);
  if (ec) return fmt::format("invalid -bind={}: give a numeric IPv4 or IPv6 address", out.bind);
  const std::int64_t hb = args.get_int("heartbeattimeout", kDefaultHeartbeatTimeoutSeconds);
  if (hb < 1 || hb > 86400) return fmt::format("invalid -heartbeattimeout={}: use 1..86400 seconds", hb);
  out.heartbeat_timeout = std::chrono::seconds(hb);
  const std::int64_t idle = args.get_int("idletimeout", kDefaultIdleTimeoutSeconds);
  if (idle < 1 || idle > 86400) return fmt::format("invalid -idletimeout={}: use 1..86400 seconds", idle);
  out.idle_timeout = std::chrono::seconds(idle);
  if (out.idle_timeout <= out.heartbeat_interval()) {
    return fmt::format(
        "-idletimeout={} must exceed the heartbeat interval ({} s = -heartbeattimeout/3), or live "
        "nodes would be dropped between heartbeats",
        idle, out.heartbeat_interval().count());
  }
  const std::int64_t max_entries = args.get_int("maxentries", static_cast<std::int64_t>(kDefaultMaxEntries));
  if (max_entries < 1 || max_entries > 10'000'000) return fmt::format("invalid -maxentries={}", max_entries);
  out.max_entries = static_cast<std::size_t>(max_entries);
  const std::int64_t per_ip = args.get_int("maxperip", static_cast<std::int64_t>(kDefaultMaxPerIp));
  if (per_ip < 1 || per_ip > 10'000'000) return fmt::format("invalid -maxperip={}", per_ip);
  out.max_per_ip = static_cast<std::size_t>(per_ip);
  const std::int64_t per_group = args.get_int("maxpergroup", static_cast<std::int64_t>(kDefaultMaxPerGroup));
  if (per_group < 1 || per_group > static_cast<std::int64_t>(net::kMaxTrackerPeers)) {
    return fmt::format("invalid -maxpergroup={}: use 1..{}", per_group, net::kMaxTrackerPeers);
  }
  out.max_per_group = static_cast<std::size_t>(per_group);
  const std::int64_t recheck = args.get_int("recheckinterval", kDefaultRecheckIntervalSeconds);
  if (recheck < 1 || recheck > 86400)
    return fmt::format("invalid -recheckinterval={}: use 1..86400 seconds", recheck);
  out.recheck_interval = std::chrono::seconds(recheck);
  if (args.get_bool("trustclaimedaddr")) {
    return "-trustclaimedaddr was removed: it trusted a PROXY line from anyone. Name your proxies with "
           "-trustedproxy=<CIDR> (repeatable), e.g. -trustedproxy=10.0.0.5";
  }
  for (const auto& text : args.get_list("trustedproxy")) {
    auto cidr = Cidr::parse(text);
    if (!cidr) return fmt::format("invalid -trustedproxy={}: give an IP or CIDR, e.g. 10.0.0.5 or 10.0.0.0/24", text);
    out.trusted_proxies.push_back(*cidr);
  }
  out.print_to_console = args.get_bool("printtoconsole", true);
  out.debug = args.get_bool("debug");
  return std::nullopt;
}

}  // namespace cheese::tracker
