package chain

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// Agreement is an agreement as its template's AgreementCreated event
// describes it (SPEC 4.4).
type Agreement struct {
	ID             common.Hash
	Template       common.Address
	TemplateName   string
	DID            common.Hash
	Consumer       common.Address // _accessConsumer
	Provider       common.Address // _accessProvider
	TimeLocks      []*big.Int
	TimeOuts       []*big.Int
	ConditionSeeds []common.Hash
	ConditionIDs   []common.Hash
	IDSeed         common.Hash
	Creator        common.Address
	Block          uint64
	TxHash         common.Hash
}

// HasCondition reports whether id is one of the agreement's condition ids.
func (a *Agreement) HasCondition(id common.Hash) bool {
	for _, c := range a.ConditionIDs {
		if c == id {
			return true
		}
	}
	return false
}

// AgreementTemplate returns the template an agreement was created with;
// the zero address means there is no such agreement.
func (c *Client) AgreementTemplate(ctx context.Context, agreementID common.Hash) (common.Address, error) {
	return one[common.Address](c.Call(ctx, contracts.AgreementStoreManager, "getAgreementTemplate", agreementID))
}

// Agreement finds an agreement: its template from the AgreementStoreManager,
// then the template's AgreementCreated event, searched backwards from the
// head in LogChunk-sized ranges down to FromBlock (or LogLookback blocks).
// It returns ErrNoAgreement when the store does not know the id or the event
// is not in the searched range. Found agreements are cached: they are
// immutable.
func (c *Client) Agreement(ctx context.Context, agreementID common.Hash) (*Agreement, error) {
	if a, ok := c.agreements.get(agreementID); ok {
		return a, nil
	}
	tmpl, err := c.AgreementTemplate(ctx, agreementID)
	if err != nil {
		return nil, err
	}
	if tmpl == (common.Address{}) {
		return nil, fmt.Errorf("%w: %s", ErrNoAgreement, agreementID)
	}
	name, ok := c.contracts.NameOf(tmpl)
	if !ok {
		return nil, fmt.Errorf("%w: agreement %s uses template %s, which is not in the artifacts", ErrAgreementMismatch, agreementID, tmpl)
	}
	ct, _ := c.contracts.Get(name)
	ev, ok := ct.ABI.Events["AgreementCreated"]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no AgreementCreated event", ErrUnknownContract, name)
	}
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return nil, err
	}
	low := c.cfg.FromBlock
	if c.cfg.LogLookback > 0 && head >= c.cfg.LogLookback && head-c.cfg.LogLookback+1 > low {
		low = head - c.cfg.LogLookback + 1
	}
	for hi := head; hi >= low; {
		lo := low
		if hi-low+1 > c.cfg.LogChunk {
			lo = hi - c.cfg.LogChunk + 1
		}
		a, err := c.agreementIn(ctx, ev, tmpl, agreementID, lo, hi)
		if err != nil {
			return nil, err
		}
		if a != nil {
			a.TemplateName = name
			c.agreements.put(agreementID, a)
			return a, nil
		}
		if lo == 0 {
			break
		}
		hi = lo - 1
	}
	return nil, fmt.Errorf("%w: %s: no AgreementCreated event in blocks %d-%d", ErrNoAgreement, agreementID, low, head)
}

func (c *Client) agreementIn(ctx context.Context, ev abiEvent, tmpl common.Address, id common.Hash, lo, hi uint64) (*Agreement, error) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	logs, err := c.eth.FilterLogs(cctx, ethereum.FilterQuery{
		FromBlock: new(big.Int).SetUint64(lo),
		ToBlock:   new(big.Int).SetUint64(hi),
		Addresses: []common.Address{tmpl},
		Topics:    [][]common.Hash{{ev.ID}, {id}},
	})
	if err != nil {
		return nil, c.err(fmt.Sprintf("AgreementCreated logs %d-%d", lo, hi), err)
	}
	for _, l := range logs {
		if l.Removed || len(l.Topics) != 4 || l.Topics[1] != id {
			continue
		}
		return decodeAgreementCreated(ev, l.Data, l.Topics, tmpl, l.BlockNumber, l.TxHash)
	}
	return nil, nil
}
