package contracts

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// ArgKind says where a recipe argument takes its value from.
type ArgKind int

// Argument kinds of deployment recipes.
const (
	// ArgOwner is the owner account that deploys and administers the contracts.
	ArgOwner ArgKind = iota + 1
	// ArgContract is the address of another deployed contract, named by Arg.Contract.
	ArgContract
	// ArgZeroAddress is address(0).
	ArgZeroAddress
	// ArgString is a string literal.
	ArgString
	// ArgUint is a uint256 literal.
	ArgUint
	// ArgBool is a bool literal.
	ArgBool
)

// Arg is one argument of an initialize or wiring call, resolved against the
// owner and the deployed addresses at deploy time.
type Arg struct {
	Kind     ArgKind
	Contract string // for ArgContract
	String   string // for ArgString
	Uint     uint64 // for ArgUint
	Bool     bool   // for ArgBool
}

// Owner is the owner account argument.
func Owner() Arg { return Arg{Kind: ArgOwner} }

// Ref is the address of the named contract.
func Ref(name string) Arg { return Arg{Kind: ArgContract, Contract: name} }

// ZeroAddress is address(0).
func ZeroAddress() Arg { return Arg{Kind: ArgZeroAddress} }

// Str is a string literal argument.
func Str(s string) Arg { return Arg{Kind: ArgString, String: s} }

// Uint is a uint256 literal argument.
func Uint(v uint64) Arg { return Arg{Kind: ArgUint, Uint: v} }

// Bool is a bool literal argument.
func Bool(b bool) Arg { return Arg{Kind: ArgBool, Bool: b} }

// abiType is the Solidity type the argument encodes as.
func (a Arg) abiType() string {
	switch a.Kind {
	case ArgOwner, ArgContract, ArgZeroAddress:
		return "address"
	case ArgString:
		return "string"
	case ArgUint:
		return "uint256"
	case ArgBool:
		return "bool"
	default:
		return fmt.Sprintf("invalid(%d)", int(a.Kind))
	}
}

// Value resolves the argument to the Go value go-ethereum's ABI packer expects
// (common.Address, string, *big.Int or bool).
func (a Arg) Value(owner common.Address, addrs map[string]common.Address) (any, error) {
	switch a.Kind {
	case ArgOwner:
		return owner, nil
	case ArgContract:
		addr, ok := addrs[a.Contract]
		if !ok {
			return nil, fmt.Errorf("%w: no address for %q", ErrUnknownContract, a.Contract)
		}
		return addr, nil
	case ArgZeroAddress:
		return common.Address{}, nil
	case ArgString:
		return a.String, nil
	case ArgUint:
		return new(big.Int).SetUint64(a.Uint), nil
	case ArgBool:
		return a.Bool, nil
	default:
		return nil, fmt.Errorf("invalid argument kind %d", int(a.Kind))
	}
}

// Spec is one contract to deploy and how to initialize it.
type Spec struct {
	// Name is the contract name in the compiled set and in artifact file names.
	Name string
	// Init is the argument list of initialize; nil means the contract is
	// deployed but not initialized.
	Init []Arg
}

// Call is one wiring transaction sent by the owner after initialization.
type Call struct {
	Contract string
	Method   string
	Args     []Arg
}

