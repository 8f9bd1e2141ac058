#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "primitives/bytes.hpp"

namespace cheese::test {

//! Hex literal to bytes; aborts the test on malformed hex (a bug in the test itself).
Bytes hex(std::string_view s);

//! Folder of the published vectors (../shared/vectors). When it is missing the test
//! fails under CI=true and is reported as skipped otherwise (returns nullopt).
std::optional<std::filesystem::path> shared_vectors_dir();

}  // namespace cheese::test
