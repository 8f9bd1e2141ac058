#include "wallet/slip10.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "wallet/bip39.hpp"

using namespace cheese;
using cheese::test::hex;

namespace {

struct ChainVector {
  const char* path;
  const char* chain_code;
  const char* private_key;
  const char* public_key;  // SLIP-0010: 0x00 || Ed25519 public key
};

// SLIP-0010 (satoshilabs/slips slip-0010.md), "Test vector 1 for ed25519".
const char* const kSeed1 = "000102030405060708090a0b0c0d0e0f";
const std::vector<ChainVector> kVector1 = {
    {"m", "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
     "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
     "00a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed"},
    {"m/0H", "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
     "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
     "008c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c"},
    {"m/0H/1H", "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
     "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
     "001932a5270f335bed617d5b935c80aedb1a35bd9fc1e31acafd5372c30f5c1187"},
    {"m/0H/1H/2H", "2e69929e00b5ab250f49c3fb1c12f252de4fed2c1db88387094a0f8c4c9ccd6c",
     "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
     "00ae98736566d30ed0e9d2f4486a64bc95740d89c7db33f52121f8ea8f76ff0fc1"},
    {"m/0H/1H/2H/2H", "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
     "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
     "008abae2d66361c879b900d204ad2cc4984fa2aa344dd7ddc46007329ac76c429c"},
    {"m/0H/1H/2H/2H/1000000000H", "68789923a0cac2cd5a29172a475fe9e0fb14cd6adb5ad98a3fa70333e7afa230",
     "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
     "003c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a"},
};

// SLIP-0010, "Test vector 2 for ed25519".
const char* const kSeed2 =
    "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a"
    "5754514e4b484542";
const std::vector<ChainVector> kVector2 = {
    {"m", "ef70a74db9c3a5af931b5fe73ed8e1a53464133654fd55e7a66f8570b8e33c3b",
     "171cb88b1b3c1db25add599712e36245d75bc65a1a5c9e18d76f9f2b1eab4012",
     "008fe9693f8fa62a4305a140b9764c5ee01e455963744fe18204b4fb948249308a"},
    {"m/0H", "0b78a3226f915c082bf118f83618a618ab6dec793752624cbeb622acb562862d",
     "1559eb2bbec5790b0c65d8693e4d0875b1747f4970ae8b650486ed7470845635",
     "0086fab68dcb57aa196c77c5f264f215a112c22a912c10d123b0d03c3c28ef1037"},
    {"m/0H/2147483647H", "138f0b2551bcafeca6ff2aa88ba8ed0ed8de070841f0c4ef0165df8181eaad7f",
     "ea4f5bfe8694d8bb74b7b59404632fd5968b774ed545e810de9c32a4fb4192f4",
     "005ba3b9ac6e90e83effcd25ac4e58a1365a9e35a3d3ae5eb07b9e4d90bcf7506d"},
    {"m/0H/2147483647H/1H", "73bd9fff1cfbde33a1b846c27085f711c0fe2d66fd32e139d3ebc28e5a4a6b90",
     "3757c7577170179c7868353ada796c839135b3d30554bbb74a4b1e4a5a58505c",
     "002e66aa57069c86cc18249aecf5cb5a9cebbfd6fadeab056254763874a9352b45"},
    {"m/0H/2147483647H/1H/2147483646H", "0902fe8a29f9140480a00ef244bd183e8a13288e4412d8389d140aac1794825a",
     "5837736c89570de861ebc173b1086da4f505d4adb387c6a1b1342d5e4ac9ec72",
     "00e33c0f7d81d843c572275f287498e8d408654fdf0d1e065b84e2e6f157aab09b"},
    {"m/0H/2147483647H/1H/2147483646H/2H", "5d70af781f3a37b829f0d060924d5e960bdc02e85423494afc0b1a41bbe196d4",
     "551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d",
     "0047150c75db263559a70d5778bf36abbab30fb061ad69f69ece61a72b0cfa4fc0"},
};

void check_vector(const char* seed_hex, const std::vector<ChainVector>& chain) {
  const Bytes seed = hex(seed_hex);
  for (const auto& v : chain) {
    INFO(v.path);
    auto path = parse_derivation_path(v.path);
    REQUIRE(path.has_value());
    const ExtendedKey key = slip10_derive(seed, *path);
    CHECK(to_hex(key.chain_code()) == v.chain_code);
    CHECK(to_hex(key.key()) == v.private_key);
    CHECK(to_hex(key.slip10_public_key()) == v.public_key);
    // The private key is an RFC 8032 seed: the signing key has the same public key.
    CHECK(to_hex(key.signing_key().public_key()) == std::string(v.public_key).substr(2));
  }
  // Deriving step by step gives the same keys as deriving each path from the seed.
  ExtendedKey step = slip10_master_key(seed);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    const auto path = parse_derivation_path(chain[i].path);
    REQUIRE(path.has_value());
    step = slip10_child_key(step, path->back());
    CHECK(to_hex(step.key()) == chain[i].private_key);
  }
}

}  // namespace

TEST_CASE("SLIP-0010 ed25519 test vector 1", "[wallet][slip10]") { check_vector(kSeed1, kVector1); }

