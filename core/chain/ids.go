package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// The identifiers of SPEC 4.2/4.3 are keccak256 of standard (non-packed) ABI
// encodings. The node computes them locally, which saves one eth_call per id
// compared with the SDK; tests check every one against the contracts' own
// hashValues / generateId / agreementId views.

// abiTypes are the ABI types the preimages use.
var (
	tBytes32   = mustType("bytes32")
	tAddress   = mustType("address")
	tUint256   = mustType("uint256")
	tBool      = mustType("bool")
	tUints     = mustType("uint256[]")
	tAddresses = mustType("address[]")
	tBytes32s  = mustType("bytes32[]")
)

func mustType(s string) abi.Type {
	t, err := abi.NewType(s, "", nil)
	if err != nil {
		panic(err) // a constant type name: a typo is a programming error caught by any test
	}
	return t
}

// encodeHash is keccak256(abi.encode(values...)) for the given types.
func encodeHash(types []abi.Type, values ...any) (common.Hash, error) {
	args := make(abi.Arguments, len(types))
	for i, t := range types {
		args[i] = abi.Argument{Type: t}
	}
	b, err := args.Pack(values...)
	if err != nil {
		return common.Hash{}, fmt.Errorf("abi encode: %w", err)
	}
	return crypto.Keccak256Hash(b), nil
}

// ErrBadPrice means a price's amounts and receivers are unusable.
var ErrBadPrice = errors.New("invalid price")

// Price is what a service costs: Amounts[i] goes to Receivers[i], in Token
// (the zero address means native ether).
type Price struct {
	Token     common.Address
	Amounts   []*big.Int
	Receivers []common.Address
}

// Total is the sum of the amounts.
func (p Price) Total() *big.Int {
	t := new(big.Int)
	for _, a := range p.Amounts {
		t.Add(t, a)
	}
	return t
}

// Validate checks that the price can be paid: one amount per receiver, no
// negative amount, no duplicate receiver (the SDK collapses duplicates,
// SPEC 4.3, so ids would not match).
func (p Price) Validate() error {
	if len(p.Amounts) == 0 || len(p.Amounts) != len(p.Receivers) {
		return fmt.Errorf("%w: %d amounts for %d receivers", ErrBadPrice, len(p.Amounts), len(p.Receivers))
	}
	seen := make(map[common.Address]bool, len(p.Receivers))
	for i, a := range p.Amounts {
		if a == nil || a.Sign() < 0 {
			return fmt.Errorf("%w: amount %d is negative or missing", ErrBadPrice, i)
		}
		if seen[p.Receivers[i]] {
			return fmt.Errorf("%w: receiver %s appears twice", ErrBadPrice, p.Receivers[i])
		}
		seen[p.Receivers[i]] = true
	}
	return nil
}

// AgreementID is keccak256(abi.encode(seed, creator)); the creator is the
// account that called the template.
func AgreementID(seed common.Hash, creator common.Address) common.Hash {
	h, _ := encodeHash([]abi.Type{tBytes32, tAddress}, seed, creator) // fixed types cannot fail
	return h
}

// DIDFromSeed is the DID DIDRegistry gives a seed registered by creator.
func DIDFromSeed(seed common.Hash, creator common.Address) common.Hash {
	return AgreementID(seed, creator) // the same encoding: hashDID(seed, creator)
}

// ConditionID is generateId(agreementId, valueHash) of the condition
// contract at condition.
func ConditionID(agreementID common.Hash, condition common.Address, valueHash common.Hash) common.Hash {
	h, _ := encodeHash([]abi.Type{tBytes32, tAddress, tBytes32}, agreementID, condition, valueHash)
	return h
}

// LockPaymentHash is LockPaymentCondition.hashValues(did, rewardAddress,
// token, amounts, receivers); rewardAddress is the EscrowPaymentCondition.
func LockPaymentHash(did common.Hash, rewardAddress common.Address, p Price) (common.Hash, error) {
	return encodeHash([]abi.Type{tBytes32, tAddress, tAddress, tUints, tAddresses},
		did, rewardAddress, p.Token, p.Amounts, p.Receivers)
}

// AccessHash is AccessCondition.hashValues(did, grantee).
func AccessHash(did common.Hash, grantee common.Address) common.Hash {
	h, _ := encodeHash([]abi.Type{tBytes32, tAddress}, did, grantee)
	return h
}

// ComputeExecutionHash is ComputeExecutionCondition.hashValues(did,
// computeConsumer).
func ComputeExecutionHash(did common.Hash, consumer common.Address) common.Hash {
	return AccessHash(did, consumer) // same encoding
}

// EscrowParams are the arguments of EscrowPaymentCondition.fulfill (and,
// with the release id wrapped in a one-element bytes32[], of its hash).
type EscrowParams struct {
	DID              common.Hash
	Price            Price
	ReturnAddress    common.Address // the consumer, refunded if the release condition aborts
	LockPayment      common.Address // the EscrowPaymentCondition itself
	LockCondition    common.Hash
	ReleaseCondition common.Hash
}

// EscrowPaymentHash is EscrowPaymentCondition.hashValues(...), which hashes
// hashValuesMulti with the release id in a bytes32[] (SPEC 11.5).
func EscrowPaymentHash(e EscrowParams) (common.Hash, error) {
	return encodeHash([]abi.Type{tBytes32, tUints, tAddresses, tAddress, tAddress, tAddress, tBytes32, tBytes32s},
		e.DID, e.Price.Amounts, e.Price.Receivers, e.ReturnAddress, e.LockPayment, e.Price.Token,
		e.LockCondition, [][32]byte{e.ReleaseCondition})
}

// NFTHolderHash is NFTHolderCondition / NFT721HolderCondition
// .hashValues(did, holder, amount, nftContract).
func NFTHolderHash(did common.Hash, holder common.Address, amount *big.Int, nftContract common.Address) (common.Hash, error) {
	return encodeHash([]abi.Type{tBytes32, tAddress, tUint256, tAddress}, did, holder, amount, nftContract)
}

// NFTAccessHash is NFTAccessCondition.hashValues(did, grantee,
// nftContract); the two-argument form uses the DIDRegistry as contract.
func NFTAccessHash(did common.Hash, grantee, nftContract common.Address) common.Hash {
	h, _ := encodeHash([]abi.Type{tBytes32, tAddress, tAddress}, did, grantee, nftContract)
	return h
}

// TransferNFTParams are the hashed values of TransferNFTCondition and
// TransferNFT721Condition. The deployed v3.5.9 ABI has a 7-argument
// hashValues without the expiration block (SPEC 12 G1, settled from the ABI
// and checked against the contract in tests): the expiration is passed to
// fulfillForDelegate only.
type TransferNFTParams struct {
	DID           common.Hash
	Holder        common.Address
	Receiver      common.Address
	Amount        *big.Int // 1 for ERC-721
	LockCondition common.Hash
	NFTContract   common.Address
	Transfer      bool // transfer the holder's NFT (true) or mint (false)
}

// TransferNFTHash is the 7-argument hashValues of TransferNFTCondition
// (ERC-1155) and TransferNFT721Condition (ERC-721); both encode the same.
func TransferNFTHash(p TransferNFTParams) (common.Hash, error) {
	return encodeHash([]abi.Type{tBytes32, tAddress, tAddress, tUint256, tBytes32, tAddress, tBool},
		p.DID, p.Holder, p.Receiver, p.Amount, p.LockCondition, p.NFTContract, p.Transfer)
}
