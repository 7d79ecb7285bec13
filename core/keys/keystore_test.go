package keys

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

func TestLoadProviderKeyReference(t *testing.T) {
	content := string(readRef(t, "provider-keystore.json"))
	info := refInfo(t)
	cases := map[string]string{
		"content":                 content,
		"content with whitespace": "\n  " + content + "\n",
		"path":                    refPath("provider-keystore.json"),
	}
	for name, keyfile := range cases {
		t.Run(name, func(t *testing.T) {
			key, err := LoadProviderKey(keyfile, refPassword)
			if err != nil {
				t.Fatal(err)
			}
			if got := crypto.PubkeyToAddress(key.PublicKey).Hex(); got != refAddress || got != info.ProviderAddress {
				t.Fatalf("address = %s, want %s", got, refAddress)
			}
			if got := "0x" + hex.EncodeToString(crypto.FromECDSAPub(&key.PublicKey)); got != info.ECDSAPublicKey {
				t.Fatalf("public key = %s, want %s", got, info.ECDSAPublicKey)
			}
		})
	}
}

func TestLoadProviderKeyWrongPassword(t *testing.T) {
	const wrong = "hunter2-not-the-password"
	_, err := LoadProviderKey(string(readRef(t, "provider-keystore.json")), wrong)
	if !errors.Is(err, ErrBadPassword) {
		t.Fatalf("err = %v, want ErrBadPassword", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), refPassword) {
		t.Fatalf("error text leaks a password: %q", err)
	}
}

func TestLoadProviderKeyErrors(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(readRef(t, "provider-keystore.json"), &doc); err != nil {
		t.Fatal(err)
	}
	doc["address"] = "90f8bf6a479f320ead074411a4b0e7944ea8c9c1"
	wrongAddr, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	delete(doc, "crypto")
	noCrypto, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"empty":              "  ",
		"not json":           "{not json",
		"address mismatch":   string(wrongAddr),
		"no crypto section":  string(noCrypto),
		"unsupported cipher": strings.Replace(string(readRef(t, "provider-keystore.json")), "aes-128-ctr", "aes-256-xyz", 1),
	}
	for name, keyfile := range cases {
		mustNotPanic(t, name, func() {
			_, err := LoadProviderKey(keyfile, refPassword)
			if !errors.Is(err, ErrBadKey) {
				t.Errorf("%s: err = %v, want ErrBadKey", name, err)
			}
			if name == "address mismatch" && (err == nil || !strings.Contains(err.Error(), "does not match")) {
				t.Errorf("%s: err = %v, want an address mismatch", name, err)
			}
			if err != nil && strings.Contains(err.Error(), refPassword) {
				t.Errorf("%s: error text leaks the password: %q", name, err)
			}
		})
	}
	if _, err := LoadProviderKey(filepath.Join(t.TempDir(), "missing.json"), refPassword); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
}

func TestGenerateKeystoreFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "provider.json")
	const password = "correct horse battery staple"
	addr, err := GenerateKeystoreFile(path, password, LightScryptN, LightScryptP)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), password) {
		t.Fatal("keystore file contains the password")
	}
	var doc struct {
		Version int `json:"version"`
		Crypto  struct {
			KDF string `json:"kdf"`
		} `json:"crypto"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 3 || doc.Crypto.KDF != "scrypt" {
		t.Fatalf("version %d kdf %q, want keystore v3 with scrypt", doc.Version, doc.Crypto.KDF)
	}
	key, err := LoadProviderKey(path, password)
	if err != nil {
		t.Fatal(err)
	}
	if got := crypto.PubkeyToAddress(key.PublicKey); got != addr {
		t.Fatalf("decrypted address %s, want %s", got.Hex(), addr.Hex())
	}
	if _, err := LoadProviderKey(path, password+"x"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("wrong password: err = %v, want ErrBadPassword", err)
	}
	if _, err := GenerateKeystoreFile(path, password, LightScryptN, LightScryptP); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwrite: err = %v, want fs.ErrExist", err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Fatal("existing keystore was modified")
	}
	if _, err := GenerateKeystoreFile(filepath.Join(dir, "empty.json"), "", LightScryptN, LightScryptP); !errors.Is(err, ErrBadKey) {
		t.Fatalf("empty password: err = %v, want ErrBadKey", err)
	}
}
