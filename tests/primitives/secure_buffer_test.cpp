// SecureBuffer: secrets in libsodium's guarded memory. A move hands the pages over (no copy of
// the bytes is left behind), destruction and reset() wipe and unmap them (nothing of them stays
// readable in the process), and a sealed buffer cannot be read until an Access opens it.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>

#include "primitives/keys.hpp"
#include "primitives/secure_buffer.hpp"

using namespace cheese;

namespace {

//! Whether the page holding p is mapped in this process (msync answers ENOMEM for an unmapped
//! range without touching it).
bool page_mapped(const void* p) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  auto* start = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~(page - 1));
  if (::msync(start, page, MS_ASYNC) == 0) return true;
  REQUIRE(errno == ENOMEM);
  return false;
}

//! Whether reading the first byte of p kills a forked child with SIGSEGV or SIGBUS.
bool read_faults(const std::uint8_t* p) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const volatile std::uint8_t v = *static_cast<const volatile std::uint8_t*>(p);
    ::_exit(v == 0xA5 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

}  // namespace

TEST_CASE("SecureBuffer is zero-filled and copies exactly", "[primitives][secure_buffer]") {
  static_assert(!std::is_copy_constructible_v<SecureBuffer> && !std::is_copy_assignable_v<SecureBuffer>);
  static_assert(std::is_nothrow_move_constructible_v<SecureBuffer> &&
                std::is_nothrow_move_assignable_v<SecureBuffer>);
  SecureBuffer b(48);
  REQUIRE(b.size() == 48);
  for (std::size_t i = 0; i < b.size(); ++i) CHECK(b.data()[i] == 0);
  const std::uint8_t bytes[] = {1, 2, 3, 4, 5};
  const SecureBuffer c = SecureBuffer::copy_of(bytes);
  CHECK(secure_equal(c.span(), bytes));
  CHECK_FALSE(secure_equal(c.span(), SecureBuffer(5).span()));
  CHECK_FALSE(secure_equal(c.span(), SecureBuffer(4).span()));
  CHECK(SecureBuffer(0).empty());
  const SecretString s = SecretString::copy_of("correct horse");
  CHECK(s.view() == "correct horse");
}

TEST_CASE("SecureBuffer moves hand the pages over and leave no copy", "[primitives][secure_buffer]") {
  SecureBuffer a(32);
  a.data()[0] = 7;
  const std::uint8_t* pages = a.data();
  SecureBuffer moved = std::move(a);
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is specified as empty
  CHECK(a.data() == nullptr);
  CHECK(moved.data() == pages);  // the same guarded pages: the bytes were never copied
  CHECK(moved.data()[0] == 7);

  SecureBuffer target(16);
  const std::uint8_t* target_pages = target.data();
  target = std::move(moved);
  CHECK(moved.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(target.data() == pages);
  CHECK_FALSE(page_mapped(target_pages));  // the target's old bytes were wiped and unmapped
}

TEST_CASE("SecureBuffer destruction and reset wipe and unmap the bytes", "[primitives][secure_buffer]") {
  const std::uint8_t* pages = nullptr;
  {
    SecureBuffer b(64);
    b.data()[0] = 0xA5;
    pages = b.data();
    CHECK(page_mapped(pages));
  }
  CHECK_FALSE(page_mapped(pages));  // sodium_free zeroed the pages, then unmapped them

  SecureBuffer r = SecureBuffer::copy_of(std::array<std::uint8_t, 3>{9, 9, 9});
  pages = r.data();
  r.reset();
  CHECK(r.empty());
  CHECK_FALSE(page_mapped(pages));
}

TEST_CASE("A sealed SecureBuffer faults on access until an Access opens it", "[primitives][secure_buffer]") {
  SecureBuffer b(32);
  b.data()[0] = 0xA5;
  CHECK_FALSE(read_faults(b.data()));
  b.seal();
  CHECK(b.sealed());
  CHECK(read_faults(b.data()));
  {
    const SecureBuffer::Access outer(b);
    CHECK_FALSE(b.sealed());
    {
      const SecureBuffer::Access inner(b);  // nests
      CHECK(b.data()[0] == 0xA5);
    }
    CHECK_FALSE(b.sealed());  // still open: the outer Access is alive
    CHECK(b.data()[0] == 0xA5);
  }
  CHECK(b.sealed());
  CHECK(read_faults(b.data()));
  // A sealed buffer moves and is freed as any other.
  SecureBuffer moved = std::move(b);
  CHECK(moved.sealed());
  const std::uint8_t* pages = moved.data();
  moved.reset();
  CHECK_FALSE(page_mapped(pages));
}

TEST_CASE("SecretKey keeps its bytes in guarded memory", "[primitives][secure_buffer]") {
  const std::array<std::uint8_t, 32> seed{1, 2, 3};
  SecretKey key = SecretKey::from_seed(seed);
  const PublicKey pk = key.public_key();
  SecretKey moved = std::move(key);
  CHECK(key.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(moved.public_key() == pk);
  CHECK(verify_signature(pk, as_bytes("m"), moved.sign(as_bytes("m"))));
  const SecretKey copy = moved.clone();
  CHECK(copy.public_key() == pk);
}
