#include "consensus/params.hpp"

#include <stdexcept>

#include "consensus/pow.hpp"

namespace cheese {

namespace {

constexpr std::string_view kGenesisMessage = "cheesechain 25/Nov/2026: a cheese a minute, no central server";
// Found once by searching nonces; tests/consensus/params_test.cpp checks each proof of work.
constexpr std::uint32_t kGenesisNonceMain = 17355093;
constexpr std::uint32_t kGenesisNonceTest = 10216753;
constexpr std::uint32_t kGenesisNonceRegtest = 0;

// The genesis coinbase pays an all-zero key that nobody holds, so its reward can never move.
ChainParams make_params(Network net) {
  ChainParams p{};
  p.network = net;
  switch (net) {
    case Network::kMain:
      p.name = "main";
      p.data_subdir = "";
      p.magic = {0xc8, 0xe3, 0x5e, 0xd1};
      p.address_hrp = "chz";
      p.default_p2p_port = 8433;
      p.default_rpc_port = 8432;
      p.pow_limit_bits = 0x1e0fffff;
      p.no_retargeting = false;
      p.coinbase_maturity = 100;
      p.genesis = make_genesis_block(1795564800, 0x1e00ffff, kGenesisNonceMain, kGenesisMessage);
      break;
    case Network::kTest:
      p.name = "test";
      p.data_subdir = "testnet";
      p.magic = {0x0c, 0x4e, 0x35, 0xe7};
      p.address_hrp = "tchz";
      p.default_p2p_port = 18433;
      p.default_rpc_port = 18432;
      p.pow_limit_bits = 0x1e0fffff;
      p.no_retargeting = false;
      p.coinbase_maturity = 100;
      p.genesis = make_genesis_block(1795564801, 0x1e00ffff, kGenesisNonceTest, kGenesisMessage);
      break;
    case Network::kRegtest:
      p.name = "regtest";
      p.data_subdir = "regtest";
      p.magic = {0xfa, 0xce, 0xc4, 0xee};
      p.address_hrp = "rchz";
      p.default_p2p_port = 28433;
      p.default_rpc_port = 28432;
      p.pow_limit_bits = 0x207fffff;
      p.no_retargeting = true;
      p.coinbase_maturity = 10;
      p.genesis = make_genesis_block(1795564802, 0x207fffff, kGenesisNonceRegtest, kGenesisMessage);
      break;
  }
  p.pow_limit = decode_compact(p.pow_limit_bits).target;
  p.genesis_hash = p.genesis.hash();
  return p;
}

}  // namespace

Block make_genesis_block(std::uint32_t time, std::uint32_t bits, std::uint32_t nonce, std::string_view message) {
  Block b;
  b.txs.push_back(make_coinbase(PublicKey{}, 50 * kCoin, 0, Bytes(message.begin(), message.end())));
  b.header.version = 1;
  b.header.merkle_root = merkle_root(b);
  b.header.time = time;
  b.header.bits = bits;
  b.header.nonce = nonce;
  return b;
}

const ChainParams& chain_params(Network n) {
  static const ChainParams kMain = make_params(Network::kMain);
  static const ChainParams kTest = make_params(Network::kTest);
  static const ChainParams kRegtest = make_params(Network::kRegtest);
  switch (n) {
    case Network::kMain: return kMain;
    case Network::kTest: return kTest;
    case Network::kRegtest: return kRegtest;
  }
  throw std::invalid_argument("unknown network");
}

std::optional<Network> parse_network(std::string_view name) {
  if (name == "main") return Network::kMain;
  if (name == "test" || name == "testnet") return Network::kTest;
  if (name == "regtest") return Network::kRegtest;
  return std::nullopt;
}

Amount block_subsidy(std::uint64_t height, const ChainParams& p) {
  const std::uint64_t halvings = height / p.halving_interval;
  if (halvings >= 64) return 0;
  return p.initial_subsidy >> halvings;
}

std::uint32_t next_work_required(std::uint64_t height, std::int64_t parent_time, const ChainParams& p) {
  if (p.no_retargeting || height == 0) return p.pow_limit_bits;
  const std::int64_t anchor_parent_time = std::int64_t{p.genesis.header.time} - p.target_spacing;
  return asert_next_bits(p.genesis.header.bits, parent_time - anchor_parent_time,
                         static_cast<std::int64_t>(height) - 1, p.asert());
}

}  // namespace cheese
