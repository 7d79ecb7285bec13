package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/keys"
	"github.com/nvm-node/nvm-node/core/pluginhost"
)

// Files `node dev` keeps under its data directory.
const (
	devKeystore = "provider-keystore.json"
	devPassword = "provider-password"
	devRSAPriv  = "rsa_priv_key.pem"
	devRSAPub   = "rsa_pub_key.pem"
	devJWT      = "jwt-secret"
)

// DevConfig returns the base configuration of `node dev`: defaults for a
// local node, with keys made on first start and kept under dataDir (mode
// 0600, the keystore encrypted with a random password stored beside it, which
// is fine for a development node and nothing else). Later starts reuse them,
// so the node keeps its identity.
func DevConfig(dataDir string) (config.Config, error) {
	cfg := config.DevDefault(dataDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return cfg, fmt.Errorf("data dir: %w", err)
	}
	path := func(name string) string { return filepath.Join(dataDir, name) }

	password, err := ensureSecretFile(path(devPassword))
	if err != nil {
		return cfg, err
	}
	if _, err := os.Stat(path(devKeystore)); errors.Is(err, fs.ErrNotExist) {
		// Light scrypt: decrypting a standard-cost keystore takes a second and
		// 256 MiB at every start, too much for a development loop.
		if _, err := keys.GenerateKeystoreFile(path(devKeystore), password, keys.LightScryptN, keys.LightScryptP); err != nil {
			return cfg, err
		}
	} else if err != nil {
		return cfg, fmt.Errorf("dev keystore: %w", err)
	}
	if _, err := os.Stat(path(devRSAPriv)); errors.Is(err, fs.ErrNotExist) {
		if _, err := keys.GenerateRSAKeyFiles(path(devRSAPriv), path(devRSAPub), 3072); err != nil {
			return cfg, err
		}
	} else if err != nil {
		return cfg, fmt.Errorf("dev RSA key: %w", err)
	}
	jwt, err := ensureSecretFile(path(devJWT))
	if err != nil {
		return cfg, err
	}
	cfg.Keys.ProviderKeyfile = path(devKeystore)
	cfg.Keys.ProviderPasswordFile = path(devPassword)
	cfg.Keys.RSAPrivateKeyFile = path(devRSAPriv)
	cfg.Keys.RSAPublicKeyFile = path(devRSAPub)
	cfg.Auth.JWTSecret = jwt
	cfg.Chain.ArtifactsFolder = path("artifacts")
	cfg.Asset.StorePath = path("metadata.db")
	cfg.Storage.AllowPrivateURLs = true // dev assets often live on localhost
	// Local storage that accepts uploads, under the data dir, unless a
	// plugins.yaml is given; the SDK's upload names all land in it.
	root, err := json.Marshal(map[string]any{"root": path("files"), "create": true})
	if err != nil {
		return cfg, err
	}
	cfg.Plugins = []pluginhost.Entry{{ID: "storage.local", Runtime: pluginhost.RuntimeBuiltin, Config: root}}
	cfg.Upload.Aliases = map[string]string{"s3": "local", "ipfs": "local", "filecoin": "local"}
	return cfg, nil
}

// ensureSecretFile returns the secret stored at path, creating a random one
// (32 bytes, hex) with mode 0600 the first time.
func ensureSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s is empty; delete it to have a new secret made", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("creating secret file: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("writing secret file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("writing secret file: %w", err)
	}
	return s, nil
}
