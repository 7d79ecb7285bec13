package devchain_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/nvm-node/nvm-node/core/contracts"
	"github.com/nvm-node/nvm-node/core/contracts/contractstest"
	"github.com/nvm-node/nvm-node/core/devchain"
)

// Condition states of ConditionStoreLibrary (SPEC 4.1).
const (
	stateUnfulfilled = 1
	stateFulfilled   = 2
)

// TestAccessAgreement runs the whole `access` flow of SPEC 4.5 on the
// deployed contracts: a consumer orders an asset through AccessTemplate
// paying in ether, the DID owner fulfils the access condition, anyone
// releases the escrow. It fails if any of the wiring that CONTRACTS.md lists
// for this flow is missing ("Proxy role required", unapproved template...).
func TestAccessAgreement(t *testing.T) {
	set := contractstest.Set(t)
	chain := start(t, devchain.Config{DataDir: t.TempDir(), Contracts: set})
	defer closeChain(t, chain)
	client, err := ethclient.Dial(chain.RPCURL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	cl := caller{t: t, client: client, set: set, chain: chain}
	addr := func(name string) common.Address {
		a, err := chain.Address(name)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	accs := chain.Accounts()
	publisher, consumer, anyone := accs[1], accs[2], accs[3]

	// The publisher registers the asset.
	didSeed := crypto.Keccak256Hash([]byte("access agreement asset"))
	cl.send(publisher, contracts.DIDRegistry, "registerAttribute", didSeed, didSeed, []common.Address{}, "http://localhost/ddo")
	did := cl.call(contracts.DIDRegistry, "hashDID", didSeed, publisher.Address)[0].([32]byte)

	// The consumer computes the condition seeds through the contracts, as
	// the SDK does, and orders with payment.
	escrow := addr(contracts.EscrowPaymentCondition)
	amounts := []*big.Int{big.NewInt(1_000_000_000_000_000)} // 0.001 ETH
	receivers := []common.Address{publisher.Address}
	seed := crypto.Keccak256Hash([]byte("agreement seed"))
	agreementID := crypto.Keccak256Hash(seed.Bytes(), common.LeftPadBytes(consumer.Address.Bytes(), 32))
	if got := cl.call(contracts.AgreementStoreManager, "agreementId", seed, consumer.Address)[0].([32]byte); common.Hash(got) != agreementID {
		t.Fatalf("agreementId: contract says %x, keccak256(abi.encode(seed, creator)) is %x", got, agreementID)
	}
	accessSeed := cl.call(contracts.AccessCondition, "hashValues", did, consumer.Address)[0].([32]byte)
	lockSeed := cl.call(contracts.LockPaymentCondition, "hashValues", did, escrow, common.Address{}, amounts, receivers)[0].([32]byte)
	lockID := cl.call(contracts.LockPaymentCondition, "generateId", agreementID, lockSeed)[0].([32]byte)
	accessID := cl.call(contracts.AccessCondition, "generateId", agreementID, accessSeed)[0].([32]byte)
	escrowSeed := cl.call(contracts.EscrowPaymentCondition, "hashValues", did, amounts, receivers, consumer.Address, escrow,
		common.Address{}, lockID, accessID)[0].([32]byte)
	escrowID := cl.call(contracts.EscrowPaymentCondition, "generateId", agreementID, escrowSeed)[0].([32]byte)

	zeros := []*big.Int{big.NewInt(0), big.NewInt(0), big.NewInt(0)}
	cl.sendValue(consumer, amounts[0], contracts.AccessTemplate, "createAgreementAndPayEscrow",
		seed, did, [][32]byte{accessSeed, lockSeed, escrowSeed}, zeros, zeros, consumer.Address,
		big.NewInt(1), escrow, common.Address{}, amounts, receivers)

	state := func(id [32]byte) uint8 {
		return cl.call(contracts.ConditionStoreManager, "getConditionState", id)[0].(uint8)
	}
	if got := cl.call(contracts.AgreementStoreManager, "getAgreementTemplate", agreementID)[0].(common.Address); got != addr(contracts.AccessTemplate) {
		t.Fatalf("agreement template = %s", got)
	}
	if s := state(lockID); s != stateFulfilled {
		t.Fatalf("lock payment state = %d, want fulfilled", s)
	}
	if s := state(accessID); s != stateUnfulfilled {
		t.Fatalf("access state = %d, want unfulfilled", s)
	}

	// AgreementCreated can be found by agreement id (SPEC 4.4).
	tmpl, _ := set.Contract(contracts.AccessTemplate)
	logs, err := client.FilterLogs(ctx, ethereum.FilterQuery{
		FromBlock: big.NewInt(1),
		Addresses: []common.Address{addr(contracts.AccessTemplate)},
		Topics:    [][]common.Hash{{tmpl.ABI.Events["AgreementCreated"].ID}, {agreementID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 {
		t.Fatalf("%d AgreementCreated logs", len(logs))
	}
	ev, err := tmpl.ABI.Unpack("AgreementCreated", logs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	ids := ev[4].([][32]byte) // _conditionIds
	if len(ids) != 3 || ids[0] != accessID || ids[1] != lockID || ids[2] != escrowID {
		t.Fatalf("event condition ids %x, want access %x lock %x escrow %x", ids, accessID, lockID, escrowID)
	}

	// The DID owner (what the node does as owner or provider) grants access.
	if cl.call(contracts.AccessCondition, "checkPermissions", consumer.Address, did)[0].(bool) {
		t.Fatal("consumer has permission before the access condition is fulfilled")
	}
	cl.send(publisher, contracts.AccessCondition, "fulfill", agreementID, did, consumer.Address)
	if s := state(accessID); s != stateFulfilled {
		t.Fatalf("access state = %d, want fulfilled", s)
	}
	if !cl.call(contracts.AccessCondition, "checkPermissions", consumer.Address, did)[0].(bool) {
		t.Fatal("consumer lacks permission after the access condition is fulfilled")
	}

	// Anyone releases the escrow to the publisher.
	before, err := client.BalanceAt(ctx, publisher.Address, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.send(anyone, contracts.EscrowPaymentCondition, "fulfill", agreementID, did, amounts, receivers,
		consumer.Address, escrow, common.Address{}, lockID, accessID)
	if s := state(escrowID); s != stateFulfilled {
		t.Fatalf("escrow state = %d, want fulfilled", s)
	}
	after, err := client.BalanceAt(ctx, publisher.Address, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := new(big.Int).Sub(after, before); got.Cmp(amounts[0]) != 0 {
		t.Fatalf("publisher received %s wei, want %s", got, amounts[0])
	}
}
