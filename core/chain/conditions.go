package chain

import (
	"context"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// ConditionState is ConditionStoreLibrary.ConditionState (SPEC 4.1).
type ConditionState uint8

// The condition states. Only Unfulfilled moves, to Fulfilled or Aborted.
const (
	StateUninitialized ConditionState = 0
	StateUnfulfilled   ConditionState = 1
	StateFulfilled     ConditionState = 2
	StateAborted       ConditionState = 3
)

// String names the state.
func (s ConditionState) String() string {
	switch s {
	case StateUninitialized:
		return "Uninitialized"
	case StateUnfulfilled:
		return "Unfulfilled"
	case StateFulfilled:
		return "Fulfilled"
	case StateAborted:
		return "Aborted"
	}
	return fmt.Sprintf("ConditionState(%d)", uint8(s))
}

// Condition is ConditionStoreManager.getCondition.
type Condition struct {
	TypeRef     common.Address // the condition contract
	State       ConditionState
	TimeLock    *big.Int
	TimeOut     *big.Int
	BlockNumber *big.Int
}

// Condition reads a condition from the ConditionStoreManager. An id that was
// never created reads as Uninitialized with a zero TypeRef.
func (c *Client) Condition(ctx context.Context, id common.Hash) (*Condition, error) {
	vals, err := c.Call(ctx, contracts.ConditionStoreManager, "getCondition", id)
	if err != nil {
		return nil, err
	}
	if len(vals) != 5 {
		return nil, fmt.Errorf("%w: getCondition answered %d values", ErrReverted, len(vals))
	}
	cond := &Condition{}
	var ok [5]bool
	cond.TypeRef, ok[0] = vals[0].(common.Address)
	var st uint8
	st, ok[1] = vals[1].(uint8)
	cond.State = ConditionState(st)
	cond.TimeLock, ok[2] = vals[2].(*big.Int)
	cond.TimeOut, ok[3] = vals[3].(*big.Int)
	cond.BlockNumber, ok[4] = vals[4].(*big.Int)
	for _, o := range ok {
		if !o {
			return nil, fmt.Errorf("%w: getCondition answered unexpected types", ErrReverted)
		}
	}
	if cond.State == StateFulfilled {
		c.fulfilled.put(id, struct{}{})
	}
	return cond, nil
}

// ConditionState reads a condition's state. Fulfilled is final, so it is
// cached and answered without a request; every other state is read afresh.
func (c *Client) ConditionState(ctx context.Context, id common.Hash) (ConditionState, error) {
	if _, ok := c.fulfilled.get(id); ok {
		return StateFulfilled, nil
	}
	return c.readConditionState(ctx, id)
}

// readConditionState always asks the chain (used before sending a fulfil).
func (c *Client) readConditionState(ctx context.Context, id common.Hash) (ConditionState, error) {
	st, err := one[uint8](c.Call(ctx, contracts.ConditionStoreManager, "getConditionState", id))
	if err != nil {
		return 0, err
	}
	s := ConditionState(st)
	if s == StateFulfilled {
		c.fulfilled.put(id, struct{}{})
	}
	return s, nil
}
