package chain

import (
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

const agreementCreatedABI = `[{"type":"event","name":"AgreementCreated","anonymous":false,"inputs":[
{"indexed":true,"name":"_agreementId","type":"bytes32"},{"indexed":false,"name":"_did","type":"bytes32"},
{"indexed":true,"name":"_accessConsumer","type":"address"},{"indexed":true,"name":"_accessProvider","type":"address"},
{"indexed":false,"name":"_timeLocks","type":"uint256[]"},{"indexed":false,"name":"_timeOuts","type":"uint256[]"},
{"indexed":false,"name":"_conditionIdSeeds","type":"bytes32[]"},{"indexed":false,"name":"_conditionIds","type":"bytes32[]"},
{"indexed":false,"name":"_idSeed","type":"bytes32"},{"indexed":false,"name":"_creator","type":"address"}]}]`

func agreementCreatedEvent(tb testing.TB) abi.Event {
	tb.Helper()
	a, err := abi.JSON(strings.NewReader(agreementCreatedABI))
	if err != nil {
		tb.Fatal(err)
	}
	return a.Events["AgreementCreated"]
}

// FuzzDecodeAgreementCreated: log data comes from an RPC the node does not
// control; whatever it holds, decoding errors out instead of panicking.
func FuzzDecodeAgreementCreated(f *testing.F) {
	ev := agreementCreatedEvent(f)
	good, err := ev.Inputs.NonIndexed().Pack(common.Hash{1}, []*big.Int{big.NewInt(0)}, []*big.Int{big.NewInt(0)},
		[][32]byte{{2}}, [][32]byte{{3}}, common.Hash{4}, common.Address{5})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add(good[:100])
	topics := []common.Hash{ev.ID, {9}, {8}, {7}}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeAgreementCreated(ev, data, topics, common.Address{}, 1, common.Hash{})
		if err == nil && (a == nil || a.ID != topics[1]) {
			t.Fatalf("decoded %+v", a)
		}
	})
}

func TestDecodeAgreementCreated(t *testing.T) {
	ev := agreementCreatedEvent(t)
	data, err := ev.Inputs.NonIndexed().Pack(common.Hash{1}, []*big.Int{big.NewInt(6)}, []*big.Int{big.NewInt(7)},
		[][32]byte{{2}}, [][32]byte{{3}}, common.Hash{4}, common.Address{5})
	if err != nil {
		t.Fatal(err)
	}
	consumer := common.BytesToHash(common.Address{8}.Bytes())
	a, err := decodeAgreementCreated(ev, data, []common.Hash{ev.ID, {9}, consumer, {}}, common.Address{6}, 12, common.Hash{13})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != (common.Hash{9}) || a.DID != (common.Hash{1}) || a.Consumer != (common.Address{8}) || a.IDSeed != (common.Hash{4}) ||
		a.Creator != (common.Address{5}) || a.ConditionIDs[0] != (common.Hash{3}) || a.ConditionSeeds[0] != (common.Hash{2}) ||
		a.TimeLocks[0].Int64() != 6 || a.TimeOuts[0].Int64() != 7 || a.Block != 12 || a.Template != (common.Address{6}) {
		t.Fatalf("decoded %+v", a)
	}
	if _, err := decodeAgreementCreated(ev, data[:len(data)-40], []common.Hash{ev.ID, {9}, {}, {}}, common.Address{}, 0, common.Hash{}); err == nil {
		t.Fatal("truncated data decoded")
	}
}