// Contract names, spelled once.
const (
	NeverminedConfig               = "NeverminedConfig"
	NFT1155Upgradeable             = "NFT1155Upgradeable"
	NFT721Upgradeable              = "NFT721Upgradeable"
	DIDRegistry                    = "DIDRegistry"
	TemplateStoreManager           = "TemplateStoreManager"
	ConditionStoreManager          = "ConditionStoreManager"
	AgreementStoreManager          = "AgreementStoreManager"
	LockPaymentCondition           = "LockPaymentCondition"
	EscrowPaymentCondition         = "EscrowPaymentCondition"
	AccessCondition                = "AccessCondition"
	ComputeExecutionCondition      = "ComputeExecutionCondition"
	AccessTemplate                 = "AccessTemplate"
	EscrowComputeExecutionTemplate = "EscrowComputeExecutionTemplate"
	NFTHolderCondition             = "NFTHolderCondition"
	NFTLockCondition               = "NFTLockCondition"
	NFTAccessCondition             = "NFTAccessCondition"
	TransferNFTCondition           = "TransferNFTCondition"
	NFTAccessTemplate              = "NFTAccessTemplate"
	NFTSalesTemplate               = "NFTSalesTemplate"
	NFT721HolderCondition          = "NFT721HolderCondition"
	NFT721LockCondition            = "NFT721LockCondition"
	TransferNFT721Condition        = "TransferNFT721Condition"
	NFT721AccessTemplate           = "NFT721AccessTemplate"
	NFT721SalesTemplate            = "NFT721SalesTemplate"
	TransferDIDOwnershipCondition  = "TransferDIDOwnershipCondition"
	DIDSalesTemplate               = "DIDSalesTemplate"
	StandardRoyalties              = "StandardRoyalties"
	CurveRoyalties                 = "CurveRoyalties"
	NeverminedToken                = "NeverminedToken"
	Dispenser                      = "Dispenser"
	RewardsDistributor             = "RewardsDistributor"
)

// Deployment returns the 31 contracts of a Nevermined v3 dev deployment with
// their initialize recipes (CONTRACTS.md). Addresses are cross-referenced, so
// a deployer creates all of them first, then initializes each. The slice is
// new on every call.
func Deployment() []Spec {
	o := Owner()
	return []Spec{
		{NeverminedConfig, []Arg{o, o, Bool(false)}},
		{NFT1155Upgradeable, []Arg{o, Ref(DIDRegistry), Str("NVM1155"), Str("NVM"), Str(""), Ref(NeverminedConfig)}},
		{NFT721Upgradeable, []Arg{o, Ref(DIDRegistry), Str("NVM721"), Str("NVM"), Str(""), Uint(0), Ref(NeverminedConfig)}},
		{DIDRegistry, []Arg{o, Ref(NFT1155Upgradeable), Ref(NFT721Upgradeable), Ref(NeverminedConfig), ZeroAddress()}},
		{TemplateStoreManager, []Arg{o}},
		{ConditionStoreManager, []Arg{Ref(AgreementStoreManager), o, Ref(NeverminedConfig)}},
		{AgreementStoreManager, []Arg{o, Ref(ConditionStoreManager), Ref(TemplateStoreManager), Ref(DIDRegistry)}},
		{LockPaymentCondition, []Arg{o, Ref(ConditionStoreManager), Ref(DIDRegistry)}},
		{EscrowPaymentCondition, []Arg{o, Ref(ConditionStoreManager)}},
		{AccessCondition, []Arg{o, Ref(ConditionStoreManager), Ref(AgreementStoreManager)}},
		{ComputeExecutionCondition, []Arg{o, Ref(ConditionStoreManager), Ref(AgreementStoreManager)}},
		{AccessTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(DIDRegistry), Ref(AccessCondition), Ref(LockPaymentCondition), Ref(EscrowPaymentCondition)}},
		{EscrowComputeExecutionTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(DIDRegistry), Ref(ComputeExecutionCondition), Ref(LockPaymentCondition), Ref(EscrowPaymentCondition)}},
		{NFTHolderCondition, []Arg{o, Ref(ConditionStoreManager), Ref(NFT1155Upgradeable)}},
		{NFTLockCondition, []Arg{o, Ref(ConditionStoreManager), Ref(NFT1155Upgradeable)}},
		{NFTAccessCondition, []Arg{o, Ref(ConditionStoreManager), Ref(DIDRegistry)}},
		{TransferNFTCondition, []Arg{o, Ref(ConditionStoreManager), Ref(DIDRegistry), Ref(NFT1155Upgradeable), ZeroAddress()}},
		{NFTAccessTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(NFTHolderCondition), Ref(NFTAccessCondition)}},
		{NFTSalesTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(LockPaymentCondition), Ref(TransferNFTCondition), Ref(EscrowPaymentCondition)}},
		{NFT721HolderCondition, []Arg{o, Ref(ConditionStoreManager)}},
		{NFT721LockCondition, []Arg{o, Ref(ConditionStoreManager)}},
		{TransferNFT721Condition, []Arg{o, Ref(ConditionStoreManager), Ref(DIDRegistry), Ref(NFT721Upgradeable), Ref(NFT721LockCondition)}},
		{NFT721AccessTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(NFT721HolderCondition), Ref(AccessCondition)}},
		{NFT721SalesTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(LockPaymentCondition), Ref(TransferNFT721Condition), Ref(EscrowPaymentCondition)}},
		{TransferDIDOwnershipCondition, []Arg{o, Ref(ConditionStoreManager), Ref(DIDRegistry)}},
		{DIDSalesTemplate, []Arg{o, Ref(AgreementStoreManager), Ref(LockPaymentCondition), Ref(TransferDIDOwnershipCondition), Ref(EscrowPaymentCondition)}},
		{StandardRoyalties, []Arg{Ref(DIDRegistry)}},
		{CurveRoyalties, []Arg{Ref(DIDRegistry)}},
		{NeverminedToken, []Arg{o, Ref(Dispenser)}},
		{Dispenser, []Arg{Ref(NeverminedToken), o}},
		{RewardsDistributor, nil},
	}
}