TEST_CASE("SLIP-0010 ed25519 test vector 2", "[wallet][slip10]") { check_vector(kSeed2, kVector2); }

TEST_CASE("SLIP-0010 derives hardened children only", "[wallet][slip10]") {
  const ExtendedKey master = slip10_master_key(hex(kSeed1));
  CHECK_THROWS_AS(slip10_child_key(master, 0), std::invalid_argument);
  CHECK_THROWS_AS(slip10_child_key(master, kHardened - 1), std::invalid_argument);
  CHECK_NOTHROW(slip10_child_key(master, kHardened));
  CHECK_THROWS_AS(slip10_master_key(Bytes(15)), std::invalid_argument);
  CHECK_THROWS_AS(slip10_master_key(Bytes(65)), std::invalid_argument);
  CHECK_NOTHROW(slip10_master_key(Bytes(64)));
}

TEST_CASE("Derivation paths parse and print", "[wallet][slip10]") {
  auto p = parse_derivation_path("m/44'/8433'/0'/0'/5'");
  REQUIRE(p.has_value());
  CHECK(*p == std::vector<std::uint32_t>{44 | kHardened, 8433 | kHardened, kHardened, kHardened, 5 | kHardened});
  CHECK(format_derivation_path(*p) == "m/44'/8433'/0'/0'/5'");
  CHECK(format_derivation_path(wallet_key_path(kCoinTypeMain, 0, 5)) == "m/44'/8433'/0'/0'/5'");
  CHECK(format_derivation_path(wallet_key_path(kCoinTypeTestnet, 2, 7)) == "m/44'/1'/2'/0'/7'");
  CHECK(parse_derivation_path("m/0h/1H/2147483647'").has_value());
  auto m = parse_derivation_path("m");
  REQUIRE(m.has_value());
  CHECK(m->empty());
  CHECK(format_derivation_path({}) == "m");
  CHECK_THROWS_AS(wallet_key_path(kCoinTypeMain, 0, kHardened), std::invalid_argument);

  const std::vector<std::pair<const char*, PathError>> bad = {
      {"", PathError::kSyntax},
      {"M/1'", PathError::kSyntax},
      {"44'/0'", PathError::kSyntax},
      {"m/", PathError::kSyntax},
      {"m//1'", PathError::kSyntax},
      {"m/1'/", PathError::kSyntax},
      {"m/'", PathError::kSyntax},
      {"m/01'", PathError::kSyntax},
      {"m/-1'", PathError::kSyntax},
      {"m/+1'", PathError::kSyntax},
      {"m/1'x", PathError::kSyntax},
      {"m/1''", PathError::kSyntax},
      {"m/ 1'", PathError::kSyntax},
      {"m1'", PathError::kSyntax},
      {"m/1", PathError::kNotHardened},
      {"m/44'/0", PathError::kNotHardened},
      {"m/2147483648'", PathError::kOutOfRange},
      {"m/99999999999999999999999'", PathError::kOutOfRange},
  };
  for (const auto& [text, error] : bad) {
    INFO(text);
    auto r = parse_derivation_path(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == error);
    CHECK_FALSE(to_string(r.error()).empty());
  }
}

TEST_CASE("cheesechain key path from a recovery phrase", "[wallet][slip10]") {
  // Regression vector computed independently in Python (python3-mnemonic's to_seed, hmac/hashlib
  // for SLIP-0010, the cryptography package for the Ed25519 public key).
  const std::string phrase =
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art";
  const SecureBuffer seed = mnemonic_to_seed(phrase);
  CHECK(
      to_hex(seed.span()) ==
      "408b285c123836004f4b8842c89324c1f01382450c0d439af345ba7fc49acf705489c6fc77dbd4e3dc1dd8cc6bc9f043db8ada1e243c4a"
      "0eafb290d399480840");
  struct Expected {
    std::uint32_t coin, index;
    const char* key;
    const char* pubkey;
  };
  for (const Expected& e :
       {Expected{kCoinTypeMain, 0, "36af81740274b613888f7cc4c245146dd525db7577b30632d101bcb3cbcfe74d",
                 "d319bd85b456c518bb2a003da0e3a12d759148e2ca04746cda45fcdf97714540"},
        Expected{kCoinTypeMain, 1, "8add479e650120df175f02ea2e7eb7eb1d48df1e45657427827b24275598c092",
                 "05beea4eee3027b38bf05f39d8bacfb2570a8e606e115e748184eb9153c8f09d"},
        Expected{kCoinTypeTestnet, 0, "99da0b339e5c3e3dddd59678b52a7c7e5f9e02bd07af4e220cd69228766bcddb",
                 "811b322f9c28877bf9f543a8e8db1f3c4fd45a6ccc6cadf315499893d49b8299"}}) {
    const ExtendedKey key = slip10_derive(seed.span(), wallet_key_path(e.coin, 0, e.index));
    CHECK(to_hex(key.key()) == e.key);
    CHECK(to_hex(key.public_key()) == e.pubkey);
  }
  CHECK(coin_type(Network::kMain) == 8433);
  CHECK(coin_type(Network::kTest) == 1);
  CHECK(coin_type(Network::kRegtest) == 1);
}
