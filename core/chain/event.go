package chain

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
)

type abiEvent = abi.Event

// decodeAgreementCreated decodes
// AgreementCreated(bytes32 indexed _agreementId, bytes32 _did, address indexed _accessConsumer,
// address indexed _accessProvider, uint[] _timeLocks, uint[] _timeOuts, bytes32[] _conditionIdSeeds,
// bytes32[] _conditionIds, bytes32 _idSeed, address _creator).
func decodeAgreementCreated(ev abi.Event, data []byte, topics []common.Hash, tmpl common.Address, block uint64, tx common.Hash) (*Agreement, error) {
	m := map[string]any{}
	if err := ev.Inputs.NonIndexed().UnpackIntoMap(m, data); err != nil {
		return nil, fmt.Errorf("%w: AgreementCreated: %w", ErrReverted, err)
	}
	a := &Agreement{
		ID:       topics[1],
		Template: tmpl,
		Consumer: common.BytesToAddress(topics[2].Bytes()),
		Provider: common.BytesToAddress(topics[3].Bytes()),
		Block:    block,
		TxHash:   tx,
	}
	var ok [7]bool
	var did, seed [32]byte
	var seeds, ids [][32]byte
	did, ok[0] = m["_did"].([32]byte)
	a.TimeLocks, ok[1] = m["_timeLocks"].([]*big.Int)
	a.TimeOuts, ok[2] = m["_timeOuts"].([]*big.Int)
	seeds, ok[3] = m["_conditionIdSeeds"].([][32]byte)
	ids, ok[4] = m["_conditionIds"].([][32]byte)
	seed, ok[5] = m["_idSeed"].([32]byte)
	a.Creator, ok[6] = m["_creator"].(common.Address)
	for i, o := range ok {
		if !o {
			return nil, fmt.Errorf("%w: AgreementCreated: field %d has an unexpected type", ErrReverted, i)
		}
	}
	a.DID, a.IDSeed = did, seed
	for _, s := range seeds {
		a.ConditionSeeds = append(a.ConditionSeeds, s)
	}
	for _, s := range ids {
		a.ConditionIDs = append(a.ConditionIDs, s)
	}
	return a, nil
}
