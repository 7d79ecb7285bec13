package chain_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/contracts"
)

// TestIDsMatchContracts computes every id of SPEC 4.2/4.3 locally and asks
// the deployed contracts (hashValues, generateId, agreementId, hashDID,
// fullConditionId) for the same value.
func TestIDsMatchContracts(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	call := func(contract, method string, args ...any) common.Hash {
		t.Helper()
		vals, err := e.c.Call(ctx, contract, method, args...)
		if err != nil {
			t.Fatalf("%s.%s: %v", contract, method, err)
		}
		return common.Hash(vals[0].([32]byte))
	}
	check := func(what string, local, onChain common.Hash) {
		t.Helper()
		if local != onChain {
			t.Errorf("%s: local %s, contract %s", what, local, onChain)
		}
	}
	genID := func(contract string, agreementID, valueHash common.Hash) {
		t.Helper()
		check(contract+" generateId", chain.ConditionID(agreementID, e.addr(contract), valueHash),
			call(contract, "generateId", agreementID, valueHash))
		check(contract+" fullConditionId", chain.ConditionID(agreementID, e.addr(contract), valueHash),
			call(contracts.AgreementStoreManager, "fullConditionId", agreementID, e.addr(contract), valueHash))
	}

	consumer, publisher := e.consumer.Address(), e.publisher.Address()
	didSeed := seedOf("ids asset")
	did := chain.DIDFromSeed(didSeed, publisher)
	check("hashDID", did, call(contracts.DIDRegistry, "hashDID", didSeed, publisher))
	registered := e.asset("ids asset")
	check("registered DID", did, registered)

	agSeed := seedOf("ids agreement")
	agreementID := chain.AgreementID(agSeed, consumer)
	check("agreementId", agreementID, call(contracts.AgreementStoreManager, "agreementId", agSeed, consumer))

	escrow := e.addr(contracts.EscrowPaymentCondition)
	prices := map[string]chain.Price{
		"ether": {Amounts: []*big.Int{big.NewInt(7), big.NewInt(3)}, Receivers: []common.Address{publisher, e.other.Address}},
		"token": {Token: e.addr(contracts.NeverminedToken), Amounts: []*big.Int{big.NewInt(1e18)}, Receivers: []common.Address{publisher}},
	}
	for name, p := range prices {
		lock, err := chain.LockPaymentHash(did, escrow, p)
		if err != nil {
			t.Fatal(err)
		}
		check(name+" lock hashValues", lock, call(contracts.LockPaymentCondition, "hashValues", did, escrow, p.Token, p.Amounts, p.Receivers))
		genID(contracts.LockPaymentCondition, agreementID, lock)
		lockID := chain.ConditionID(agreementID, e.addr(contracts.LockPaymentCondition), lock)

		access := chain.AccessHash(did, consumer)
		check("access hashValues", access, call(contracts.AccessCondition, "hashValues", did, consumer))
		genID(contracts.AccessCondition, agreementID, access)
		accessID := chain.ConditionID(agreementID, e.addr(contracts.AccessCondition), access)

		esc, err := chain.EscrowPaymentHash(chain.EscrowParams{DID: did, Price: p, ReturnAddress: consumer,
			LockPayment: escrow, LockCondition: lockID, ReleaseCondition: accessID})
		if err != nil {
			t.Fatal(err)
		}
		check(name+" escrow hashValues", esc, call(contracts.EscrowPaymentCondition, "hashValues", did, p.Amounts, p.Receivers,
			consumer, escrow, p.Token, lockID, accessID))
		check(name+" escrow hashValuesMulti", esc, call(contracts.EscrowPaymentCondition, "hashValuesMulti", did, p.Amounts, p.Receivers,
			consumer, escrow, p.Token, lockID, [][32]byte{accessID}))
		genID(contracts.EscrowPaymentCondition, agreementID, esc)

		// The template computes the same ids from the same seeds.
		seeds, ids, err := e.c.AccessConditions(agreementID, did, consumer, p)
		if err != nil {
			t.Fatal(err)
		}
		if seeds.Lock != lock || seeds.Access != access || seeds.Escrow != esc || ids.Lock != lockID || ids.Access != accessID {
			t.Errorf("%s: AccessConditions disagrees with the single hashes", name)
		}
	}

	nft1155, nft721 := e.addr(contracts.NFT1155Upgradeable), e.addr(contracts.NFT721Upgradeable)
	holder, err := chain.NFTHolderHash(did, consumer, big.NewInt(5), nft1155)
	if err != nil {
		t.Fatal(err)
	}
	check("nft holder hashValues", holder, call(contracts.NFTHolderCondition,
		"hashValues(bytes32,address,uint256,address)", did, consumer, big.NewInt(5), nft1155))
	// The 3-argument form uses the default NFT1155 contract.
	check("nft holder hashValues (default contract)", holder, call(contracts.NFTHolderCondition,
		"hashValues(bytes32,address,uint256)", did, consumer, big.NewInt(5)))
	genID(contracts.NFTHolderCondition, agreementID, holder)
	holder721, err := chain.NFTHolderHash(did, consumer, big.NewInt(1), nft721)
	if err != nil {
		t.Fatal(err)
	}
	check("nft721 holder hashValues", holder721, call(contracts.NFT721HolderCondition, "hashValues", did, consumer, big.NewInt(1), nft721))
	genID(contracts.NFT721HolderCondition, agreementID, holder721)

	registry := e.addr(contracts.DIDRegistry)
	nftAccess := chain.NFTAccessHash(did, consumer, registry)
	check("nft access hashValues (2 args)", nftAccess, call(contracts.NFTAccessCondition, "hashValues(bytes32,address)", did, consumer))
	check("nft access hashValues (3 args)", chain.NFTAccessHash(did, consumer, nft1155),
		call(contracts.NFTAccessCondition, "hashValues(bytes32,address,address)", did, consumer, nft1155))
	genID(contracts.NFTAccessCondition, agreementID, nftAccess)

	lockID := chain.ConditionID(agreementID, e.addr(contracts.LockPaymentCondition), seedOf("some lock"))
	for _, transfer := range []bool{true, false} {
		p := chain.TransferNFTParams{DID: did, Holder: publisher, Receiver: consumer, Amount: big.NewInt(3),
			LockCondition: lockID, NFTContract: nft1155, Transfer: transfer}
		h, err := chain.TransferNFTHash(p)
		if err != nil {
			t.Fatal(err)
		}
		check("transfer nft hashValues", h, call(contracts.TransferNFTCondition,
			"hashValues(bytes32,address,address,uint256,bytes32,address,bool)", did, publisher, consumer, big.NewInt(3), lockID, nft1155, transfer))
		genID(contracts.TransferNFTCondition, agreementID, h)

		p.Amount, p.NFTContract = big.NewInt(1), nft721
		h721, err := chain.TransferNFTHash(p)
		if err != nil {
			t.Fatal(err)
		}
		check("transfer nft721 hashValues", h721, call(contracts.TransferNFT721Condition,
			"hashValues", did, publisher, consumer, big.NewInt(1), lockID, nft721, transfer))
		genID(contracts.TransferNFT721Condition, agreementID, h721)
	}

	compute := chain.ComputeExecutionHash(did, consumer)
	check("compute hashValues", compute, call(contracts.ComputeExecutionCondition, "hashValues", did, consumer))
	genID(contracts.ComputeExecutionCondition, agreementID, compute)
}
