#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "primitives/bytes.hpp"
#include "primitives/hash.hpp"

namespace cheese {

using Sha256Digest = std::array<std::uint8_t, 32>;

//! Streaming SHA-256; finalize() returns the digest and resets the hasher for reuse.
class Sha256 {
 public:
  Sha256();
  //! Appends data to the message.
  Sha256& write(ByteSpan data);
  //! Pads, returns the digest of everything written since the last reset, and resets.
  Sha256Digest finalize();
  //! Forgets everything written so far.
  void reset();

 private:
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_;
  std::uint64_t total_ = 0;  //!< bytes written; total_ % 64 of them wait in buffer_
};

//! SHA-256 of data.
Sha256Digest sha256(ByteSpan data);
//! SHA-256 of the SHA-256 of data (block hashes, txids).
Hash256 sha256d(ByteSpan data);
//! sha256d of the concatenation a||b, without allocating.
Hash256 sha256d(ByteSpan a, ByteSpan b);

enum class Sha256Backend { kPortable, kShaNi };

//! True when the CPU has SHA-NI and SSE4.1 (and SSSE3).
bool sha256_shani_supported();
//! The backend in use; SHA-NI by default where supported.
Sha256Backend sha256_backend();
//! Selects the backend (for tests and benchmarks); selecting kShaNi on a CPU without it returns
//! false and changes nothing.
bool sha256_select_backend(Sha256Backend b);
//! Compresses n 64-byte blocks into state with the active backend.
void sha256_compress(std::uint32_t state[8], const std::uint8_t* blocks, std::size_t n);
//! Compresses two independent messages of n blocks each; on SHA-NI the two streams are
//! interleaved (what the nonce search can reach at best: its benchmark bound).
void sha256_compress_2way(std::uint32_t state0[8], const std::uint8_t* blocks0, std::uint32_t state1[8],
                          const std::uint8_t* blocks1, std::size_t n);

//! What a miner keeps per header: the first 64 bytes of an 80-byte header never change with the
//! nonce (bytes 76..79, little-endian), so their compression is done once.
struct HeaderMidstate {
  std::array<std::uint32_t, 8> state;  //!< SHA-256 state after the first 64 header bytes
  std::array<std::uint8_t, 16> tail;   //!< header bytes 64..79 (time, bits, nonce)
};

//! Compresses the first 64 bytes of the header and keeps the last 16.
HeaderMidstate header_midstate(std::span<const std::uint8_t, 80> header);
//! sha256d of the header with the given nonce, hashing only the tail block and the second SHA-256.
Hash256 header_hash(const HeaderMidstate& m, std::uint32_t nonce);
//! Two nonces at once; on SHA-NI the two streams are interleaved so they run at throughput rather
//! than latency (about 2x). Portable path just does them one after the other.
void header_hash_2way(const HeaderMidstate& m, std::uint32_t nonce0, std::uint32_t nonce1, Hash256& out0,
                      Hash256& out1);

//! The proof-of-work search: the first nonce of first, first+1, ..., first+count-1 (mod 2^32)
//! whose header hash, read as a little-endian 256-bit number, is at most `target`; nullopt if
//! none. `tried` is set to the nonces hashed (up to and including the one returned). On SHA-NI
//! two nonces run interleaved and only the hash's top 32 bits are computed before a full check.
std::optional<std::uint32_t> header_search(const HeaderMidstate& m, const Hash256& target, std::uint32_t first,
                                           std::uint64_t count, std::uint64_t& tried);

}  // namespace cheese
