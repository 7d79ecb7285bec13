package chain

import (
	"context"

	"github.com/ethereum/go-ethereum/common"
)

// CallAt runs a view method of the contract at address `at`, using the ABI
// of the artifact named abiOf. The node uses it for contracts a DDO names
// (an asset's own NFT contract) rather than the deployment's.
func (c *Client) CallAt(ctx context.Context, abiOf string, at common.Address, method string, args ...any) ([]any, error) {
	ct, err := c.contracts.Get(abiOf)
	if err != nil {
		return nil, err
	}
	m, err := ct.Method(method)
	if err != nil {
		return nil, err
	}
	return c.callAt(ctx, at, m, args...)
}
