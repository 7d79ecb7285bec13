package keys

import (
	"crypto/rsa"
	"strings"
	"testing"
)

// benchMessage is a typical encrypted payload: a DDO file list.
var benchMessage = []byte(`[` + strings.Repeat(`{"index":0,"contentType":"text/plain","url":"https://example.com/some/long/path/file.txt"},`, 9) +
	`{"index":9,"contentType":"text/plain","url":"https://example.com/last.txt"}]`)

// benchRSAKeys returns the reference 1024-bit key and a fresh 3072-bit key (the
// size this package generates by default).
func benchRSAKeys(b *testing.B) map[string]*rsa.PrivateKey {
	b.Helper()
	k3072, err := GenerateRSAKey(3072)
	if err != nil {
		b.Fatal(err)
	}
	return map[string]*rsa.PrivateKey{"rsa1024": refRSAKey(b), "rsa3072": k3072}
}

func BenchmarkEncryptPSKRSA(b *testing.B) {
	keys := benchRSAKeys(b)
	for _, name := range []string{"rsa1024", "rsa3072"} {
		pub := &keys[name].PublicKey
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(benchMessage)))
			for b.Loop() {
				if _, err := EncryptPSKRSA(pub, benchMessage); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecryptPSKRSA(b *testing.B) {
	keys := benchRSAKeys(b)
	for _, name := range []string{"rsa1024", "rsa3072"} {
		priv := keys[name]
		hash, err := EncryptPSKRSA(&priv.PublicKey, benchMessage)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(benchMessage)))
			for b.Loop() {
				if _, err := DecryptPSKRSA(priv, hash); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncryptPSKECDSA(b *testing.B) {
	kr := refKeyring(b)
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := kr.EncryptPSKECDSA(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptPSKECDSA(b *testing.B) {
	kr := refKeyring(b)
	hash, err := kr.EncryptPSKECDSA(benchMessage)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := kr.DecryptPSKECDSA(hash); err != nil {
			b.Fatal(err)
		}
	}
}
