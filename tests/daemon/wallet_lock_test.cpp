// walletpassphrase's timeout: the wallet locks again when it expires, also when a passphrase
// operation (Argon2id on the wallet thread, the wallet marked busy) is running at that moment;
// it then locks as soon as that operation is over instead of staying unlocked.
#include <coroutine>

#include <boost/asio.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "daemon/in_process_node.hpp"
#include "daemon/node/node.hpp"
#include "daemon/wallet/wallet_manager.hpp"

namespace asio = boost::asio;
using namespace cheese;
using namespace cheese::test;
using namespace std::chrono_literals;

TEST_CASE("the unlock timeout locks the wallet even when it expires during a passphrase change",
          "[daemon][wallet][lock]") {
  InProcessNode n;
  WalletManager& wm = (*n.ctx().wallets);
  const std::string first = "first passphrase", second = "second passphrase";
  auto created = n.await_on_io<WalletManager::Created>(
      [&]() { return wm.create("locked", SecretString::copy_of(first), false); });
  auto e = created.entry;
  REQUIRE(n.on_io([&] { return e->wallet.is_locked(); }));

  // Unlocked with a 0 s timeout, then at once (before the timer's handler can run) a passphrase
  // change: the timeout expires while the change holds the wallet.
  const bool busy_after_change_started = n.await_on_io<bool>([&]() -> asio::awaitable<bool> {
    co_await wm.unlock(e, SecretString::copy_of(first), 0);
    auto changing = wm.change_passphrase(e, SecretString::copy_of(first), SecretString::copy_of(second));
    co_await std::move(changing);
    co_return e->busy;
  });
  REQUIRE_FALSE(busy_after_change_started);
  // Locked shortly after the change finished (the relock retries every 100 ms while busy).
  bool locked = false;
  for (int i = 0; i < 100 && !locked; ++i) {
    locked = n.on_io([&] { return e->wallet.is_locked() && e->unlocked_until == 0; });
    if (!locked) std::this_thread::sleep_for(20ms);
  }
  REQUIRE(locked);

  // The new passphrase works, the old one no longer does; a plain timeout locks as well.
  n.await_on_io<bool>([&]() -> asio::awaitable<bool> {
    co_await wm.unlock(e, SecretString::copy_of(second), 1);
    co_return true;
  });
  REQUIRE_FALSE(n.on_io([&] { return e->wallet.is_locked(); }));
  bool relocked = false;
  for (int i = 0; i < 150 && !relocked; ++i) {
    std::this_thread::sleep_for(20ms);
    relocked = n.on_io([&] { return e->wallet.is_locked(); });
  }
  REQUIRE(relocked);
  REQUIRE_THROWS(n.await_on_io<bool>([&]() -> asio::awaitable<bool> {
    co_await wm.unlock(e, SecretString::copy_of(first), 10);
    co_return true;
  }));
}
