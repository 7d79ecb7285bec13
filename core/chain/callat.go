package chain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
)

// CallAt runs a view method of the contract at address `at`, using the ABI
// of the artifact named abiOf. The node uses it for contracts a DDO names
// (an asset's own NFT contract) rather than the deployment's.
func (c *Client) CallAt(ctx context.Context, abiOf string, at common.Address, method string, args ...any) ([]any, error) {
	_, m, data, err := c.pack(abiOf, method, args...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	out, err := c.eth.CallContract(ctx, ethereum.CallMsg{To: &at, Data: data}, nil)
	if err != nil {
		return nil, c.err(abiOf+"."+m.Name, err)
	}
	vals, err := m.Outputs.Unpack(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %s.%s at %s: %w", ErrReverted, abiOf, m.Name, at.Hex(), err)
	}
	return vals, nil
}
