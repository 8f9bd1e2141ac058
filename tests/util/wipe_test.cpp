// Wiping what held a secret: the Boost.JSON documents that parse_json_exact returns (an RPC
// request with a passphrase) overwrite every block with zeros before freeing it, and
// wipe_string zeroes a string's characters.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "util/json.hpp"
#include "util/wipe.hpp"

using namespace cheese;
namespace json = boost::json;

namespace {

//! Hands out blocks from the heap and records, for each block given back, whether every byte of
//! it was zero at that moment.
class RecordingResource final : public json::memory_resource {
 public:
  std::size_t freed = 0;
  std::size_t freed_dirty = 0;
  std::size_t live = 0;

 private:
  void* do_allocate(std::size_t n, std::size_t align) override {
    ++live;
    return ::operator new(n, std::align_val_t(align));
  }
  void do_deallocate(void* p, std::size_t n, std::size_t align) override {
    const auto* b = static_cast<const unsigned char*>(p);
    ++freed;
    --live;
    if (!std::all_of(b, b + n, [](unsigned char c) { return c == 0; })) ++freed_dirty;
    ::operator delete(p, n, std::align_val_t(align));
  }
  bool do_is_equal(const json::memory_resource& o) const noexcept override { return this == &o; }
};

}  // namespace

TEST_CASE("WipingJsonResource zeroes every block it frees", "[util][wipe]") {
  RecordingResource upstream;
  WipingJsonResource wiping(&upstream);
  const std::string secret(200, 'p');  // long enough for a heap block of its own
  {
    json::value v = json::parse(R"({"method":"walletpassphrase","params":[")" + secret + R"(",60]})",
                                json::storage_ptr(&wiping));
    json::value copy = v;  // a copy keeps the storage of the original
    CHECK(copy.storage().get() == &wiping);
    v.as_object()["params"].as_array().emplace_back(std::string(500, 'q'));  // grows: frees a block
  }
  CHECK(upstream.live == 0);
  CHECK(upstream.freed > 0);
  CHECK(upstream.freed_dirty == 0);

  // The control: without the wiping resource the freed blocks still hold the text.
  RecordingResource plain;
  { json::value v = json::parse(R"([")" + secret + R"("])", json::storage_ptr(&plain)); }
  CHECK(plain.freed_dirty > 0);
}

TEST_CASE("parse_json_exact documents use the wiping storage", "[util][wipe]") {
  auto v = parse_json_exact(R"({"params":["hunter2 hunter2 hunter2 hunter2", 0.5]})");
  REQUIRE(v);
  CHECK(v->storage().get() == wiping_storage().get());
  const auto& params = v->as_object().at("params").as_array();
  CHECK(params[0].as_string() == "hunter2 hunter2 hunter2 hunter2");
  CHECK(as_raw_number(params[1]) == std::optional<std::string_view>("0.5"));
  CHECK(params[0].storage().get() == wiping_storage().get());
}

TEST_CASE("wipe_string zeroes the characters and empties the string", "[util][wipe]") {
  std::string s(100, 'x');
  const char* data = s.data();
  wipe_string(s);
  CHECK(s.empty());
  CHECK(s.data() == data);  // same block: clear() keeps it, so the zeros are what remains there
  CHECK(std::all_of(data, data + 100, [](char c) { return c == 0; }));
}
