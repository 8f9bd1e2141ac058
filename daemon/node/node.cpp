#include "daemon/node/node.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <fstream>
#include <random>

#include "util/log.hpp"
#include "util/json.hpp"

namespace cheese {

namespace {

//! Runs `fn` on the worker pool and resumes the coroutine on the io thread with its result.
template <typename T, typename Fn>
asio::awaitable<T> on_pool(SignatureVerifier& pool, Fn fn) {
  auto executor = co_await asio::this_coro::executor;
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the initiation.
  auto initiation = [&pool, executor, fn = std::move(fn)](auto handler) mutable {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    pool.post([executor, fn = std::move(fn), shared]() mutable {
      std::exception_ptr error;
      T value{};
      try {
        value = fn();
      } catch (...) {
        error = std::current_exception();
      }
      asio::post(executor, [shared, error, value = std::move(value)]() mutable { (*shared)(error, std::move(value)); });
    });
  };
  auto pending =
      asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, T)>(initiation, asio::use_awaitable);
  T result = co_await std::move(pending);
  co_return result;
}

std::string random_hex(std::size_t bytes) {
  Bytes b(bytes);
  std::random_device rd;
  for (auto& x : b) x = static_cast<std::uint8_t>(rd());
  return to_hex(b);
}

}  // namespace

Node::Node(NodeOptions options) : options_(std::move(options)) {
  started_ = std::chrono::steady_clock::now();
  queue_changed_.expires_at(std::chrono::steady_clock::time_point::max());  // only ever cancelled
  const auto db_file = options_.datadir / "chain.sqlite";
  chain_ = std::make_unique<Chainstate>(db_file, params());
  if (options_.reindex_chainstate) {
    log_info("Rebuilding account state from {} stored blocks (-reindex-chainstate)", chain_->height());
    chain_->rebuild_account_state();
  }
  MempoolLimits limits;
  limits.max_bytes = static_cast<std::size_t>(options_.max_mempool_mb) * 1024 * 1024;
  limits.expiry_seconds = options_.mempool_expiry_hours * 3600;
  mempool_ = std::make_unique<Mempool>(params(), limits);
  http_ = std::make_unique<HttpServer>(
      io_, [this](const HttpRequestInfo& r) { return handle_http(r); },
      [this](std::string_view auth, std::string_view target) { return check_auth(auth, target); });
  NetManager::Options net_options;
  net_options.port = options_.port;
  net_options.listen = options_.listen;
  net_options.connect = options_.connect;
  net_options.addnode = options_.addnode;
  net_options.max_connections = options_.max_connections;
  net_options.handshake_timeout = std::chrono::seconds(options_.handshake_timeout);
  net_options.idle_timeout = std::chrono::seconds(options_.peer_timeout);
  net_options.stall_timeout = std::chrono::seconds(options_.block_stall_timeout);
  net_options.datadir = options_.datadir;
  net_ = std::make_unique<NetManager>(*this, net_options);
  miner_ = std::make_unique<Miner>(*this, static_cast<unsigned>(options_.gen_threads));
  wallets_ = std::make_unique<WalletManager>(*this);
  http_->allow(options_.rpc_allow_ip);
  http_->set_request_timeout(std::chrono::seconds(options_.rpc_server_timeout));
  register_rpc_methods();
  web_ = std::make_unique<WebUi>(io_, random_hex(32));
  attach_web_ui(*this, *web_);
  http_->set_upgrade_handler([this](beast::tcp_stream stream, http::request<http::string_body> req) {
    const bool ok = check_auth(req[http::field::authorization], req.target()) ||
                    web_->protocol_token_ok(req[http::field::sec_websocket_protocol]);
    return web_->websocket_session(std::move(stream), std::move(req), ok);
  });
  log_info("Chain {}: height {}, tip {}", params().name, chain_->height(), chain_->tip()->hash.to_display_hex());
}

Node::~Node() {
  std::error_code ec;
  if (options_.rpc_password.empty()) std::filesystem::remove(cookie_path(), ec);
}

std::int64_t Node::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Node::write_cookie() {
  if (!options_.rpc_password.empty()) {
    rpc_auth_ = basic_auth_header(options_.rpc_user, options_.rpc_password);
    return;
  }
  const std::string password = random_hex(32);
  const std::string content = "__cookie__:" + password;
  const auto path = cookie_path();
  const auto tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot write RPC cookie {}", tmp));
  const auto written = ::write(fd, content.data(), content.size());
  ::fchmod(fd, 0600);
  ::close(fd);
  if (written != static_cast<ssize_t>(content.size())) throw std::runtime_error("cannot write RPC cookie");
  std::filesystem::rename(tmp, path);
  rpc_auth_ = basic_auth_header("__cookie__", password);
}

bool Node::check_auth(std::string_view authorization, std::string_view /*target*/) const {
  return (!rpc_auth_.empty() && constant_time_equal(authorization, rpc_auth_)) ||
         (web_ && web_->bearer_ok(authorization));
}

