package devchain

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Account is a funded dev account whose private key the chain knows. The keys
// are derived from a public seed, so they protect nothing: never use them
// outside a dev chain.
type Account struct {
	Address common.Address
	Key     *ecdsa.PrivateKey
}

// KeyHex returns the private key as 0x-prefixed hex, for tools that take a
// raw key (the dev chain's keys are public by construction).
func (a Account) KeyHex() string {
	return hexutil.Encode(crypto.FromECDSA(a.Key))
}

// String shows the address only, so an Account printed by mistake never
// leaks its key into a log.
func (a Account) String() string { return a.Address.Hex() }

// devAccountSeed is public on purpose: the same accounts on every machine let
// tests and docs name them.
const devAccountSeed = "nvm-node devchain account "

// DevAccounts derives n deterministic accounts. Account 0 is the contracts'
// owner on a chain started by this package.
func DevAccounts(n int) ([]Account, error) {
	accs := make([]Account, 0, n)
	for i := 0; len(accs) < n; i++ {
		if i > n+16 {
			return nil, fmt.Errorf("devchain: could not derive %d keys", n)
		}
		// A hash is a valid secp256k1 scalar except with negligible
		// probability; skip the rare miss instead of failing.
		seed := crypto.Keccak256([]byte(fmt.Sprintf("%s%d", devAccountSeed, i)))
		key, err := crypto.ToECDSA(seed)
		if err != nil {
			continue
		}
		accs = append(accs, Account{Address: crypto.PubkeyToAddress(key.PublicKey), Key: key})
	}
	return accs, nil
}
