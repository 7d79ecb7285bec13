package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nvm-node/nvm-node/core/keys"
)

func newKeysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the node's keys",
	}
	c.AddCommand(newKeysGenerateCmd(), newKeysImportCmd())
	return c
}

// newKeystorePassword reads the password a new keystore is encrypted with.
func newKeystorePassword(c *cobra.Command, passwordFile string, passwordStdin bool) (string, error) {
	var password string
	switch {
	case passwordFile != "" && passwordStdin:
		return "", errors.New("give --password-file or --password-stdin, not both")
	case passwordFile != "":
		var err error
		if password, err = readPassword(passwordFile); err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
	case passwordStdin:
		line, err := bufio.NewReader(c.InOrStdin()).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	default:
		return "", errors.New("a keystore password is required: --password-file FILE or --password-stdin")
	}
	if len(password) < 8 {
		return "", errors.New("the keystore password must be at least 8 characters")
	}
	return password, nil
}

func newKeysImportCmd() *cobra.Command {
	var keyFile, out, passwordFile string
	var passwordStdin, light bool
	c := &cobra.Command{
		Use:   "import",
		Short: "Write an existing provider account key (hex) as an encrypted keystore v3 file",
		Long: `Read an existing account's private key as hex (64 digits, 0x optional) from --key-file, and
write it as an encrypted keystore v3 file provider-keystore.json, mode 0600, in --out. An operator
moving from the reference node keeps the provider address its assets name. The key is never
printed; the file is never overwritten. The password comes from --password-file or --password-stdin.
RSA keys are PEM files the node reads as they are (keys.rsa_private_key_file, RSA_PRIVKEY_FILE).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if keyFile == "" {
				return errors.New("--key-file is required: a file holding the account's private key as hex")
			}
			hexKey, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("--key-file: %w", err)
			}
			password, err := newKeystorePassword(c, passwordFile, passwordStdin)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			ks := filepath.Join(out, "provider-keystore.json")
			if _, err := os.Lstat(ks); err == nil {
				return fmt.Errorf("%s already exists; refusing to overwrite it", ks)
			}
			n, p := keys.StandardScryptN, keys.StandardScryptP
			if light {
				n, p = keys.LightScryptN, keys.LightScryptP
			}
			addr, err := keys.ImportKeystoreFile(ks, string(hexKey), password, n, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "provider address: %s\nkeystore:         %s\n", addr.Hex(), ks)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&keyFile, "key-file", "", "file holding the account's private key as hex")
	fl.StringVar(&out, "out", ".", "directory to write provider-keystore.json to")
	fl.StringVar(&passwordFile, "password-file", "", "file holding the new keystore's password")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the new keystore's password from standard input")
	fl.BoolVar(&light, "light", false, "light scrypt cost (fast to open; for test keys only)")
	return c
}

func newKeysGenerateCmd() *cobra.Command {
	var out, passwordFile string
	var passwordStdin, light bool
	var rsaBits int
	c := &cobra.Command{
		Use:   "generate",
		Short: "Make a new provider account (keystore v3) and RSA key pair",
		Long: `Make a new Ethereum account, written as an encrypted keystore v3 file, and an RSA key pair,
all with mode 0600 in --out. Existing files are never overwritten.

The keystore password comes from --password-file or, with --password-stdin, from the first line
of standard input. Point the node at the files with keys.provider_keyfile, keys.provider_password
(or keys.provider_password_file), keys.rsa_private_key_file and keys.rsa_public_key_file, or the
reference variables PROVIDER_KEYFILE, PROVIDER_PASSWORD, RSA_PRIVKEY_FILE and RSA_PUBKEY_FILE.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			password, err := newKeystorePassword(c, passwordFile, passwordStdin)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			n, p := keys.StandardScryptN, keys.StandardScryptP
			if light {
				n, p = keys.LightScryptN, keys.LightScryptP
			}
			ks := filepath.Join(out, "provider-keystore.json")
			priv, pub := filepath.Join(out, "rsa_priv_key.pem"), filepath.Join(out, "rsa_pub_key.pem")
			// Check every target first so that a refusal leaves nothing half made.
			for _, f := range []string{ks, priv, pub} {
				if _, err := os.Lstat(f); err == nil {
					return fmt.Errorf("%s already exists; refusing to overwrite it", f)
				}
			}
			addr, err := keys.GenerateKeystoreFile(ks, password, n, p)
			if err != nil {
				return err
			}
			if _, err := keys.GenerateRSAKeyFiles(priv, pub, rsaBits); err != nil {
				_ = os.Remove(ks)
				return err
			}
			w := c.OutOrStdout()
			fmt.Fprintf(w, "provider address: %s\n", addr.Hex())
			fmt.Fprintf(w, "keystore:         %s\n", ks)
			fmt.Fprintf(w, "RSA private key:  %s\n", priv)
			fmt.Fprintf(w, "RSA public key:   %s\n", pub)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&out, "out", ".", "directory to write the key files to")
	fl.StringVar(&passwordFile, "password-file", "", "file holding the keystore password")
	fl.BoolVar(&passwordStdin, "password-stdin", false, "read the keystore password from standard input")
	fl.IntVar(&rsaBits, "rsa-bits", 3072, "RSA key size in bits")
	fl.BoolVar(&light, "light", false, "light scrypt cost (fast to open; for test keys only)")
	return c
}