// Templates returns the 7 agreement templates the node serves; each must be
// approved in TemplateStoreManager and hold the proxy role on
// AgreementStoreManager.
func Templates() []string {
	return []string{
		AccessTemplate,
		EscrowComputeExecutionTemplate,
		NFTAccessTemplate,
		NFTSalesTemplate,
		NFT721AccessTemplate,
		NFT721SalesTemplate,
		DIDSalesTemplate,
	}
}

// NFTOperators returns the contracts that get the operator role on both NFT
// contracts.
func NFTOperators() []string {
	return []string{
		DIDRegistry,
		TransferNFTCondition,
		TransferNFT721Condition,
		NFTLockCondition,
		NFT721LockCondition,
		LockPaymentCondition,
		EscrowPaymentCondition,
	}
}

// ConditionProxies returns the conditions that get the proxy role on
// ConditionStoreManager.
func ConditionProxies() []string {
	return []string{LockPaymentCondition, EscrowPaymentCondition, AccessCondition}
}

// AgreementProxyHolders returns the conditions that grant the proxy role to
// AgreementStoreManager.
func AgreementProxyHolders() []string {
	return []string{LockPaymentCondition, TransferNFTCondition, TransferNFT721Condition}
}

// Wiring returns the owner's calls that follow initialization, in an order
// that works (each template is proposed before it is approved). Without them
// agreements revert with "Proxy role required". The slice is new on every call.
func Wiring() []Call {
	var calls []Call
	for _, t := range Templates() {
		calls = append(calls, Call{TemplateStoreManager, "proposeTemplate", []Arg{Ref(t)}})
	}
	for _, t := range Templates() {
		calls = append(calls, Call{TemplateStoreManager, "approveTemplate", []Arg{Ref(t)}})
	}
	calls = append(calls,
		Call{DIDRegistry, "registerRoyaltiesChecker", []Arg{Ref(StandardRoyalties)}},
		Call{DIDRegistry, "setDefaultRoyalties", []Arg{Ref(StandardRoyalties)}},
	)
	for _, t := range Templates() {
		calls = append(calls, Call{AgreementStoreManager, "grantProxyRole", []Arg{Ref(t)}})
	}
	for _, c := range ConditionProxies() {
		calls = append(calls, Call{ConditionStoreManager, "grantProxyRole", []Arg{Ref(c)}})
	}
	for _, c := range AgreementProxyHolders() {
		calls = append(calls, Call{c, "grantProxyRole", []Arg{Ref(AgreementStoreManager)}})
	}
	for _, nft := range []string{NFT1155Upgradeable, NFT721Upgradeable} {
		for _, op := range NFTOperators() {
			calls = append(calls, Call{nft, "grantOperatorRole", []Arg{Ref(op)}})
		}
	}
	return calls
}
