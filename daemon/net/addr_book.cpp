#include "daemon/net/addr_book.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "util/log.hpp"

namespace cheese {

void AddressBook::add(const net::NetAddress& a, std::string_view source, std::int64_t now) {
  if (a.port == 0 || a.is_unspecified()) return;
  const std::string key = a.to_string();
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.addr.time = std::max(it->second.addr.time, a.time ? a.time : now);
    return;
  }
  if (entries_.size() >= kMaxAddrBookEntries) {
    // Forget the entry that failed most (or the oldest) to make room.
    auto worst = std::max_element(entries_.begin(), entries_.end(), [](const auto& x, const auto& y) {
      return std::tie(x.second.failures, y.second.addr.time) < std::tie(y.second.failures, x.second.addr.time);
    });
    entries_.erase(worst);
  }
  Entry e;
  e.addr = a;
  if (e.addr.time == 0) e.addr.time = now;
  e.source = std::string(source);
  entries_.emplace(key, e);
}

void AddressBook::mark_attempt(const net::NetAddress& a, std::int64_t now) {
  if (auto it = entries_.find(a.to_string()); it != entries_.end()) {
    it->second.last_try = now;
    it->second.failures += 1;
  }
}

void AddressBook::mark_success(const net::NetAddress& a, std::int64_t now) {
  if (auto it = entries_.find(a.to_string()); it != entries_.end()) {
    it->second.last_success = now;
    it->second.failures = 0;
    it->second.addr.time = now;
  }
}

void AddressBook::remove(const net::NetAddress& a) { entries_.erase(a.to_string()); }

std::optional<net::NetAddress> AddressBook::select(const std::set<std::string>& exclude, std::int64_t now,
                                                   std::mt19937_64& rng) const {
  std::vector<const Entry*> ready;
  for (const auto& [key, e] : entries_) {
    if (exclude.contains(key)) continue;
    // Exponential backoff: 2, 4, 8 ... seconds after each failure, at most 10 minutes.
    const std::int64_t backoff = e.failures == 0
                                     ? 0
                                     : std::min<std::int64_t>(600, std::int64_t{1} << std::min(e.failures, 10));
    if (now - e.last_try < backoff) continue;
    ready.push_back(&e);
  }
  if (ready.empty()) return std::nullopt;
  return ready[std::uniform_int_distribution<std::size_t>(0, ready.size() - 1)(rng)]->addr;
}

std::vector<net::NetAddress> AddressBook::sample(std::size_t max, std::mt19937_64& rng) const {
  std::vector<net::NetAddress> all;
  for (const auto& [k, e] : entries_) all.push_back(e.addr);
  std::shuffle(all.begin(), all.end(), rng);
  if (all.size() > max) all.resize(max);
  return all;
}

std::vector<net::NetAddress> AddressBook::sample_for(const net::NetAddress& asker, std::size_t max, int dead_failures,
                                                     std::mt19937_64& rng) const {
  std::vector<net::NetAddress> out;
  for (const auto& [k, e] : entries_) {
    if (e.failures >= dead_failures) continue;
    // On loopback every node shares one IP: there only the asker's own endpoints are left out.
    if (asker.is_loopback() ? e.addr.ip == asker.ip && e.addr.port == asker.port : e.addr.ip == asker.ip) continue;
    out.push_back(e.addr);
  }
  std::shuffle(out.begin(), out.end(), rng);
  if (out.size() > max) out.resize(max);
  return out;
}

void AddressBook::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  auto v = boost::json::parse(ss.str(), ec);
  if (ec || !v.is_array()) {
    log_info("Address book {} is unreadable; starting with an empty one", file.string());
    return;
  }
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) continue;
    const auto& o = e.as_object();
    const auto* addr = o.if_contains("addr");
    if (!addr || !addr->is_string()) continue;
    auto parsed = net::NetAddress::parse_endpoint(std::string_view(addr->as_string()), 0);
    if (!parsed || parsed->port == 0) continue;
    Entry entry;
    entry.addr = *parsed;
    if (const auto* t = o.if_contains("time"); t && t->is_int64()) entry.addr.time = t->as_int64();
    if (const auto* t = o.if_contains("last_success"); t && t->is_int64()) entry.last_success = t->as_int64();
    if (const auto* s = o.if_contains("source"); s && s->is_string()) entry.source = std::string(s->as_string());
    if (const auto* t = o.if_contains("last_try"); t && t->is_int64()) entry.last_try = t->as_int64();
    // Failures keep their backoff across restarts; a count out of range is taken as none.
    if (const auto* f = o.if_contains("failures");
        f && f->is_int64() && f->as_int64() >= 0 && f->as_int64() <= 1000) {
      entry.failures = static_cast<int>(f->as_int64());
    }
    entries_.emplace(entry.addr.to_string(), entry);
    if (entries_.size() >= kMaxAddrBookEntries) break;
  }
}

void AddressBook::save(const std::filesystem::path& file) const {
  boost::json::array arr;
  for (const auto& [key, e] : entries_) {
    arr.push_back(boost::json::object{{"addr", key},
                                      {"time", e.addr.time},
                                      {"last_success", e.last_success},
                                      {"source", e.source},
                                      {"last_try", e.last_try},
                                      {"failures", e.failures}});
  }
  const std::string text = boost::json::serialize(arr);
  const auto tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) {
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
  }
}

}  // namespace cheese
