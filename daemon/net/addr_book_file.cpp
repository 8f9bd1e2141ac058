// peers.json: AddressBook::load and save. Version 2 is an object {"version": 2, "key": "<64 hex>",
// "entries": [...]}; version 1 (before the new/tried tables) a bare array of entries. Positions
// in the tables are never read from the file: each entry is placed again from the key.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "daemon/net/addr_book.hpp"
#include "primitives/bytes.hpp"
#include "util/log.hpp"

namespace cheese {

namespace {

//! A JSON integer as int64 (a uint64 above INT64_MAX is out of range).
std::optional<std::int64_t> as_int(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

std::optional<net::NetAddress> as_endpoint(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v || !v->is_string()) return std::nullopt;
  auto a = net::NetAddress::parse_endpoint(std::string_view(v->as_string()), 0);
  if (!a || a->port == 0 || a->is_unspecified()) return std::nullopt;
  return a;
}

//! One entry of either version; nullopt when its address is missing or bad. Other fields out of
//! range are taken as absent.
std::optional<AddressBook::Entry> parse_entry(const boost::json::value& v, bool v1) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto addr = as_endpoint(o, "addr");
  if (!addr) return std::nullopt;
  AddressBook::Entry e;
  e.addr = *addr;
  e.addr.time = std::max<std::int64_t>(0, as_int(o, "time").value_or(0));
  e.last_success = std::max<std::int64_t>(0, as_int(o, "last_success").value_or(0));
  e.last_try = std::max<std::int64_t>(0, as_int(o, "last_try").value_or(0));
  // Failures keep their backoff across restarts; a count out of range is taken as none.
  if (const auto f = as_int(o, "failures"); f && *f >= 0 && *f <= 1000) e.failures = static_cast<int>(*f);
  if (const auto* s = o.if_contains("source"); s && s->is_string() && s->as_string().size() <= 16) {
    e.source = std::string(s->as_string());
  }
  if (const auto* s = o.if_contains("services"); s && s->is_uint64()) e.addr.services = s->as_uint64();
  if (const auto* s = o.if_contains("services"); s && s->is_int64() && s->as_int64() >= 0) {
    e.addr.services = static_cast<std::uint64_t>(s->as_int64());
  }
  e.from = as_endpoint(o, "from").value_or(e.addr);
  // Version 1 had no tables: an address we once completed a handshake with counts as tried.
  if (v1) {
    e.tried = e.last_success > 0;
  } else if (const auto* t = o.if_contains("tried"); t && t->is_bool()) {
    e.tried = t->as_bool();
  }
  return e;
}

std::optional<std::string> read_small_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec || size > kMaxPeersFileBytes) return std::nullopt;
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void AddressBook::load_entry(const Entry& in) {
  if (ids_.contains(in.addr.to_string())) return;
  Entry e = in;
  e.new_refs = 0;
  // A tried entry whose slot is taken (only in an edited file) competes for a new slot instead.
  if (e.tried && !tried_slot_free(e.addr)) e.tried = false;
  const Id id = create(e.addr, e.source, e.from);
  const bool tried = e.tried;
  e.tried = false;
  entries_.at(id).e = e;
  if (tried) {
    put_tried(id);
    return;
  }
  // On load a taken new slot is kept by its entry, whatever the time.
  const auto slot = static_cast<std::uint32_t>(new_slot(e.addr, e.from));
  if (new_table_[slot] != kEmpty) {
    erase(id);
    return;
  }
  new_table_[slot] = id;
  entries_.at(id).new_slots.push_back(slot);
}

void AddressBook::load(const std::filesystem::path& file) {
  clear();
  std::error_code exists_ec;
  if (!std::filesystem::exists(file, exists_ec)) return;
  const auto text = read_small_file(file);
  boost::system::error_code ec;
  const auto v = text ? boost::json::parse(*text, ec) : boost::json::value{};
  const boost::json::array* entries = nullptr;
  const bool v1 = text && !ec && v.is_array();
  if (v1) {
    entries = &v.as_array();
  } else if (text && !ec && v.is_object()) {
    const auto& o = v.as_object();
    const auto* e = o.if_contains("entries");
    if (as_int(o, "version") == kPeersFileVersion && e && e->is_array()) entries = &e->as_array();
    const auto* k = o.if_contains("key");
    const auto key = k && k->is_string() ? from_hex(std::string_view(k->as_string())) : std::nullopt;
    if (entries && key && key->size() == key_.size()) {
      std::copy(key->begin(), key->end(), key_.begin());
    } else if (entries) {
      log_info("Address book {} has no valid key; using a new one", file.string());
    }
  }
  if (!entries) {
    log_info("Address book {} is unreadable; starting with an empty one", file.string());
    return;
  }
  // Tried entries first, so that an edited file cannot push one out with a new entry.
  for (const bool tried_pass : {true, false}) {
    for (const auto& item : *entries) {
      const auto e = parse_entry(item, v1);
      if (e && e->tried == tried_pass) load_entry(*e);
    }
  }
}

void AddressBook::save(const std::filesystem::path& file) const {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries_.size());
  for (const auto& [id, r] : entries_) sorted.push_back(&r.e);
  std::sort(sorted.begin(), sorted.end(), [](const Entry* x, const Entry* y) {
    return std::tie(x->addr.ip, x->addr.port) < std::tie(y->addr.ip, y->addr.port);
  });
  boost::json::array arr;
  for (const Entry* e : sorted) {
    arr.push_back(boost::json::object{{"addr", e->addr.to_string()},
                                      {"time", e->addr.time},
                                      {"services", e->addr.services},
                                      {"last_success", e->last_success},
                                      {"source", e->source},
                                      {"from", e->from.to_string()},
                                      {"tried", e->tried},
                                      {"last_try", e->last_try},
                                      {"failures", e->failures}});
  }
  const boost::json::object doc{{"version", kPeersFileVersion}, {"key", to_hex(key_)}, {"entries", std::move(arr)}};
  const std::string text = boost::json::serialize(doc);
  const auto tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) {
    std::error_code ec;
    std::filesystem::rename(tmp, file, ec);
  }
}

}  // namespace cheese
