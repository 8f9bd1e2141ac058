#include <catch2/catch.hpp>

#include "primitives/serialize.hpp"
#include "test_util.hpp"

using namespace cheese;
using cheese::test::hex;

TEST_CASE("integers are little-endian and round-trip", "[primitives][serialize]") {
  Writer w;
  w.u8(0xab);
  w.u16(0x1234);
  w.u32(0xdeadbeef);
  w.u64(0x0102030405060708ULL);
  w.i64(-2);
  CHECK(to_hex(w.bytes()) == "ab3412efbeadde0807060504030201feffffffffffffff");
}