asio::awaitable<HttpResult> Node::handle_http(const HttpRequestInfo& req) {
  HttpResult out;
  std::string_view path = req.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (req.method == http::verb::post && (path == "/" || path.starts_with("/wallet/"))) {
    const std::string wallet = path.starts_with("/wallet/") ? std::string(path.substr(8)) : std::string();
    auto reply = co_await handle_jsonrpc(rpc_, req.body, wallet);
    out.status = static_cast<unsigned>(reply.http_status);
    out.body = std::move(reply.body);
    if (out.status == 204) out.content_type.clear();
    co_return out;
  }
  if (req.method == http::verb::get) {
    if (auto asset = web_->serve_asset(path, req.if_none_match)) co_return std::move(*asset);
    if (path == "/ws") {
      out.status = 426;
      out.content_type = "text/plain";
      out.body = "426 /ws is a WebSocket (the web UI's live updates)\n";
      out.headers.emplace_back("Upgrade", "websocket");
      co_return out;
    }
  }
  out.status = req.method == http::verb::post || req.method == http::verb::get ? 404 : 405;
  out.content_type = "text/plain";
  out.body = out.status == 404 ? "404 Not found\n" : "405 Method not allowed\n";
  co_return out;
}

void Node::register_rpc_methods() {
  register_control_rpcs(*this, rpc_);
  register_chain_rpcs(*this, rpc_);
  register_net_rpcs(*this, rpc_);
  register_mining_rpcs(*this, rpc_);
  register_tracker_rpcs(*this, rpc_);
  register_wallet_rpcs(*this, rpc_);
}

int Node::run() {
  wallets_->start();
  write_cookie();
  for (const auto& addr : options_.rpc_bind) http_->listen(addr, options_.rpc_port);
  for (const auto& ep : http_->endpoints()) {
    log_info("JSON-RPC listening on {}:{}", ep.address().to_string(), ep.port());
  }
  log_info("Web UI: {}", web_ui_url(*this, *web_));
  net_->start();
  if (!options_.trackers.empty()) {
    tracker_ = std::make_unique<TrackerClient>(*this, options_.trackers);
    tracker_->start();
  }
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log_info("Received signal {}, shutting down", sig);
    request_stop();
  });
  io_.run();
  log_info("Shutdown complete");
  return exit_code_;
}

void Node::request_stop() {
  if (stopping_) return;
  stopping_ = true;
  queue_changed_.cancel();  // peers waiting to queue a block, and the connector, stop waiting
  // Let a reply to the `stop` RPC go out before the connections close.
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
  timer->async_wait([this, timer](const boost::system::error_code&) {
    boost::system::error_code ec;
    signals_.cancel(ec);
    http_->stop();
    web_->stop();
    net_->stop();
    if (tracker_) tracker_->stop();
    miner_->stop();
    wallets_->stop();
    // Blocks still queued are dropped (peers send them again); whoever waits for one in
    // submit_block (the miner, an RPC) is abandoned with it, so no coroutine keeps io_ running.
    block_queue_.clear();
    queued_hashes_.clear();
    queued_bytes_ = 0;
  });
}

asio::awaitable<BlockSubmission> Node::submit_block(std::shared_ptr<const Block> block, std::uint64_t source_peer) {
  auto executor = co_await asio::this_coro::executor;
  // GCC 12 destroys temporaries captured in a co_await expression twice: name the initiation.
  auto initiation = [this, block, source_peer, executor](auto handler) {
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    BlockDone done = [shared, executor](const BlockSubmission& s) {
      asio::post(executor, [shared, s]() mutable { (*shared)(std::move(s)); });
    };
    asio::co_spawn(io_, enqueue_block(block, source_peer, /*durable=*/true, std::move(done)), asio::detached);
  };
  auto pending = asio::async_initiate<decltype(asio::use_awaitable), void(BlockSubmission)>(initiation, asio::use_awaitable);
  BlockSubmission out = co_await std::move(pending);
  co_return out;
}

asio::awaitable<void> Node::queue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, BlockDone done) {
  return enqueue_block(std::move(block), source_peer, /*durable=*/false, std::move(done));
}

