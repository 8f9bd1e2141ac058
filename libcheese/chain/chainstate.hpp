#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "chain/sig_verifier.hpp"
#include "chain/sqlite.hpp"
#include "consensus/params.hpp"
#include "consensus/validation.hpp"
#include "primitives/block.hpp"
#include "primitives/uint256.hpp"

namespace cheese {

//! Version of the chain database layout this build reads and writes.
inline constexpr std::int64_t kChainSchemaVersion = 1;

//! Most blocks connected on the tip that may share one SQLite transaction (CommitMode::kDeferred):
//! a crash loses at most this many connected blocks (they are downloaded again), and the dirty
//! pages of a batch stay within SQLite's page cache.
inline constexpr std::size_t kMaxDeferredBlocks = 64;

//! When process_block commits a block it connected on the tip.
enum class CommitMode {
  kNow,       //!< before it returns (a block mined here or submitted by a user, a block at the tip)
  kDeferred,  //!< the caller has more blocks queued (initial sync): the connection may stay in an
              //!< open transaction that the next block continues, committed after
              //!< kMaxDeferredBlocks blocks, by a kNow block, by flush(), or before anything
              //!< else is written (side branches, reorgs, invalid blocks)
};

enum BlockStatus : std::uint32_t {
  kStatusHaveData = 1u << 0,      //!< body stored; context-free checks and signatures passed
  kStatusConnected = 1u << 1,     //!< fully validated when connected, at least once
  kStatusFailed = 1u << 2,        //!< invalid itself
  kStatusFailedParent = 1u << 3,  //!< descends from an invalid block
};

//! One known header (with or without its body), in memory for the whole node lifetime.
struct BlockIndex {
  Hash256 hash;
  BlockHeader header;
  BlockIndex* prev = nullptr;
  std::vector<BlockIndex*> children;
  std::uint64_t height = 0;
  U256 chain_work;
  std::uint32_t status = 0;
  std::uint64_t sequence = 0;    //!< first-seen order: of two chains with equal work the first wins
  bool have_chain_data = false;  //!< this block and all its ancestors have bodies
  std::uint32_t tx_count = 0;
  std::uint32_t size = 0;
  PublicKey coinbase_recipient{};  //!< known once the body is stored
  Amount coinbase_amount = 0;

  bool have_data() const { return (status & kStatusHaveData) != 0; }
  bool failed() const { return (status & (kStatusFailed | kStatusFailedParent)) != 0; }
  const BlockIndex* ancestor(std::uint64_t at_height) const;
};

struct TxLocation {
  Hash256 block_hash;
  std::uint64_t height;
  std::uint32_t index;
};

//! What process_block did. On a reorg, `disconnected` lists the blocks taken off the active chain
//! (tip first) and `connected` the blocks put on it (in order); the mempool consumes both.
struct ProcessBlockResult {
  Verdict verdict;         //!< of the submitted block itself
  bool duplicate = false;  //!< it was already stored (or already known invalid)
  bool tip_changed = false;
  std::vector<Block> disconnected;
  std::vector<Block> connected;
  std::vector<std::pair<Hash256, Verdict>> invalidated;  //!< other blocks found invalid on the way
};

//! The chain: block index, block store, account state, undo data and the active tip, in one
//! SQLite database (WAL). Connecting or disconnecting a block happens inside one SQLite
//! transaction (during initial sync, several connections may share one: CommitMode), so the last
//! committed tip and its state survive a crash at any instant. Reads see what is connected,
//! committed or not. After a storage failure rolled a transaction back, every further change
//! throws StorageError (the in-memory chain may be ahead of the database): restart the node.
//! Single-threaded: call it from one thread (the node's io thread); signature checks fan out to
//! the verifier's workers.
class Chainstate final : public AccountView {
 public:
  //! Opens or creates the database; throws StorageError with a clear message for a corrupt,
  //! foreign, newer-schema or other-network database.
  Chainstate(const std::filesystem::path& db_file, const ChainParams& params, std::size_t verify_threads = 0);
  ~Chainstate() override;

  const ChainParams& params() const { return params_; }
  SignatureVerifier& verifier() { return verifier_; }

  //! Adds a header whose parent is known (headers-first sync); checks PoW, bits and time.
  Verdict accept_header(const BlockHeader& h, std::int64_t now, const BlockIndex** out = nullptr);
  //! Validates and stores a block, then moves the active chain to the most-work valid chain.
  //! `signatures_checked` tells it the caller already verified every signature (off-thread).
  ProcessBlockResult process_block(const Block& b, std::int64_t now, bool signatures_checked = false,
                                   CommitMode commit = CommitMode::kNow);
  //! The same, with the verdict of a signature check the caller ran off-thread
  //! (SignatureVerifier::verify_block_async); a failed verdict marks the block invalid.
  ProcessBlockResult process_block_with_signatures(const Block& b, std::int64_t now, Verdict signatures,
                                                   CommitMode commit = CommitMode::kNow);
  //! Commits connections left open by CommitMode::kDeferred (no-op when there are none).
  void flush();
  //! Blocks connected but not yet committed (CommitMode::kDeferred).
  std::size_t uncommitted_blocks() const { return deferred_blocks_; }

