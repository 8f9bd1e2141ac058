#include "daemon/node/node.hpp"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include <random>

#include "chain/chainstate.hpp"
#include "chain/mempool.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/mining/miner.hpp"
#include "daemon/net/connman.hpp"
#include "daemon/net/peer_manager.hpp"
#include "daemon/net/tracker_client.hpp"
#include "daemon/node/chain_services.hpp"
#include "daemon/rpc/http_rpc.hpp"
#include "daemon/rpc/rpc_workers.hpp"
#include "daemon/validation/block_processor.hpp"
#include "daemon/wallet/wallet_manager.hpp"
#include "daemon/webui/web_ui.hpp"
#include "io/io_watchdog.hpp"
#include "primitives/bytes.hpp"
#include "util/log.hpp"

namespace cheese {

NodeContext::NodeContext() = default;
NodeContext::~NodeContext() = default;

namespace {

const SystemClock kSystemClock;

ConnManager::Options connman_options(const NodeOptions& o) {
  ConnManager::Options n;
  n.port = o.port;
  n.listen = o.listen;
  n.binds = o.binds;
  n.external_ips = o.external_ips;
  n.reachable = ReachableNetworks(o.onlynet);
  n.connect = o.connect;
  n.addnode = o.addnode;
  n.max_connections = o.max_connections;
  n.idle_timeout = std::chrono::seconds(o.peer_timeout);
  n.datadir = o.datadir;
  n.full_relay_outbound = static_cast<std::size_t>(o.full_relay_outbound);
  n.feelers = o.feelers;
  n.feeler_interval = std::chrono::seconds(o.feeler_interval);
  n.extra_block_relay_interval = std::chrono::seconds(o.extra_block_relay_interval);
  n.seednodes = o.seednodes;
  n.dns_seeds = o.dns_seeds;
  n.fixed_seeds = o.fixed_seeds;
  n.trackers = !o.trackers.empty();
  return n;
}

//! The P2P layer: connections, the message processor between them and the chain, and the
//! notifications that make it relay.
void init_p2p(NodeContext& ctx) {
  const NodeOptions& o = ctx.options;
  ctx.chain_services = std::make_unique<NodeChainServices>(*ctx.io, *ctx.blocks);
  ctx.connman = std::make_unique<ConnManager>(*ctx.io, *ctx.params, connman_options(o));
  PeerManager::Options p;
  p.local_nonce = ctx.connman->local_nonce();
  p.listen = o.listen;
  p.local_addresses = &ctx.connman->local_addresses();
  p.reachable = ReachableNetworks(o.onlynet);
  p.max_inbound = ctx.connman->max_inbound();
  p.handshake_timeout = std::chrono::seconds(o.handshake_timeout);
  p.stall_timeout = std::chrono::seconds(o.block_stall_timeout);
  p.minimum_chain_work = o.minimum_chain_work.value_or(ctx.params->minimum_chain_work);
  ctx.peerman = std::make_unique<PeerManager>(*ctx.chain, *ctx.mempool, ctx.connman->address_book(),
                                              *ctx.chain_services, *ctx.connman, kSystemClock, p);
  ctx.connman->set_events(*ctx.peerman);
  PeerManager& peers = *ctx.peerman;
  ctx.blocks->on_chain_change(
      [&peers](const ProcessBlockResult& r, std::uint64_t source) { peers.chain_changed(r, source); });
  ctx.blocks->on_transaction([&peers](const Transaction&, const Hash256& id, std::uint64_t source) {
    peers.transaction_accepted(id, source);
  });
  ctx.blocks->on_room([&peers] { peers.block_queue_room(); });
}

//! The chain and its mempool, from the data directory.
void init_chain(NodeContext& ctx) {
  const NodeOptions& o = ctx.options;
  ctx.chain = std::make_unique<Chainstate>(o.datadir / "chain.sqlite", *ctx.params);
  if (o.reindex_chainstate) {
    log_info("Rebuilding account state from {} stored blocks (-reindex-chainstate)", ctx.chain->height());
    ctx.chain->rebuild_account_state();
  }
  MempoolLimits limits;
  limits.max_bytes = static_cast<std::size_t>(o.max_mempool_mb) * 1024 * 1024;
  limits.expiry_seconds = o.mempool_expiry_hours * 3600;
  ctx.mempool = std::make_unique<Mempool>(*ctx.params, limits);
}

//! The RPC/web port: the Beast server, its auth and routes, the RPC table and the web UI.
void init_http(NodeContext& ctx) {
  const NodeOptions& o = ctx.options;
  ctx.http_rpc = std::make_unique<HttpRpc>(ctx.rpc, o.datadir / ".cookie", o.rpc_user, o.rpc_password,
                                           o.rpc_whitelist);
  HttpRpc& front = *ctx.http_rpc;
  ctx.http = std::make_unique<HttpServer>(
      *ctx.io, [&front](const HttpRequestInfo& r) { return front.handle(r); },
      [&front](std::string_view auth, std::string_view) { return front.check_auth(auth); });
  ctx.http->allow(o.rpc_allow_ip);
  ctx.http->set_request_timeout(std::chrono::seconds(o.rpc_server_timeout));
  ctx.rpc_workers = std::make_unique<RpcWorkers>();
  register_control_rpcs(ctx, ctx.rpc);
  register_chain_rpcs(ctx, ctx.rpc);
  register_net_rpcs(ctx, ctx.rpc);
  register_mining_rpcs(ctx, ctx.rpc);
  register_tracker_rpcs(ctx, ctx.rpc);
  register_wallet_rpcs(ctx, ctx.rpc);
  ctx.web = std::make_unique<WebUi>(*ctx.io, random_hex(32));
  WebUi& web = *ctx.web;
  front.set_static_files(
      [&web](std::string_view path, std::string_view etag) { return web.serve_asset(path, etag); });
  // The token is a credential in a browser tab: it may call what the pages call, nothing more.
  front.set_bearer_auth([&web](std::string_view auth) { return web.bearer_ok(auth); },
                        RpcAllowList::only({kWebUiMethods.begin(), kWebUiMethods.end()}));
  attach_web_ui(ctx, web);
  if (auto err = check_rpc_whitelist_methods(o.rpc_whitelist, ctx.rpc)) throw std::runtime_error(*err);
  ctx.http->set_upgrade_handler([&front, &web](beast::tcp_stream stream, http::request<http::string_body> req) {
    const bool ok = front.check_auth(req[http::field::authorization]).has_value() ||
                    web.protocol_token_ok(req[http::field::sec_websocket_protocol]);
    return web.websocket_session(std::move(stream), std::move(req), ok);
  });
}

}  // namespace

Node::Node(NodeOptions options) {
  ctx_.options = std::move(options);
  ctx_.params = ctx_.options.params;
  ctx_.io = &io_;
  ctx_.started = std::chrono::steady_clock::now();
  ctx_.request_stop = [this] { request_stop(); };
  ctx_.watchdog = std::make_unique<io::IoWatchdog>(io_.get_executor(), [](std::string_view task, auto held) {
    log_info("io thread stalled {:.1f} ms in {} (bound {} ms)", static_cast<double>(held.count()) / 1000.0, task,
             io::kIoStallWarning.count());
  });
  init_chain(ctx_);
  ctx_.blocks = std::make_unique<BlockProcessor>(io_, *ctx_.chain, *ctx_.mempool,
                                                 [this](const std::string& what) { fatal_error(what); });
  init_p2p(ctx_);
  ctx_.miner = std::make_unique<Miner>(io_, *ctx_.chain, *ctx_.mempool, *ctx_.blocks,
                                       static_cast<unsigned>(ctx_.options.gen_threads));
  // Chain notifications, in this order: relay to peers (init_p2p), restart the miner's search,
  // then the web UI (init_http) and the wallets (registered when they start, in run()).
  Miner& miner = *ctx_.miner;
  ctx_.blocks->on_chain_change([&miner](const ProcessBlockResult& r, std::uint64_t) {
    if (r.tip_changed) miner.tip_changed();
  });
  ctx_.wallets = std::make_unique<WalletManager>(io_,
                                                 WalletManager::Options{ctx_.options.datadir, ctx_.options.wallets},
                                                 *ctx_.chain, *ctx_.mempool, *ctx_.blocks);
  init_http(ctx_);
  log_info("Chain {}: height {}, tip {}", ctx_.params->name, ctx_.chain->height(),
           ctx_.chain->tip()->hash.to_display_hex());
}

Node::~Node() = default;

int Node::run() {
  ctx_.watchdog->start();  // run() is the io thread
  ctx_.wallets->start();
  ctx_.http_rpc->start();
  for (const auto& addr : ctx_.options.rpc_bind) ctx_.http->listen(addr, ctx_.options.rpc_port);
  for (const auto& ep : ctx_.http->endpoints()) {
    log_info("JSON-RPC listening on {}:{}", ep.address().to_string(), ep.port());
  }
  // The login link carries a credential: never in debug.log (it may be read by others, or
  // shipped with a bug report). On the console when there is one; `cheese-cli webui` any time.
  log_info("Web UI ready; its login link: cheese-cli webui");
  if (!ctx_.options.daemon && (ctx_.options.print_to_console || ::isatty(STDOUT_FILENO))) {
    std::printf("Web UI: %s\n", web_ui_url(ctx_, *ctx_.web).c_str());
    std::fflush(stdout);
  }
  ctx_.connman->start();
  ctx_.peerman->set_listen_port(ctx_.connman->listen_port());
  if (!ctx_.options.trackers.empty()) {
    ctx_.tracker = std::make_unique<TrackerClient>(io_, *ctx_.params, *ctx_.connman, ctx_.options.trackers);
    ctx_.tracker->start();
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
  ctx_.blocks->stop();  // queued blocks are dropped; peers waiting to queue one stop waiting
  // Let a reply to the `stop` RPC go out before the connections close.
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
  timer->async_wait([this, timer](const boost::system::error_code&) {
    boost::system::error_code ec;
    signals_.cancel(ec);
    ctx_.http->stop();
    ctx_.web->stop();
    ctx_.connman->stop();
    ctx_.chain_services->stop();
    if (ctx_.tracker) ctx_.tracker->stop();
    ctx_.miner->stop();
    ctx_.wallets->stop();
    ctx_.watchdog->stop();
  });
}

void Node::fatal_error(const std::string& what) {
  log_info("Fatal error: {}", what);
  log_info("Shutting down; cheesed resumes from the last committed block when restarted");
  exit_code_ = 1;
  request_stop();
}

}  // namespace cheese