asio::awaitable<void> Node::enqueue_block(std::shared_ptr<const Block> block, std::uint64_t source_peer, bool durable,
                                          BlockDone done) {
  if (stopping_) co_return;  // dropped, as the blocks still queued are at stop
  const Hash256 hash = block->hash();
  const std::size_t bytes = serialized_size(*block);
  boost::system::error_code ec;
  for (;;) {
    // Cheap checks first, on this thread: a block we already have (or that is already queued) or
    // whose header lacks its proof of work costs no signature checks.
    const BlockIndex* known = chain_->lookup(hash);
    if ((known && known->have_data()) || queued_hashes_.contains(hash)) {
      BlockSubmission s;
      s.result.duplicate = true;
      done(s);
      co_return;
    }
    if (!known) {
      if (const Verdict v = check_header_pow(block->header, params()); !v) {
        BlockSubmission s;
        s.result.verdict = v;
        done(s);
        co_return;
      }
    }
    if (block_queue_.empty() || queued_bytes_ + bytes <= queue_limit_) break;
    co_await queue_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) co_return;
  }

  auto signatures = std::make_shared<std::optional<Verdict>>();
  block_queue_.push_back(QueuedBlock{block, hash, bytes, source_peer, durable, signatures, std::move(done)});
  queued_hashes_.insert(hash);
  queued_bytes_ += bytes;
  auto executor = io_.get_executor();
  chain_->verifier().verify_block_async(block, params().magic, [this, signatures, executor](Verdict v) {
    asio::post(executor, [this, signatures, v] {
      *signatures = v;
      queue_changed_.cancel();  // wakes the connector
    });
  });
  if (!connector_running_) {
    connector_running_ = true;
    asio::co_spawn(io_, connect_queued_blocks(), [this](std::exception_ptr e) {
      connector_running_ = false;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        fatal_error(ex.what());
      }
    });
  }
}

asio::awaitable<void> Node::connect_queued_blocks() {
  boost::system::error_code ec;
  while (!block_queue_.empty() && !stopping_) {
    if (!*block_queue_.front().signatures) {
      co_await queue_changed_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    QueuedBlock item = std::move(block_queue_.front());
    block_queue_.pop_front();
    queued_hashes_.erase(item.hash);
    queued_bytes_ -= item.bytes;
    queue_changed_.cancel();  // room for a peer waiting to queue its block
    // While more blocks wait (initial sync), connections share one SQLite transaction; a block
    // from the miner or submitblock, and the last queued one, commit before anyone hears of them.
    const CommitMode mode = item.durable || block_queue_.empty() ? CommitMode::kNow : CommitMode::kDeferred;
    BlockSubmission out;
    out.result = chain_->process_block_with_signatures(*item.block, now(), **item.signatures, mode);
    after_block(out.result, item.source_peer);
    item.done(out);
  }
  chain_->flush();
  connector_running_ = false;
}

void Node::fatal_error(const std::string& what) {
  log_info("Fatal error: {}", what);
  log_info("Shutting down; cheesed resumes from the last committed block when restarted");
  exit_code_ = 1;
  request_stop();
}

void Node::after_block(const ProcessBlockResult& r, std::uint64_t source_peer) {
  for (const auto& b : r.disconnected) mempool_->block_disconnected(b, *chain_, now());
  for (const auto& b : r.connected) mempool_->block_connected(b, *chain_);
  if (r.tip_changed) {
    log_info("New tip {} at height {} ({} tx in mempool)", chain_->tip()->hash.to_display_hex(), chain_->height(),
             mempool_->size());
  }
  for (const auto& [hash, v] : r.invalidated) {
    log_info("Block {} is invalid: {}", hash.to_display_hex(), to_string(v.reason));
  }
  if (net_) net_->blocks_connected(r.connected, source_peer);
  // Transfers a reorg put back into the mempool are announced again (peers that know them skip).
  if (net_) {
    for (const auto& b : r.disconnected) {
      for (const auto& tx : b.txs) {
        if (tx.is_coinbase()) continue;
        if (const Hash256 id = txid(tx); mempool_->contains(id)) net_->transaction_accepted(id, 0);
      }
    }
  }
  if (miner_ && r.tip_changed) miner_->tip_changed();
  if (!r.connected.empty() || !r.disconnected.empty()) {
    for (const auto& f : chain_listeners_) f(r);
  }
}

asio::awaitable<MempoolAccept> Node::submit_transaction(Transaction tx, std::uint64_t source_peer) {
  const auto magic = params().magic;
  auto shared = std::make_shared<const Transaction>(std::move(tx));
  // GCC 12 destroys a lambda temporary inside a co_await expression twice (here: one reference
  // of `shared` too many released, a use-after-free found by ASan): name it first.
  auto check = [shared, magic] { return !shared->is_coinbase() && verify_transaction_signature(*shared, magic); };
  auto checking = on_pool<bool>(chain_->verifier(), std::move(check));
  const bool sig_ok = co_await std::move(checking);
  if (!sig_ok && !shared->is_coinbase()) {
    MempoolAccept r;
    r.reason = MempoolReject::kConsensus;
    r.consensus = Reject::kTxBadSignature;
    co_return r;
  }
  MempoolAccept r = mempool_->accept(*shared, *chain_, now(), /*signature_checked=*/true);
  if (r.ok()) {
    const Hash256 id = txid(*shared);
    log_debug("mempool", "accepted tx {} ({} in mempool)", id.to_display_hex(), mempool_->size());
    if (net_) net_->transaction_accepted(id, source_peer);
    for (const auto& f : tx_listeners_) f(*shared, id);
  }
  co_return r;
}

}  // namespace cheese
