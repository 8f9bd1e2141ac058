#pragma once

#include <array>
#include <string_view>

namespace cheese::detail {

//! The BIP-39 English wordlist, sorted. Defined in a source generated at configure time by
//! cmake/CheeseWallet.cmake from python3-mnemonic's english.txt after checking its SHA-256.
extern const std::array<std::string_view, 2048> kBip39English;

}  // namespace cheese::detail
