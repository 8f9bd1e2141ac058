#include "daemon/rpc/wallet_errors.hpp"

#include "daemon/rpc/server.hpp"

namespace cheese {

int rpc_error_code(WalletErrc e) {
  // bitcoind's codes (src/rpc/protocol.h); docs/rpc.md lists them.
  switch (e) {
    case WalletErrc::kNotFound: return kRpcWalletNotFound;
    case WalletErrc::kInvalidName: return kRpcInvalidParameter;
    case WalletErrc::kLocked: return kRpcUnlockNeeded;
    case WalletErrc::kWrongPassphrase: return kRpcWrongPassphrase;
    case WalletErrc::kEmptyPassphrase: return kRpcInvalidParameter;
    case WalletErrc::kNotEncrypted: return kRpcWalletWrongEncState;
    case WalletErrc::kAlreadyEncrypted: return kRpcWalletWrongEncState;
    case WalletErrc::kInvalidMnemonic: return kRpcInvalidAddress;
    case WalletErrc::kKeypoolRanOut: return kRpcKeypoolRanOut;
    case WalletErrc::kInvalidTransaction: return kRpcInvalidParameter;
    case WalletErrc::kOutOfMemory: return kRpcOutOfMemory;
    case WalletErrc::kAlreadyExists:
    case WalletErrc::kNotAWallet:
    case WalletErrc::kCorrupt:
    case WalletErrc::kNewerVersion:
    case WalletErrc::kInUse:
    case WalletErrc::kUnknownKey:
    case WalletErrc::kBackupFailed:
    case WalletErrc::kStorage: return kRpcWalletError;
  }
  return kRpcWalletError;
}

}  // namespace cheese
