package gcsstore

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"google.golang.org/api/option"
)

// credentials is what Configure learned from a credentials file.
type credentials struct {
	json     []byte
	credType option.CredentialsType
	// signer is set for a service-account key, which can sign URLs
	// locally.
	signer *signer
}

// signer signs V4 URLs with a service account's private key.
type signer struct {
	email string
	key   []byte // PEM, as the file holds it
}

// loadCredentials reads a JSON credentials file. Its errors never quote the
// file's content: a syntax error message could otherwise echo key bytes.
func loadCredentials(path string) (*credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials_file: %w", err)
	}
	var f struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("credentials_file %s: not valid JSON (at byte %d)", path, se.Offset)
		}
		return nil, fmt.Errorf("credentials_file %s: not a JSON credentials object", path)
	}
	c := &credentials{json: data}
	switch f.Type {
	case "service_account":
		c.credType = option.ServiceAccount
		if f.ClientEmail == "" || f.PrivateKey == "" {
			return nil, fmt.Errorf("credentials_file %s: service_account without client_email or private_key", path)
		}
		if !validPrivateKey([]byte(f.PrivateKey)) {
			return nil, fmt.Errorf("credentials_file %s: private_key is not a PEM RSA private key", path)
		}
		c.signer = &signer{email: f.ClientEmail, key: []byte(f.PrivateKey)}
	case "authorized_user":
		c.credType = option.AuthorizedUser
	case "impersonated_service_account":
		c.credType = option.ImpersonatedServiceAccount
	case "external_account":
		c.credType = option.ExternalAccount
	case "":
		return nil, fmt.Errorf("credentials_file %s: no \"type\" field", path)
	default:
		return nil, fmt.Errorf("credentials_file %s: unsupported credentials type %q", path, f.Type)
	}
	return c, nil
}

// validPrivateKey reports whether key is a PEM RSA key as service-account
// files carry (PKCS#8, or PKCS#1 in old files).
func validPrivateKey(key []byte) bool {
	block, _ := pem.Decode(key)
	if block == nil {
		return false
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return true
	}
	_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	return err == nil
}