  const BlockIndex* tip() const { return active_.back(); }
  std::uint64_t height() const { return active_.size() - 1; }
  const BlockIndex* lookup(const Hash256& hash) const;
  //! Block of the active chain at a height, or nullptr.
  const BlockIndex* at_height(std::uint64_t h) const;
  bool is_active(const BlockIndex* idx) const;
  //! The most-work header that is not known invalid (may be ahead of the tip).
  const BlockIndex* best_header() const { return best_header_; }
  //! Every block with no children (the tips of all known branches).
  std::vector<const BlockIndex*> chain_tips() const;
  //! Hashes back from the tip: 10 one by one, then doubling steps, then genesis.
  std::vector<Hash256> locator(const BlockIndex* from = nullptr) const;
  //! The last block of the active chain that is also in the locator (genesis at worst).
  const BlockIndex* find_fork(const std::vector<Hash256>& locator) const;
  std::int64_t median_time_past(const BlockIndex* idx) const;
  //! Bits a child of `parent` must carry.
  std::uint32_t next_bits(const BlockIndex* parent) const;

  std::optional<Block> read_block(const Hash256& hash) const;
  std::optional<Bytes> read_block_bytes(const Hash256& hash) const;
  std::optional<TxLocation> find_transaction(const Hash256& txid) const;
  Account account(const PublicKey& key) const override;
  //! Every non-empty account (tests, rebuild, explorer).
  std::map<PublicKey, Account> all_accounts() const;
  //! Rebuilds account state by replaying the active chain's stored blocks (-reindex-chainstate).
  void rebuild_account_state();
  //! Replays the active chain in memory and returns the state it produces (does not write).
  std::map<PublicKey, Account> replay_account_state() const;
  //! SQLite integrity check plus a check of the index against the stored tip; "" when sound.
  std::string check_integrity() const;
  std::uint64_t size_on_disk() const;

 private:
  struct Statements;
  struct CandidateOrder {
    bool operator()(const BlockIndex* a, const BlockIndex* b) const;
  };

  void create_schema();
  void load_index();
  void init_genesis();
  BlockIndex* add_index(const BlockHeader& h, std::uint64_t sequence, std::uint32_t status);
  void persist_index(const BlockIndex* idx);
  void received_data(BlockIndex* idx);
  void mark_failed(BlockIndex* idx);
  void activate_best_chain(ProcessBlockResult& result, const Block* just_received);
  Verdict connect_tip(BlockIndex* idx, const Block& b);
  void disconnect_tip(ProcessBlockResult& result);
  void update_best_header(BlockIndex* idx);
  ProcessBlockResult process_block_impl(const Block& b, std::int64_t now, const Verdict* signatures,
                                        CommitMode commit);
  //! Commits the open transaction (a stored body, deferred connections), if any.
  void commit_pending_store();
  //! Throws if an earlier storage failure left the in-memory chain ahead of the database.
  void check_usable() const;
  //! After a storage failure: rolls the open transaction back (deferred connections may be lost
  //! with it while the in-memory chain keeps them) and refuses further changes until a restart
  //! reloads the database.
  void abandon_transaction(const std::string& why);

  const ChainParams& params_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Statements> stmt_;
  std::unordered_map<Hash256, std::unique_ptr<BlockIndex>, Hash256Hasher> index_;
  std::vector<BlockIndex*> active_;
  std::set<BlockIndex*, CandidateOrder> candidates_;
  BlockIndex* best_header_ = nullptr;
  std::uint64_t next_sequence_ = 0;
  //! The open transaction: it stored the body (and header) of the block being processed, and
  //! connect_tip connects that block in it (one commit per block instead of two); with
  //! CommitMode::kDeferred it stays open across blocks (deferred_blocks_ connections).
  std::optional<DbTransaction> pending_store_;
  bool defer_commit_ = false;  //!< set while processing a kDeferred block
  std::size_t deferred_blocks_ = 0;
  std::string failure_;  //!< why the chainstate refuses changes ("" while usable)
  //! Accounts read or written recently (absent ones as zero), always equal to the rows as this
  //! connection sees them (committed or in the open transaction): filled by account(), updated
  //! after every write, cleared on a rollback and when it grows too big.
  Account read_account(const PublicKey& key) const;  //!< from the database, bypassing the cache
  void cache_accounts(const std::vector<std::pair<PublicKey, Account>>& written);
  mutable std::unordered_map<PublicKey, Account, PublicKeyHasher> account_cache_;
  SignatureVerifier verifier_;
};

}  // namespace cheese
