#pragma once

// What the files of cheese_cli_lib share and cli.hpp does not publish.

#include <boost/json/parse_options.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cli.hpp"

namespace cheese::cli::detail {

// ---- JSON text (json_text.cpp) ----

boost::json::parse_options json_options();
bool is_valid_json(std::string_view text);
//! `s` as a JSON string literal.
std::string json_string(std::string_view s);
bool is_space(char c);
//! The text of member `key` of the JSON object `object_json` (valid JSON), byte for byte.
std::optional<std::string_view> raw_member(std::string_view object_json, std::string_view key);

// ---- HTTP (http_post.cpp) ----

//! No TCP connection could be made: nothing was sent, so retrying is safe.
class ConnectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

//! The request failed after connecting: it may have been executed, so it is never retried.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

//! One POST with Basic auth; the whole exchange within `timeout` (0: no limit). Throws
//! ConnectError or TransportError.
HttpReply http_post(const Endpoint& endpoint, const std::string& target, std::string_view user_pass, std::string body,
                    std::chrono::seconds timeout);

}  // namespace cheese::cli::detail
