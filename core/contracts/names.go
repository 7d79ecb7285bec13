package contracts

import (
	"errors"
	"fmt"
)

// ErrUnknownNetwork is returned for a chain id Nevermined clients have no
// network name for.
var ErrUnknownNetwork = errors.New("unknown network")

// NetworkName returns the network name Nevermined clients use for a chain id
// (`S:src/utils/Network.ts`, SPEC.md section 1). It names artifact files
// (`<Contract>.<network>.json`) and is the `network` field of `GET /`.
func NetworkName(chainID uint64) (string, error) {
	switch chainID {
	case 1:
		return "mainnet", nil
	case 2:
		return "morden", nil
	case 3:
		return "ropsten", nil
	case 4:
		return "rinkeby", nil
	case 5:
		return "goerli", nil
	case 10:
		return "optimism", nil
	case 42:
		return "kovan", nil
	case 77:
		return "poa_sokol", nil
	case 99:
		return "poa_core", nil
	case 100:
		return "gnosis", nil
	case 137:
		return "matic", nil
	case 1337, 31337:
		return "geth-localnet", nil
	case 3141:
		return "hyperspace", nil
	case 3338:
		return "peaq-mainnet", nil
	case 8453:
		return "base", nil
	case 8996:
		return "spree", nil
	case 8997:
		return "polygon-localnet", nil
	case 8998:
		return "hardhat", nil
	case 10200:
		return "chiado", nil
	case 42161:
		return "arbitrum-one", nil
	case 42220:
		return "celo", nil
	case 44787:
		return "celo-alfajores", nil
	case 62320:
		return "celo-baklava", nil
	case 80001:
		return "mumbai", nil
	case 84532:
		return "base-sepolia", nil
	case 421613:
		return "arbitrum-goerli", nil
	case 421614:
		return "arbitrum-sepolia", nil
	case 1313161554:
		return "aurora", nil
	case 1313161555:
		return "aurora-testnet", nil
	case 1313161556:
		return "aurora-betanet", nil
	default:
		return "", fmt.Errorf("%w: chain id %d", ErrUnknownNetwork, chainID)
	}
}

// ArtifactFileName is the file name of a contract's artifact for a network,
// e.g. "DIDRegistry.spree.json".
func ArtifactFileName(contract, network string) string {
	return contract + "." + network + ".json"
}

// KeyedContract pairs a contract name with the key the node's `GET /` reports
// its address under.
type KeyedContract struct {
	Key      string
	Contract string
}

// InfoContracts returns, in the order the reference node lists them
// (`S:src/keeper/Keeper.ts`, SPEC.md 2.1), the contracts that `GET /` reports
// and their keys. The node shows only those it has an address for, which is
// why a deployment without CurveRoyalties omits `curveRoyalties`.
func InfoContracts() []KeyedContract {
	return []KeyedContract{
		{"dispenser", Dispenser},
		{"token", NeverminedToken},
		{"curveRoyalties", CurveRoyalties},
		{"nvmConfig", NeverminedConfig},
		{"didRegistry", DIDRegistry},
		{"templateStoreManager", TemplateStoreManager},
		{"agreementStoreManager", AgreementStoreManager},
		{"conditionStoreManager", ConditionStoreManager},
		{"lockPaymentCondition", LockPaymentCondition},
		{"escrowPaymentCondition", EscrowPaymentCondition},
		{"accessCondition", AccessCondition},
		{"accessTemplate", AccessTemplate},
		{"computeExecutionCondition", ComputeExecutionCondition},
		{"escrowComputeExecutionTemplate", EscrowComputeExecutionTemplate},
		{"nftHolderCondition", NFTHolderCondition},
		{"nftLockCondition", NFTLockCondition},
		{"nftAccessCondition", NFTAccessCondition},
		{"transferNftCondition", TransferNFTCondition},
		{"nftAccessTemplate", NFTAccessTemplate},
		{"nftSalesTemplate", NFTSalesTemplate},
		{"nftUpgradeable", NFT1155Upgradeable},
		{"nft721HolderCondition", NFT721HolderCondition},
		{"transferNft721Condition", TransferNFT721Condition},
		{"nft721LockCondition", NFT721LockCondition},
		{"nft721AccessTemplate", NFT721AccessTemplate},
		{"nft721SalesTemplate", NFT721SalesTemplate},
		{"transferDidOwnershipCondition", TransferDIDOwnershipCondition},
		{"didSalesTemplate", DIDSalesTemplate},
		{"standardRoyalties", StandardRoyalties},
	}
}

// ArtifactKey returns the `GET /` key of a contract name, e.g. "DIDRegistry"
// -> "didRegistry". Contracts the node does not report (NFT721Upgradeable,
// RewardsDistributor) have no key.
func ArtifactKey(contract string) (string, bool) {
	for _, kc := range InfoContracts() {
		if kc.Contract == contract {
			return kc.Key, true
		}
	}
	return "", false
}
