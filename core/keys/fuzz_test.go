package keys

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzDecryptPSKRSA(f *testing.F) {
	priv := refRSAKey(f)
	for _, v := range pskRSAVectors(f) {
		f.Add(v.Hash)
	}
	f.Add("")
	f.Add("|")
	f.Add("00|00")
	f.Fuzz(func(t *testing.T, hash string) {
		got, err := DecryptPSKRSA(priv, hash)
		if err != nil {
			if !errors.Is(err, ErrBadCiphertext) {
				t.Fatalf("error %v does not wrap ErrBadCiphertext", err)
			}
			return
		}
		// Anything that decrypts must re-encrypt and decrypt to the same bytes.
		again, err := EncryptPSKRSA(&priv.PublicKey, got)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecryptPSKRSA(priv, again)
		if err != nil || string(back) != string(got) {
			t.Fatalf("re-encryption round trip failed: %v", err)
		}
	})
}

func FuzzDecryptPSKECDSA(f *testing.F) {
	kr := refKeyring(f)
	data, err := os.ReadFile(filepath.Join("testdata", "ecies-eciesjs-0.4.6.json"))
	if err != nil {
		f.Fatal(err)
	}
	var doc eciesVectorsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		f.Fatal(err)
	}
	for _, v := range doc.Vectors {
		f.Add(v.Hash)
	}
	own, err := kr.EncryptPSKECDSA([]byte("hello"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(own)
	f.Add("")
	f.Fuzz(func(t *testing.T, hash string) {
		_, err := kr.DecryptPSKECDSA(hash)
		if err != nil && !errors.Is(err, ErrBadCiphertext) {
			t.Fatalf("error %v does not wrap ErrBadCiphertext", err)
		}
	})
}

func FuzzParseRSAPrivateKeyPEM(f *testing.F) {
	ref := readRef(f, "rsa_priv_key.pem")
	f.Add(ref)
	key := refRSAKey(f)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	f.Add(readRef(f, "rsa_pub_key.pem"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseRSAPrivateKeyPEM(data)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error %v does not wrap ErrBadKey", err)
			}
			return
		}
		if k.Validate() != nil {
			t.Fatal("accepted a key that does not validate")
		}
	})
}
