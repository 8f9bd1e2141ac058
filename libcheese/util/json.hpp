#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cheese {

//! Parses JSON without ever turning a decimal number into a double: every number with a
//! fraction or exponent becomes a "raw number" (see raw_number), so amounts such as 0.1 stay
//! exact. Integers that fit 64 bits are ordinary int64/uint64 values. Returns nullopt (and sets
//! `error`) on malformed JSON.
std::optional<boost::json::value> parse_json_exact(std::string_view text, std::string* error = nullptr);

//! A JSON number kept as its exact text; serialize_json writes it unquoted.
boost::json::value raw_number(std::string_view text);
//! The text of a raw number, or nullopt for any other value.
std::optional<std::string_view> as_raw_number(const boost::json::value& v);
//! True for a string matching JSON's number grammar.
bool is_json_number_text(std::string_view s);

//! Serializes; raw numbers are written unquoted. `indent` > 0 pretty-prints like bitcoin-cli.
std::string serialize_json(const boost::json::value& v, int indent = 0);

}  // namespace cheese
