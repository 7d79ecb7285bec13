package keys

import (
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

const (
	refPassword = "secret"
	refAddress  = "0x068Ed00cF0441e4829D9784fCBe7b9e26D4BD8d0"
)

func refPath(name string) string { return filepath.Join("testdata", "reference", name) }

func readRef(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(refPath(name))
	if err != nil {
		t.Fatalf("read reference %s: %v", name, err)
	}
	return data
}

type refInfoDoc struct {
	ProviderAddress string `json:"provider-address"`
	ECDSAPublicKey  string `json:"ecdsa-public-key"`
	RSAPublicKey    string `json:"rsa-public-key"`
}

func refInfo(t testing.TB) refInfoDoc {
	t.Helper()
	var info refInfoDoc
	if err := json.Unmarshal(readRef(t, "info.json"), &info); err != nil {
		t.Fatalf("parse info.json: %v", err)
	}
	return info
}

type pskRSAVector struct {
	Label               string `json:"label"`
	Plaintext           string `json:"plaintext"`
	Hash                string `json:"hash"`
	ReferenceDecryptsTo string `json:"reference_decrypts_to"`
	RoundtripEqual      bool   `json:"roundtrip_equal"`
	ReferenceLatin1Hex  string `json:"reference_decrypts_to_latin1_hex"`
	Structure           struct {
		LeftHexChars  int `json:"left_part_hex_chars"`
		DataBytes     int `json:"iv_plus_aes_ciphertext_bytes"`
		RightHexChars int `json:"right_part_hex_chars"`
	} `json:"structure"`
}

func pskRSAVectors(t testing.TB) []pskRSAVector {
	t.Helper()
	var v []pskRSAVector
	if err := json.Unmarshal(readRef(t, "psk-rsa.json"), &v); err != nil {
		t.Fatalf("parse psk-rsa.json: %v", err)
	}
	if len(v) != 10 {
		t.Fatalf("psk-rsa.json has %d vectors, want 10", len(v))
	}
	return v
}

func refRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := ParseRSAPrivateKeyPEM(readRef(t, "rsa_priv_key.pem"))
	if err != nil {
		t.Fatalf("parse reference RSA key: %v", err)
	}
	return key
}

func refKeyring(t testing.TB) *Keyring {
	t.Helper()
	kr, err := LoadKeyring(Sources{
		ProviderKeyfile:   string(readRef(t, "provider-keystore.json")),
		ProviderPassword:  refPassword,
		RSAPrivateKeyFile: refPath("rsa_priv_key.pem"),
		RSAPublicKeyFile:  refPath("rsa_pub_key.pem"),
	})
	if err != nil {
		t.Fatalf("load reference keyring: %v", err)
	}
	return kr
}

// mustNotPanic runs f and fails the test with the input named if f panics.
func mustNotPanic(t testing.TB, name string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: panic: %v", name, r)
		}
	}()
	f()
}
