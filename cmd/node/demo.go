//go:build !nodevchain

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/spf13/cobra"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/chain"
	"github.com/nvm-node/nvm-node/core/client"
	"github.com/nvm-node/nvm-node/core/devchain"
)

func init() { extraCommands = append(extraCommands, newDemoCmd) }

// findDevNode returns the URL a running `node dev` recorded in dataDir, or
// the dev node's default address.
func findDevNode(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, devURLFile))
	if u := strings.TrimSpace(string(b)); err == nil && strings.HasPrefix(u, "http") {
		return u
	}
	return "http://127.0.0.1:8030"
}

func newDemoCmd() *cobra.Command {
	var nodeURL, dataDir string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a publish, buy and download flow against a running `node dev`",
		Long: `Run the whole flow against a running dev node, printing each step: a publisher (dev account 1)
publishes a file for sale, downloads it as owner; a consumer (dev account 2) orders and pays in
ether, gets an access token (the node verifies the payment and fulfils the agreement on-chain)
and downloads the file; the escrow pays the publisher. The file is served by this command on
127.0.0.1 (the dev node may fetch loopback URLs).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if nodeURL == "" {
				nodeURL = findDevNode(dataDir)
			}
			return runDemo(c.Context(), c.OutOrStdout(), nodeURL)
		},
	}
	c.Flags().StringVar(&nodeURL, "node", "", "the dev node's URL (default: the one the dev node in --data-dir recorded, else http://127.0.0.1:8030)")
	c.Flags().StringVar(&dataDir, "data-dir", "./.nvm-dev", "the dev node's data directory, where it records its URL")
	return c
}

func runDemo(ctx context.Context, out io.Writer, nodeURL string) error {
	step := 0
	say := func(format string, a ...any) {
		step++
		fmt.Fprintf(out, "%2d. %s\n", step, fmt.Sprintf(format, a...))
	}
	accounts, err := devchain.DevAccounts(3)
	if err != nil {
		return err
	}
	publisher, consumer := accounts[1], accounts[2]

	cl, err := client.Dial(ctx, nodeURL, "", "")
	if err != nil {
		return fmt.Errorf("is `node dev` running at %s? %w", nodeURL, err)
	}
	defer cl.Close()
	say("node %s: provider %s, chain %d (%s) at %s", nodeURL, cl.Info.ProviderAddress, cl.Info.ChainID, cl.Info.Network, cl.Info.KeeperURL)

	content := []byte("station,year,mean_temp_c\nheathrow,2011,11.8\nbraemar,2011,7.1\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write(content)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fileURL := "http://" + ln.Addr().String() + "/weather.csv"
	say("serving the publisher's file at %s", fileURL)

	price := chain.Price{Amounts: []*big.Int{big.NewInt(1e16)}, Receivers: []common.Address{publisher.Address}}
	t0 := time.Now()
	did, err := cl.PublishAccess(ctx, publisher.Key, client.AccessAsset{
		Name: "UK weather 2011", Author: "demo", Price: price,
		Files: []client.File{{URL: fileURL, Name: "weather.csv", ContentType: "text/csv"}},
	})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	say("publisher %s registered %s on chain and stored its DDO, file list sealed for the node (%s)", publisher.Address.Hex(), client.DIDString(did), since(t0))

	t0 = time.Now()
	tok, err := cl.Token(ctx, publisher.Key, map[string]any{"aud": auth.AudienceDownload, "did": client.DIDString(did)})
	if err != nil {
		return fmt.Errorf("owner token: %w", err)
	}
	var buf bytes.Buffer
	n, err := cl.Download(ctx, "/api/v1/node/services/download/0", tok, &buf)
	if err != nil {
		return fmt.Errorf("owner download: %w", err)
	}
	say("the owner downloaded %d bytes (%s)", n, since(t0))

	if _, err := cl.Token(ctx, consumer.Key, map[string]any{"aud": auth.AudienceDownload, "did": client.DIDString(did)}); err != nil {
		say("a consumer who has not paid is refused: %v", err)
	} else {
		return fmt.Errorf("the node granted a download to a consumer who did not pay")
	}

	before, err := cl.Chain.Balance(ctx, publisher.Address)
	if err != nil {
		return err
	}
	t0 = time.Now()
	agreement, err := cl.OrderAccess(ctx, consumer.Key, did, price)
	if err != nil {
		return fmt.Errorf("order: %w", err)
	}
	say("consumer %s created agreement %s and locked %s wei (%s)", consumer.Address.Hex(), agreement.Hex(), price.Total(), since(t0))

	t0 = time.Now()
	tok, err = cl.Token(ctx, consumer.Key, map[string]any{"aud": auth.AudienceAccess, "sub": agreement.Hex(), "did": client.DIDString(did)})
	if err != nil {
		return fmt.Errorf("access token: %w", err)
	}
	say("the node verified the payment, fulfilled access and escrow on-chain, and issued an access token (%s)", since(t0))

	buf.Reset()
	t0 = time.Now()
	if n, err = cl.Download(ctx, client.AccessPath(agreement, 0), tok, &buf); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if !bytes.Equal(buf.Bytes(), content) {
		return fmt.Errorf("downloaded %d bytes that differ from the file", n)
	}
	say("the consumer downloaded %d bytes, identical to the file (%s)", n, since(t0))

	after, err := cl.Chain.Balance(ctx, publisher.Address)
	if err != nil {
		return err
	}
	say("the escrow paid the publisher %s wei", new(big.Int).Sub(after, before))
	fmt.Fprintln(out, "demo complete")
	return nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
