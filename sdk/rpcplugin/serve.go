package rpcplugin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/nvm-node/nvm-node/sdk/compute"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// handshake is shared by both sides; the cookie only stops a plugin binary
// run by hand from waiting for a node that is not there.
func handshake(protocolVersion int) goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  uint(protocolVersion),
		MagicCookieKey:   "NVM_NODE_PLUGIN",
		MagicCookieValue: "d5b6a1c4-nvm-node-backend",
	}
}

// pluginName is the single entry of the go-plugin plugin set.
const pluginName = "backend"

// grpcPlugin adapts a backend to go-plugin.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl plugin.Plugin // nil on the host side
	fds  *fdSender     // the plugin's descriptor channel, if the node gave one
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterLifecycleServer(s, &lifecycleServer{p: p.impl})
	switch b := p.impl.(type) {
	case storage.Backend:
		pb.RegisterStorageServer(s, &storageServer{b: b, fds: p.fds})
	case compute.Backend:
		pb.RegisterComputeServer(s, &computeServer{b: b})
	default:
		return fmt.Errorf("rpcplugin: %T implements neither storage.Backend nor compute.Backend", p.impl)
	}
	return nil
}

func (p *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return conn, nil
}

// Description is what `plugin describe` prints, as JSON.
type Description struct {
	plugin.Info
	// ProtocolVersion is the node-plugin protocol version the binary speaks.
	ProtocolVersion int `json:"protocolVersion"`
}

// Serve serves b to the node that started this process and returns only
// when the node is done with it; it then exits the process. Run with the
// single argument "describe", it prints b's Description as JSON and exits.
// b must implement storage.Backend or compute.Backend.
func Serve(b plugin.Plugin) {
	ctx := context.Background()
	info, err := b.Info(ctx)
	if err == nil {
		err = info.Validate()
	}
	if err == nil {
		switch b.(type) {
		case storage.Backend, compute.Backend:
		default:
			err = fmt.Errorf("%T implements neither storage.Backend nor compute.Backend", b)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rpcplugin: %v\n", err)
		os.Exit(1)
	}
	if len(os.Args) == 2 && os.Args[1] == "describe" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(Description{Info: info, ProtocolVersion: plugin.ProtocolVersion}); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	go exitWhenOrphaned(os.Getppid())
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: handshake(plugin.ProtocolVersion),
		Plugins:         goplugin.PluginSet{pluginName: &grpcPlugin{impl: b, fds: fdSenderFromEnv()}},
		GRPCServer:      newServer,
		// JSON on the real stderr, which the node parses into its log.
		Logger: hclog.New(&hclog.LoggerOptions{Name: info.ID(), Level: hclog.Info, Output: os.Stderr, JSONFormat: true}),
	})
	os.Exit(0)
}

// exitWhenOrphaned ends the process once its parent is gone (it is then
// re-parented), so a plugin never outlives the node, even where the kernel
// offers no parent-death signal.
func exitWhenOrphaned(parent int) {
	for {
		time.Sleep(time.Second)
		if os.Getppid() != parent {
			fmt.Fprintln(os.Stderr, `{"@level":"error","@message":"node process is gone; plugin exiting"}`)
			os.Exit(2)
		}
	}
}
