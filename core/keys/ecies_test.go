package keys

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

type eciesVectorsDoc struct {
	Version  string `json:"eciesjs_version"`
	Receiver string `json:"receiver_public_key"`
	Vectors  []struct {
		Label     string `json:"label"`
		Plaintext string `json:"plaintext_base64"`
		Hash      string `json:"hash"`
		HashHex   string `json:"hash_hex"`
	} `json:"vectors"`
}

// The vectors were produced once by eciesjs 0.4.6 itself (testdata/interop/
// ecies.mjs); they keep the format pinned even where node is not installed.
func TestDecryptPSKECDSAEciesjsVectors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "ecies-eciesjs-0.4.6.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc eciesVectorsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	kr := refKeyring(t)
	if doc.Version != "0.4.6" || "0x"+doc.Receiver != kr.ECDSAPublicKeyHex() {
		t.Fatalf("vectors are for eciesjs %s and key %s", doc.Version, doc.Receiver)
	}
	if len(doc.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range doc.Vectors {
		want, err := base64.StdEncoding.DecodeString(v.Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		got, err := kr.DecryptPSKECDSA(v.Hash)
		if err != nil {
			t.Fatalf("%s: %v", v.Label, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: decrypted %q, want %q", v.Label, got, want)
		}
		raw, err := Latin1Bytes(v.Hash)
		if err != nil || len(raw) != eciesOverhead+len(want) {
			t.Fatalf("%s: hash is %d bytes (%v), want %d", v.Label, len(raw), err, eciesOverhead+len(want))
		}
	}
}

func TestECIESRoundTripAndFormat(t *testing.T) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	msgs := [][]byte{nil, []byte("hello"), []byte("café 日本 ✓"), bytes.Repeat([]byte("0123456789abcdef"), 640)}
	for _, msg := range msgs {
		data, err := EncryptECIES(&priv.PublicKey, msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != eciesOverhead+len(msg) {
			t.Fatalf("len %d: ciphertext %d bytes, want %d", len(msg), len(data), eciesOverhead+len(msg))
		}
		if _, err := crypto.UnmarshalPubkey(data[:eciesPubLen]); err != nil {
			t.Fatalf("first 65 bytes are not an uncompressed secp256k1 point: %v", err)
		}
		if len(msg) > 0 && bytes.Contains(data, msg) {
			t.Fatal("ciphertext contains the plaintext")
		}
		got, err := DecryptECIES(priv, data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("len %d: round trip mismatch", len(msg))
		}
		hash, err := EncryptPSKECDSA(&priv.PublicKey, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err = DecryptPSKECDSA(priv, hash)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("PSK-ECDSA round trip: %q, %v", got, err)
		}
	}
}

func TestDecryptECIESMalformed(t *testing.T) {
	priv, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	good, err := EncryptECIES(&priv.PublicKey, []byte("some secret file list"))
	if err != nil {
		t.Fatal(err)
	}
	forOther, err := EncryptECIES(&other.PublicKey, []byte("some secret file list"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { c := bytes.Clone(good); c[i] ^= 0x01; return c }
	compressed := append([]byte{0x02}, good[1:33]...)
	cases := map[string][]byte{
		"empty":            nil,
		"header only - 1":  good[:eciesOverhead-1],
		"truncated":        good[:len(good)-1],
		"compressed point": append(compressed, good[33:]...),
		"prefix 0x03":      append([]byte{0x03}, good[1:]...),
		"point off curve":  flip(eciesPubLen - 1),
		"nonce tampered":   flip(eciesPubLen),
		"tag tampered":     flip(eciesPubLen + eciesNonceLen),
		"body tampered":    flip(len(good) - 1),
		"for another key":  forOther,
		"zero point":       append(append([]byte{0x04}, make([]byte, 64)...), good[eciesPubLen:]...),
	}
	for name, data := range cases {
		mustNotPanic(t, name, func() {
			if got, err := DecryptECIES(priv, data); !errors.Is(err, ErrBadCiphertext) {
				t.Errorf("%s: got %q, err = %v; want ErrBadCiphertext", name, got, err)
			}
		})
	}
	for name, hash := range map[string]string{
		"non-latin1 rune": Latin1String(good) + "日",
		"invalid UTF-8":   string(good),
	} {
		if _, err := DecryptPSKECDSA(priv, hash); !errors.Is(err, ErrBadCiphertext) {
			t.Errorf("%s: err = %v, want ErrBadCiphertext", name, err)
		}
	}
	// Key-dependent failures share one message.
	_, e1 := DecryptECIES(priv, forOther)
	_, e2 := DecryptECIES(priv, flip(len(good)-1))
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() || strings.Contains(e1.Error(), "tag") {
		t.Fatalf("authentication failures differ: %q vs %q", e1, e2)
	}
}

func TestECIESBadKeys(t *testing.T) {
	if _, err := EncryptECIES(nil, []byte("x")); !errors.Is(err, ErrBadKey) {
		t.Errorf("nil public key: err = %v", err)
	}
	priv, _ := crypto.GenerateKey()
	offCurve := &ecdsa.PublicKey{Curve: crypto.S256(), X: priv.PublicKey.X, Y: new(big.Int).Add(priv.PublicKey.Y, big.NewInt(1))}
	if _, err := EncryptECIES(offCurve, []byte("x")); !errors.Is(err, ErrBadKey) {
		t.Errorf("off-curve public key: err = %v", err)
	}
	if _, err := DecryptECIES(nil, make([]byte, 200)); !errors.Is(err, ErrBadKey) {
		t.Errorf("nil private key: err = %v", err)
	}
}
