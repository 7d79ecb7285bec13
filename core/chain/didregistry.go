package chain

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// MetadataURL returns the metadata URL DIDRegistry records for did
// (getDIDRegister's url), "" when the DID is not registered.
func (c *Client) MetadataURL(ctx context.Context, did common.Hash) (string, error) {
	vals, err := c.Call(ctx, contracts.DIDRegistry, "getDIDRegister", did)
	if err != nil {
		return "", err
	}
	if len(vals) < 3 {
		return "", fmt.Errorf("%w: getDIDRegister answered %d values", ErrReverted, len(vals))
	}
	owner, _ := vals[0].(common.Address)
	url, _ := vals[2].(string)
	if owner == (common.Address{}) {
		return "", nil
	}
	return url, nil
}
