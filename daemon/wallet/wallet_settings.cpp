#include "daemon/wallet/wallet_settings.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "util/log.hpp"

namespace cheese {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void write_file_atomically(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  const auto written = ::write(fd, content.data(), content.size());
  const bool ok = written == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(fmt::format("cannot write {}", tmp.string()));
  fs::rename(tmp, path);
}

}  // namespace

std::vector<std::string> read_startup_wallets(const fs::path& datadir) {
  std::vector<std::string> out;
  std::ifstream in(datadir / kSettingsFile);
  if (!in) return out;
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  const json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object()) {
    log_info("{} is not a JSON object; ignoring it", kSettingsFile);
    return out;
  }
  if (const auto* list = v.as_object().if_contains("wallet"); list && list->is_array()) {
    for (const auto& n : list->as_array()) {
      if (n.is_string()) out.emplace_back(n.as_string());
    }
  }
  return out;
}

void save_startup_wallet(const fs::path& datadir, const std::string& name, bool add) {
  std::vector<std::string> names = read_startup_wallets(datadir);
  const auto it = std::find(names.begin(), names.end(), name);
  if (add == (it != names.end())) return;
  if (add) {
    names.push_back(name);
  } else {
    names.erase(it);
  }
  json::object o;
  // Keep whatever else a newer version may have written.
  {
    std::ifstream in(datadir / kSettingsFile);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      boost::system::error_code ec;
      json::value v = json::parse(ss.str(), ec);
      if (!ec && v.is_object()) o = std::move(v.as_object());
    }
  }
  json::array list;
  for (const auto& n : names) list.emplace_back(n);
  o["wallet"] = std::move(list);
  try {
    write_file_atomically(datadir / kSettingsFile, json::serialize(o) + "\n");
  } catch (const std::exception& e) {
    log_info("Cannot update {}: {}", kSettingsFile, e.what());
  }
}

}  // namespace cheese
