package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/nvm-node/nvm-node/core/config"
	"github.com/nvm-node/nvm-node/core/logging"
	"github.com/nvm-node/nvm-node/core/node"
)

// extraCommands are added by files that only some builds include (demo
// needs the dev chain's accounts).
var extraCommands []func() *cobra.Command

func newRootCmd(stdout, stderr io.Writer, env []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "node",
		Short: "nvm-node: a Nevermined Node",
		Long: `nvm-node is a Nevermined Node: it checks on-chain, through the Nevermined v3 contracts, that a
consumer may access an asset, then serves, computes on and stores the publisher's data.
It speaks the REST API of the official Nevermined clients.

Start with "node dev" to run a local node on embedded defaults.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(env), newDevCmd(env), newConfigCmd(env), newKeysCmd(), newPluginsCmd(), newVersionCmd())
	for _, extra := range extraCommands {
		root.AddCommand(extra())
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage", err, c.CommandPath())
	})
	return root
}

// sourceFlags are the configuration flags shared by serve, dev and config.
type sourceFlags struct {
	configFile  string
	pluginsFile string
	sets        []string
	host        string
	port        int
	logLevel    string
}

func (f *sourceFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.configFile, "config", "", "node.yaml to read (none when empty)")
	fl.StringVar(&f.pluginsFile, "plugins", "", "plugins.yaml to read (none when empty)")
	fl.StringArrayVar(&f.sets, "set", nil, "override one key, e.g. --set server.port=9000 (repeatable)")
	fl.StringVar(&f.host, "host", "", "address to bind (server.host)")
	fl.IntVar(&f.port, "port", 0, "port to listen on (server.port)")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (log.level)")
}

// sources turns flags into config sources; flags beat every other source.
func (f *sourceFlags) sources(c *cobra.Command, env []string) (config.Sources, error) {
	src := config.Sources{NodeFile: f.configFile, PluginsFile: f.pluginsFile, Env: env}
	for _, s := range f.sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return src, fmt.Errorf("%w: --set %q: want key=value", config.ErrInvalid, s)
		}
		src.Overrides = append(src.Overrides, config.Override{Key: strings.TrimSpace(k), Value: v, Origin: "flag --set " + k})
	}
	if c.Flags().Changed("host") {
		src.Overrides = append(src.Overrides, config.Override{Key: "server.host", Value: f.host, Origin: "flag --host"})
	}
	if c.Flags().Changed("port") {
		src.Overrides = append(src.Overrides, config.Override{Key: "server.port", Value: fmt.Sprint(f.port), Origin: "flag --port"})
	}
	if c.Flags().Changed("log-level") {
		src.Overrides = append(src.Overrides, config.Override{Key: "log.level", Value: f.logLevel, Origin: "flag --log-level"})
	}
	return src, nil
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	level, err := logging.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = slog.LevelInfo // unreachable: config validation checked it
	}
	return logging.New(w, level, cfg.Log.Format)
}

func runNode(c *cobra.Command, cfg *config.Config, warnings []string) error {
	log := newLogger(c.ErrOrStderr(), cfg)
	for _, w := range warnings {
		log.Warn(w)
	}
	return serveNode(c, cfg, log)
}

func serveNode(c *cobra.Command, cfg *config.Config, log *slog.Logger) error {
	n, err := node.New(c.Context(), node.Options{Config: cfg, Version: version, Logger: log})
	if err != nil {
		return err
	}
	return n.Run(c.Context())
}

func newServeCmd(env []string) *cobra.Command {
	var f sourceFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the node with the given configuration",
		Long: `Run the node against an external chain with the configuration read from node.yaml,
plugins.yaml, the environment and flags, in rising precedence.

Environment variables: NVM_<SECTION>__<KEY> (e.g. NVM_SERVER__PORT=9000), and the reference node's
names (PORT, WEB3_PROVIDER_URL, PROVIDER_KEYFILE, PROVIDER_PASSWORD, RSA_PUBKEY_FILE,
RSA_PRIVKEY_FILE, JWT_SECRET_KEY, ARTIFACTS_FOLDER, MARKETPLACE_URI, NODE_URI, ...).
Unknown keys are errors. SIGTERM or SIGINT stops the node gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			src, err := f.sources(c, env)
			if err != nil {
				return err
			}
			cfg, warnings, err := config.Load(config.Default(), src)
			if err != nil {
				return err
			}
			return runNode(c, cfg, warnings)
		},
	}
	f.register(c)
	return c
}

// devURLFile, in a dev node's data directory, holds the URL its API listens
// on while it runs; `node demo` reads it.
const devURLFile = "node.url"

