package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nvm-node/nvm-node/core/pluginhost"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
)

func newPluginsCmd() *cobra.Command {
	c := &cobra.Command{Use: "plugins", Short: "Inspect the backends declared in plugins.yaml"}
	c.AddCommand(newPluginsListCmd(), newPluginsCheckCmd())
	return c
}

func newPluginsListCmd() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the plugins of plugins.yaml and whether their files match their checksums",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			entries, err := pluginhost.LoadFile(file)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tRUNTIME\tPATH\tCHECKSUM")
			var bad []string
			for _, e := range entries {
				sum := "-"
				if e.Path != "" {
					switch got, err := rpcplugin.FileSHA256(e.Path); {
					case err != nil:
						sum = "unreadable: " + err.Error()
						bad = append(bad, e.ID)
					case got == e.SHA256:
						sum = "ok"
					default:
						sum = "MISMATCH (file has " + got + ")"
						bad = append(bad, e.ID)
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.ID, e.Runtime, orDash(e.Path), sum)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			// A listing that shows a plugin the node would refuse to start
			// must not look like success to a script.
			if len(bad) > 0 {
				return fmt.Errorf("%d of %d plugins would not start (checksum mismatch or unreadable file): %v", len(bad), len(entries), bad)
			}
			return nil
		},
	}
	c.Flags().StringVar(&file, "plugins", "plugins.yaml", "the plugins.yaml to read")
	return c
}

func newPluginsCheckCmd() *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "check",
		Short: "Load every plugin of plugins.yaml as the node would, print what each reports, and why any fails",
		Long: `Load every plugin as the node would (checksum, start, version negotiation, Configure with its
config), print each one's Info, then close them. Exit status 1 when any plugin fails to load.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			entries, err := pluginhost.LoadFile(file)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context(), 2*time.Minute)
			defer cancel()
			out := c.OutOrStdout()
			var failed []string
			for _, e := range entries {
				host := pluginhost.New(pluginhost.Options{Logger: slog.New(slog.DiscardHandler)})
				if err := host.Load(ctx, []pluginhost.Entry{e}); err != nil {
					fmt.Fprintf(out, "%-24s FAIL  %v\n", e.ID, err)
					failed = append(failed, e.ID)
					continue
				}
				var info plugin.Info
				var ierr error
				if b, ok := host.Storage(e.ID); ok {
					info, ierr = b.Info(ctx)
				} else if b, ok := host.Compute(e.ID); ok {
					info, ierr = b.Info(ctx)
				}
				if ierr != nil {
					fmt.Fprintf(out, "%-24s FAIL  info: %v\n", e.ID, ierr)
					failed = append(failed, e.ID)
				} else {
					fmt.Fprintf(out, "%-24s ok    %s %s (API %d, version %s) capabilities %v\n", e.ID, info.Kind, info.Name, info.APIVersion, info.Version, info.Capabilities)
				}
				if err := host.Close(ctx); err != nil {
					fmt.Fprintf(out, "%-24s close: %v\n", e.ID, err)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d plugins failed to load: %v", len(failed), len(entries), failed)
			}
			if len(entries) == 0 {
				return errors.New("no plugins declared")
			}
			return nil
		},
	}
	c.Flags().StringVar(&file, "plugins", "plugins.yaml", "the plugins.yaml to read")
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
