#include <catch2/catch.hpp>

#include "consensus/params.hpp"
#include "consensus/pow.hpp"
#include "consensus/validation.hpp"
#include "primitives/bech32.hpp"

using namespace cheese;

TEST_CASE("each network's genesis block has valid proof of work", "[consensus][params]") {
  struct Expected {
    Network net;
    const char* hash;
  };
  // Pinned so that an accidental change of a genesis field is caught.
  const Expected expected[] = {
      {Network::kMain, "00000021dde31624684f9a35e1de73681bf00c739364f1634d7912df5100da8f"},
      {Network::kTest, "000000fe6060cf5412f5c7e0105a05ac1881ef9adf1ac67164b09d1b9eba6be7"},
      {Network::kRegtest, "3939e9090976688adee7e8bc47f35244b9da74b966bc33a5e37ca666534f45e1"},
  };
  for (const auto& e : expected) {
    const ChainParams& p = chain_params(e.net);
    INFO(p.name);
    CHECK(p.genesis_hash.to_display_hex() == e.hash);
    CHECK(p.genesis.hash() == p.genesis_hash);
    CHECK(check_proof_of_work(p.genesis_hash, p.genesis.header.bits, p.pow_limit));
    CHECK(check_block(p.genesis, p).ok());
    CHECK(p.genesis.header.prev_hash.is_zero());
    CHECK(p.genesis.txs.size() == 1);
    CHECK(p.genesis.txs[0].is_coinbase());
    CHECK(p.genesis.txs[0].nonce == 0);
    CHECK(merkle_root(p.genesis) == p.genesis.header.merkle_root);
  }
}

TEST_CASE("a genesis header with another nonce fails proof of work", "[consensus][params]") {
  for (Network n : {Network::kMain, Network::kTest}) {
    const ChainParams& p = chain_params(n);
    Block g = p.genesis;
    g.header.nonce ^= 1;
    CHECK_FALSE(check_proof_of_work(g.hash(), g.header.bits, p.pow_limit));
    CHECK(check_block(g, p).reason == Reject::kBlockHighHash);
  }
}

TEST_CASE("networks differ in magic, address prefix, ports and genesis", "[consensus][params]") {
  const auto& m = chain_params(Network::kMain);
  const auto& t = chain_params(Network::kTest);
  const auto& r = chain_params(Network::kRegtest);
  CHECK(m.magic != t.magic);
  CHECK(t.magic != r.magic);
  CHECK(m.magic != r.magic);
  CHECK(m.address_hrp == "chz");
  CHECK(t.address_hrp == "tchz");
  CHECK(r.address_hrp == "rchz");
  CHECK(m.default_p2p_port == 8433);
  CHECK(m.default_rpc_port == 8432);
  CHECK(t.default_p2p_port == 18433);
  CHECK(t.default_rpc_port == 18432);
  CHECK(r.default_p2p_port == 28433);
  CHECK(r.default_rpc_port == 28432);
  CHECK(m.genesis_hash != t.genesis_hash);
  CHECK(t.genesis_hash != r.genesis_hash);
  CHECK(m.coinbase_maturity == 100);
  CHECK(t.coinbase_maturity == 100);
  CHECK(r.coinbase_maturity == 10);
  CHECK(parse_network("main") == Network::kMain);
  CHECK(parse_network("test") == Network::kTest);
  CHECK(parse_network("testnet") == Network::kTest);
  CHECK(parse_network("regtest") == Network::kRegtest);
  CHECK_FALSE(parse_network("mainnet").has_value());
}

TEST_CASE("the block reward halves every 210,000 blocks", "[consensus][params]") {
  const auto& p = chain_params(Network::kMain);
  CHECK(block_subsidy(0, p) == 50 * kCoin);
  CHECK(block_subsidy(209'999, p) == 50 * kCoin);
  CHECK(block_subsidy(210'000, p) == 25 * kCoin);
  CHECK(block_subsidy(420'000, p) == 1'250'000'000);
  CHECK(block_subsidy(210'000 * 33, p) == 0);  // 50 CHZ >> 33 is below one crumb
  CHECK(block_subsidy(210'000ULL * 64, p) == 0);
  CHECK(block_subsidy(~0ULL, p) == 0);
  // The sum of all rewards stays below the 21 million CHZ money limit.
  Amount total = 0;
  for (std::uint64_t era = 0; era < 64; ++era) total += block_subsidy(era * 210'000, p) * 210'000;
  CHECK(total <= kMaxMoney);
}

TEST_CASE("difficulty follows ASERT anchored at genesis, regtest stays at the limit", "[consensus][params]") {
  const auto& p = chain_params(Network::kMain);
  const std::int64_t g = p.genesis.header.time;
  // On schedule: every block 60 s after the previous, the target stays the genesis target.
  CHECK(next_work_required(1, g, p) == p.genesis.header.bits);
  CHECK(next_work_required(101, g + 100 * 60, p) == p.genesis.header.bits);
  // One half-life (an hour) ahead of schedule: the target halves (twice the work).
  const auto on = decode_compact(p.genesis.header.bits).target;
  const auto ahead = decode_compact(next_work_required(61, g, p)).target;
  CHECK(ahead == on / 2);
  // Far behind schedule: never easier than the limit.
  CHECK(next_work_required(2, g + 1'000'000, p) == p.pow_limit_bits);
  const auto& r = chain_params(Network::kRegtest);
  CHECK(next_work_required(5, r.genesis.header.time - 100000, r) == r.pow_limit_bits);
}
