#pragma once

// settings.json in the data directory: the wallets loaded at startup (loadwallet/createwallet
// with load_on_startup, unloadwallet). Other keys a newer version may write are kept.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cheese {

inline constexpr std::string_view kSettingsFile = "settings.json";

//! The wallet names listed in <datadir>/settings.json; empty when the file is missing or not a
//! JSON object (logged).
std::vector<std::string> read_startup_wallets(const std::filesystem::path& datadir);
//! Adds `name` to (add) or removes it from the startup list; a failure to write is logged.
void save_startup_wallet(const std::filesystem::path& datadir, const std::string& name, bool add);

}  // namespace cheese
