#include "daemon/net/anchors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "util/log.hpp"

namespace cheese {

std::vector<net::NetAddress> read_anchors(const std::filesystem::path& file) {
  std::vector<net::NetAddress> out;
  std::ifstream in(file);
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  in.close();
  std::error_code removed;
  std::filesystem::remove(file, removed);
  boost::system::error_code ec;
  const auto v = boost::json::parse(ss.str(), ec);
  if (ec || !v.is_array()) {
    log_info("Anchors file {} is unreadable; ignored", file.string());
    return out;
  }
  for (const auto& e : v.as_array()) {
    if (out.size() == kMaxAnchors) break;
    if (!e.is_string()) continue;
    auto parsed = net::NetAddress::parse_endpoint(std::string_view(e.as_string()), 0);
    if (!parsed || parsed->port == 0 || parsed->is_unspecified()) continue;
    out.push_back(*parsed);
  }
  return out;
}

bool write_anchors(const std::filesystem::path& file, const std::vector<net::NetAddress>& anchors) {
  if (anchors.empty()) return true;
  boost::json::array arr;
  for (std::size_t i = 0; i < anchors.size() && i < kMaxAnchors; ++i) arr.emplace_back(anchors[i].to_string());
  const std::string text = boost::json::serialize(arr);
  const std::string tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, file, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

}  // namespace cheese
