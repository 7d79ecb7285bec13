package keys

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"
)

// Scrypt cost parameters for [GenerateKeystoreFile]. The standard ones are what
// geth uses for real accounts (about 256 MiB and a second to decrypt); the light
// ones suit tests and throwaway development keys.
const (
	StandardScryptN = keystore.StandardScryptN
	StandardScryptP = keystore.StandardScryptP
	LightScryptN    = keystore.LightScryptN
	LightScryptP    = keystore.LightScryptP
)

// ReadKeystore returns the keystore JSON named by keyfile. The reference node's
// PROVIDER_KEYFILE holds the JSON text itself, while operators often give a
// path, so both are accepted: a value whose trimmed form starts with "{" is the
// content, anything else is a file path.
func ReadKeystore(keyfile string) ([]byte, error) {
	trimmed := strings.TrimSpace(keyfile)
	if trimmed == "" {
		return nil, fmt.Errorf("%w: empty keystore", ErrBadKey)
	}
	if strings.HasPrefix(trimmed, "{") {
		return []byte(trimmed), nil
	}
	return readKeyFile("keystore file", trimmed)
}

// DecryptKeystore decrypts an Ethereum keystore (v3, or geth's legacy v1) with
// password and returns the account's secp256k1 private key. A wrong password
// gives an error wrapping [ErrBadPassword]; a malformed keystore, one wrapping
// [ErrBadKey]. Neither error contains the password.
func DecryptKeystore(keyJSON []byte, password string) (*ecdsa.PrivateKey, error) {
	var header struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(keyJSON, &header); err != nil {
		return nil, fmt.Errorf("%w: keystore is not valid JSON: %w", ErrBadKey, err)
	}
	key, err := keystore.DecryptKey(keyJSON, password)
	if err != nil {
		if errors.Is(err, keystore.ErrDecrypt) {
			return nil, ErrBadPassword
		}
		return nil, fmt.Errorf("%w: decrypt keystore: %w", ErrBadKey, err)
	}
	// The address field is not covered by the keystore MAC; a mismatch means the
	// file was edited or mixed up, and the node would publish a wrong address.
	if header.Address != "" {
		want := strings.TrimPrefix(strings.ToLower(header.Address), "0x")
		got := strings.TrimPrefix(strings.ToLower(key.Address.Hex()), "0x")
		if want != got {
			return nil, fmt.Errorf("%w: keystore address field 0x%s does not match its key (%s)", ErrBadKey, want, key.Address.Hex())
		}
	}
	return key.PrivateKey, nil
}

// LoadProviderKey reads the keystore named by keyfile (JSON content or path, see
// [ReadKeystore]) and decrypts it with password.
func LoadProviderKey(keyfile, password string) (*ecdsa.PrivateKey, error) {
	data, err := ReadKeystore(keyfile)
	if err != nil {
		return nil, err
	}
	return DecryptKeystore(data, password)
}

// GenerateKeystoreFile creates a new secp256k1 account, encrypts it as a
// keystore v3 with password and the given scrypt costs, and writes it to path
// with mode 0600. It fails with an error wrapping fs.ErrExist if path exists.
// An empty password is refused: the file would protect nothing.
func GenerateKeystoreFile(path, password string, scryptN, scryptP int) (common.Address, error) {
	if password == "" {
		return common.Address{}, fmt.Errorf("%w: refusing to write a keystore with an empty password", ErrBadKey)
	}
	priv, err := crypto.GenerateKey()
	if err != nil {
		return common.Address{}, fmt.Errorf("keys: generate account key: %w", err)
	}
	return writeKeystore(path, priv, password, scryptN, scryptP)
}

// ImportKeystoreFile writes an existing account key, given as hex (with or
// without 0x, surrounding space ignored), as a new keystore v3 file at path,
// mode 0600, encrypted with password. It never overwrites a file, and errors
// never quote the key.
func ImportKeystoreFile(path, hexKey, password string, scryptN, scryptP int) (common.Address, error) {
	if password == "" {
		return common.Address{}, fmt.Errorf("%w: refusing to write a keystore with an empty password", ErrBadKey)
	}
	h := strings.TrimPrefix(strings.TrimSpace(hexKey), "0x")
	priv, err := crypto.HexToECDSA(h)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: the account key is not 64 hex digits of a valid secp256k1 private key", ErrBadKey)
	}
	return writeKeystore(path, priv, password, scryptN, scryptP)
}

func writeKeystore(path string, priv *ecdsa.PrivateKey, password string, scryptN, scryptP int) (common.Address, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return common.Address{}, fmt.Errorf("keys: generate keystore id: %w", err)
	}
	key := &keystore.Key{Id: id, Address: crypto.PubkeyToAddress(priv.PublicKey), PrivateKey: priv}
	data, err := keystore.EncryptKey(key, password, scryptN, scryptP)
	if err != nil {
		return common.Address{}, fmt.Errorf("keys: encrypt keystore: %w", err)
	}
	if err := writeNewFile(path, data); err != nil {
		return common.Address{}, err
	}
	return key.Address, nil
}
