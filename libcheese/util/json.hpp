#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "util/wipe.hpp"

namespace cheese {

//! A Boost.JSON memory resource that overwrites every block with zeros before it frees it, so
//! the strings of a JSON document (a passphrase in an RPC request, a recovery phrase in a reply)
//! are not left in freed heap memory. No state: usable from any thread. `upstream` (for tests)
//! allocates and frees the blocks instead of operator new/delete.
class WipingJsonResource final : public boost::json::memory_resource {
 public:
  WipingJsonResource() = default;
  explicit WipingJsonResource(boost::json::memory_resource* upstream) : upstream_(upstream) {}

 private:
  static void wipe_and_free(void* p, std::size_t n, std::size_t align) noexcept;
  void* do_allocate(std::size_t n, std::size_t align) override;
  void do_deallocate(void* p, std::size_t n, std::size_t align) override;
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }

  boost::json::memory_resource* upstream_ = nullptr;
};

//! The process's WipingJsonResource. Copies of a json::value keep the storage of the original.
boost::json::storage_ptr wiping_storage();

//! Parses JSON without ever turning a decimal number into a double: every number with a
//! fraction or exponent becomes a "raw number" (see raw_number), so amounts such as 0.1 stay
//! exact. Integers that fit 64 bits are ordinary int64/uint64 values. Returns nullopt (and sets
//! `error`) on malformed JSON. The document uses wiping_storage(), and every temporary copy of
//! the text made here (the parser's scratch, the rewritten text) is wiped before it is freed.
std::optional<boost::json::value> parse_json_exact(std::string_view text, std::string* error = nullptr);

//! A JSON number kept as its exact text; serialize_json writes it unquoted.
boost::json::value raw_number(std::string_view text);
//! The text of a raw number, or nullopt for any other value.
std::optional<std::string_view> as_raw_number(const boost::json::value& v);
//! True for a string matching JSON's number grammar.
bool is_json_number_text(std::string_view s);

//! Serializes; raw numbers are written unquoted. `indent` > 0 pretty-prints like bitcoin-cli.
//! The working copies are wiped; the result is one block with room for one more character.
std::string serialize_json(const boost::json::value& v, int indent = 0);

}  // namespace cheese