func newDevCmd(env []string) *cobra.Command {
	var f sourceFlags
	var dataDir, rpcAddr, contractsFile string
	var chainID uint64
	var noChain bool
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run a local development node on embedded defaults",
		Long: `Run a node for development with nothing to set up: the API on 127.0.0.1:8030 and an embedded
Ethereum chain (chain id 8996, JSON-RPC on 127.0.0.1:18545, the port the official SDK dials for
that chain) with the Nevermined v3 contracts deployed, the node's account funded and a few funded
dev accounts printed. Keys and chain state are kept under --data-dir, so later starts keep the
node's identity, assets and agreements. The first start compiles the contracts (about a minute).
Every serve flag and environment variable still applies on top of these defaults; setting
chain.rpc_url (WEB3_PROVIDER_URL) uses that chain instead of the embedded one.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			src, err := f.sources(c, env)
			if err != nil {
				return err
			}
			base, err := node.DevConfig(dataDir)
			if err != nil {
				return err
			}
			cfg, warnings, err := config.Load(base, src)
			if err != nil {
				return err
			}
			log := newLogger(c.ErrOrStderr(), cfg)
			for _, w := range warnings {
				log.Warn(w)
			}
			out := c.ErrOrStderr()
			if !noChain && cfg.Chain.RPCURL == "" {
				chain, err := node.StartDevChain(c.Context(), cfg, node.DevChainOptions{
					ChainID: chainID, HTTPAddr: rpcAddr, Contracts: contractsFile, Logger: log.With("component", "devchain"),
				})
				if err != nil {
					return err
				}
				defer func() {
					if err := chain.Close(context.Background()); err != nil {
						log.Error("closing the dev chain", "error", err)
					}
				}()
				fmt.Fprintf(out, "dev chain: chain id %d, JSON-RPC %s, artifacts in %s, ready in %s\n",
					chain.ChainID, chain.RPCURL, chain.ArtifactsDir, chain.ReadyIn.Round(time.Millisecond))
				fmt.Fprintln(out, "funded dev accounts (public test keys: never use them on a real network):")
				for i, a := range chain.Accounts {
					fmt.Fprintf(out, "  (%d) %s  %s\n", i, a.Address.Hex(), a.KeyHex)
				}
			}
			n, err := node.New(c.Context(), node.Options{Config: cfg, Version: version, Logger: log})
			if err != nil {
				return fmt.Errorf("%w (another node may be using the port: move this one with --port and --rpc-addr)", err)
			}
			apiURL := "http://" + n.Addr().String()
			// Printed only once the port is bound, and recorded so that
			// `node demo` finds this node wherever it listens.
			fmt.Fprintf(out, "nvm-node dev: data in %s, API on %s/ (docs at /api/v1/docs)\n", dataDir, apiURL)
			urlFile := filepath.Join(dataDir, devURLFile)
			if err := os.WriteFile(urlFile, []byte(apiURL+"\n"), 0o600); err != nil {
				log.Warn("could not record the API URL for `node demo`", "file", urlFile, "error", err)
			}
			defer os.Remove(urlFile)
			return n.Run(c.Context())
		},
	}
	f.register(c)
	fl := c.Flags()
	fl.StringVar(&dataDir, "data-dir", "./.nvm-dev", "where the dev node keeps its keys and state")
	fl.BoolVar(&noChain, "no-chain", false, "do not start the embedded chain")
	fl.Uint64Var(&chainID, "chain-id", 8996, "chain id of the embedded chain")
	fl.StringVar(&rpcAddr, "rpc-addr", "127.0.0.1:18545", "loopback address of the embedded chain's JSON-RPC (port 0 picks one)")
	fl.StringVar(&contractsFile, "contracts", "", "compiled contracts file (default: find or build it)")
	return c
}

func newConfigCmd(env []string) *cobra.Command {
	var f sourceFlags
	var dev bool
	var dataDir string
	c := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration, secrets redacted",
		Long: `Load the configuration exactly as serve (or dev, with --dev) would, report every problem,
and print the effective configuration as YAML with secrets redacted.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			src, err := f.sources(c, env)
			if err != nil {
				return err
			}
			base := config.Default()
			if dev {
				if base, err = node.DevConfig(dataDir); err != nil {
					return err
				}
			}
			cfg, warnings, err := config.Load(base, src)
			for _, w := range warnings {
				fmt.Fprintln(c.ErrOrStderr(), "warning:", w)
			}
			if err != nil {
				return err
			}
			out, err := yaml.Marshal(cfg.Redacted())
			if err != nil {
				return err
			}
			_, err = c.OutOrStdout().Write(out)
			return err
		},
	}
	f.register(c)
	c.Flags().BoolVar(&dev, "dev", false, "show the configuration of node dev")
	c.Flags().StringVar(&dataDir, "data-dir", "./.nvm-dev", "with --dev: the dev node's data directory")
	return c
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the node's version",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintln(c.OutOrStdout(), "nvm-node", version)
		},
	}
}

// readPassword reads a password from a file, without its trailing newline.
func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
