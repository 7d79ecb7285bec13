// Command benchdownload prepares a `node dev --no-chain` data directory for
// scripts/bench-download.sh: it makes the dev node's keys (as the node
// would), stores an asset whose sealed file list holds the given URLs, and
// prints a download token for it, issued with the node's own JWT secret (no
// chain is needed to authorize an owner download in a benchmark).
package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/store"
	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/filecrypt"
	"github.com/nvm-node/nvm-node/core/keys"
	"github.com/nvm-node/nvm-node/core/node"
)

func main() {
	dataDir := flag.String("data-dir", "", "the dev node's data directory")
	template := flag.String("ddo", "core/asset/testdata/ddo-access.json", "DDO to store, with its file list replaced")
	files := flag.String("files", "", `JSON file list, e.g. [{"url":"local://big.bin"}]`)
	seal := flag.String("seal", "", `"in,out": encrypt file in to out (nvm-aead-v1) with a new password, which replaces {password} in -files`)
	flag.Parse()
	if *seal != "" {
		in, out, ok := strings.Cut(*seal, ",")
		if !ok {
			fmt.Fprintln(os.Stderr, "benchdownload: -seal wants in,out")
			os.Exit(2)
		}
		pw, err := sealFile(in, out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchdownload:", err)
			os.Exit(1)
		}
		*files = strings.ReplaceAll(*files, "{password}", pw)
	}
	if err := run(*dataDir, *template, *files); err != nil {
		fmt.Fprintln(os.Stderr, "benchdownload:", err)
		os.Exit(1)
	}
}

func run(dataDir, template, files string) error {
	if dataDir == "" || files == "" {
		return errors.New("-data-dir and -files are required")
	}
	cfg, err := node.DevConfig(dataDir)
	if err != nil {
		return err
	}
	pw, err := os.ReadFile(cfg.Keys.ProviderPasswordFile)
	if err != nil {
		return err
	}
	kr, err := keys.LoadKeyring(keys.Sources{
		ProviderKeyfile: cfg.Keys.ProviderKeyfile, ProviderPassword: strings.TrimSpace(string(pw)),
		RSAPrivateKeyFile: cfg.Keys.RSAPrivateKeyFile, RSAPublicKeyFile: cfg.Keys.RSAPublicKeyFile,
	})
	if err != nil {
		return err
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(files), &list); err != nil {
		return fmt.Errorf("-files: %w", err)
	}
	plain, _ := json.Marshal(list)
	sealed, err := kr.EncryptPSKRSA(plain)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(template)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	services, _ := doc["service"].([]any)
	for _, s := range services {
		if svc, _ := s.(map[string]any); svc["type"] == "metadata" {
			svc["attributes"].(map[string]any)["encryptedFiles"] = sealed
		}
	}
	raw, _ = json.Marshal(doc)
	ddo, err := asset.DecodeDDO(raw)
	if err != nil {
		return err
	}
	st, err := store.Open(cfg.Asset.StorePath, store.Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	_ = st.Delete(ctx, ddo.ID) // a rerun replaces the asset
	err = st.Create(ctx, ddo)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	tok, err := token(key, cfg.Auth.JWTSecret, doc["id"].(string))
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// sealFile encrypts in to out as nvm-aead-v1 and returns the password.
func sealFile(in, out string) (string, error) {
	pw, err := filecrypt.NewPassword()
	if err != nil {
		return "", err
	}
	src, err := os.Open(in)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer dst.Close()
	w, err := filecrypt.NewWriter(dst, pw)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(w, src); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return pw, dst.Close()
}

// token issues a download token as the node's oauth endpoint would after
// authorizing the grantee.
func token(key *ecdsa.PrivateKey, secret, did string) (string, error) {
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{
		"iss": crypto.PubkeyToAddress(key.PublicKey).Hex(), "aud": auth.AudienceDownload, "did": did, "iat": now, "exp": now + 3600,
	})
	assertion, err := auth.SignAssertion(key, payload)
	if err != nil {
		return "", err
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{})
	if err != nil {
		return "", err
	}
	a, err := v.Verify(context.Background(), assertion)
	if err != nil {
		return "", err
	}
	tokens, err := auth.NewTokens(auth.TokenConfig{Secret: []byte(secret), TTL: 2 * time.Hour})
	if err != nil {
		return "", err
	}
	tok, _, err := tokens.Issue(a)
	return tok, err
}
