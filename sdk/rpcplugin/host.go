package rpcplugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// ErrChecksum is returned by Start when a plugin binary's sha256 differs
// from the configured one.
var ErrChecksum = errors.New("plugin binary checksum mismatch")

// Config says how to start a plugin process.
type Config struct {
	// ID is the plugin id ("kind.name") the node expects; the plugin's Info
	// must match it.
	ID string
	// Path is the plugin binary.
	Path string
	// Args are passed to the binary.
	Args []string
	// SHA256 is the hex sha256 of the binary, checked before it runs.
	// Required.
	SHA256 string
	// Env is the plugin's whole environment: it does not inherit the
	// node's, which may hold secrets.
	Env []string
	// Dir is the working directory; empty means the node's.
	Dir string
	// Logger receives the plugin's log lines; nil means slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds the handshake; zero means 10s.
	StartTimeout time.Duration

	// protocolVersion overrides plugin.ProtocolVersion, for tests.
	protocolVersion int
	// noFDChannel makes every Get stream chunks, for tests of that path.
	noFDChannel bool
}

// Process is a running plugin process.
type Process struct {
	client  *goplugin.Client
	backend plugin.Plugin
	info    plugin.Info
	pid     int
	stderr  []*logWriter
	fds     *fdChannel // nil without descriptor passing
}

// Backend returns the process's backend: a storage.Backend or a
// compute.Backend according to Info().Kind. Closing it stops the process.
func (p *Process) Backend() plugin.Plugin { return p.backend }

// Info returns the Info the plugin reported at start.
func (p *Process) Info() plugin.Info { return p.info }

// Pid returns the process id.
func (p *Process) Pid() int { return p.pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool { return p.client.Exited() }

// Kill stops the process without closing its backend first: gracefully if
// it answers within two seconds, forcibly otherwise.
func (p *Process) Kill() {
	p.client.Kill()
	if p.fds != nil {
		p.fds.shut()
	}
	for _, w := range p.stderr {
		w.Flush()
	}
}

// Start verifies, starts and connects to a plugin process. ctx bounds the
// start only, not the process's life.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	version := plugin.ProtocolVersion
	if cfg.protocolVersion != 0 {
		version = cfg.protocolVersion
	}
	who := cfg.ID
	if who == "" {
		who = cfg.Path
	}
	log := cfg.Logger.With("plugin", who)

	bin, err := openVerified(cfg.Path, cfg.SHA256)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", who, err)
	}
	defer bin.Close()
	cmd := exec.Command(execPath(bin, cfg.Path), cfg.Args...)
	cmd.Args[0] = cfg.Path
	cmd.Env = append([]string{}, cfg.Env...)
	cmd.Dir = cfg.Dir
	setDeathSignal(cmd)
	// The descriptor channel is best effort: without it Gets stream
	// chunks over gRPC.
	var fdHost, fdChild *os.File
	if !cfg.noFDChannel {
		if fdHost, fdChild, err = openFDChannel(); err != nil {
			log.Debug("no descriptor passing", "err", err)
		}
	}
	if fdChild != nil {
		cmd.ExtraFiles = []*os.File{fdChild} // descriptor 3 in the plugin
		cmd.Env = append(cmd.Env, fdChannelEnv+"=3")
	}

	stderr := newLogWriter(log, "stderr", slog.LevelInfo)
	syncErr := newLogWriter(log, "stderr", slog.LevelInfo)
	syncOut := newLogWriter(log, "stdout", slog.LevelInfo)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  handshake(version),
		Plugins:          goplugin.PluginSet{pluginName: &grpcPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     cfg.StartTimeout,
		Stderr:           stderr,
		SyncStderr:       syncErr,
		SyncStdout:       syncOut,
		Logger:           hclog.NewNullLogger(),
		GRPCDialOptions:  dialOptions(),
	})
	p := &Process{client: client, stderr: []*logWriter{stderr, syncErr, syncOut}}
	fail := func(err error) (*Process, error) {
		if fdHost != nil {
			fdHost.Close()
		}
		p.Kill()
		return nil, err
	}
	rpc, err := client.Client()
	if fdChild != nil {
		fdChild.Close() // the plugin has its copy
	}
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "incompatible api version") {
			return fail(&VersionError{Plugin: who, What: "plugin protocol", NodeVersions: []int{version}})
		}
		return fail(fmt.Errorf("starting plugin %s: %w", who, err))
	}
	raw, err := rpc.Dispense(pluginName)
	if err != nil {
		return fail(fmt.Errorf("connecting to plugin %s: %w", who, err))
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !ok {
		return fail(fmt.Errorf("plugin %s: unexpected client %T", who, raw))
	}
	if fdHost != nil {
		p.fds, err = hostFDChannel(fdHost)
		fdHost = nil
		if err != nil {
			log.Debug("no descriptor passing", "err", err)
		}
	}
	if rc := client.ReattachConfig(); rc != nil && rc.Pid != 0 {
		p.pid = rc.Pid
	}
	p.backend, p.info, err = newBackend(ctx, conn, who, p.fds, p.Kill)
	if err != nil {
		return fail(err)
	}
	if cfg.ID != "" && p.info.ID() != cfg.ID {
		return fail(fmt.Errorf("plugin %s: binary %s is plugin %s", cfg.ID, cfg.Path, p.info.ID()))
	}
	log.Debug("plugin started", "pid", p.pid, "version", p.info.Version)
	return p, nil
}

// openVerified opens the binary and checks its sha256. The caller starts
// the process from the open file where the system allows, so the file that
// runs is the file that was checked even if the path is swapped meanwhile.
func openVerified(path, want string) (*os.File, error) {
	want = strings.ToLower(strings.TrimPrefix(want, "sha256:"))
	if len(want) != 2*sha256.Size {
		return nil, fmt.Errorf("%w: no valid sha256 configured for %s", ErrChecksum, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		f.Close()
		return nil, fmt.Errorf("%w: %s has sha256 %s, plugins.yaml says %s", ErrChecksum, path, got, want)
	}
	return f, nil
}

// FileSHA256 returns the hex sha256 of a file, for tools that write
// plugins.yaml.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Describe runs a plugin binary with the "describe" argument, as operators
// do to learn a plugin's id before adding it to plugins.yaml, and returns
// what it printed. The binary runs with an empty environment; ctx bounds
// it. Describe does not check a checksum: use it only on binaries you are
// about to trust, and record FileSHA256's result.
func Describe(ctx context.Context, path string) (Description, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "describe")
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		return Description{}, fmt.Errorf("%s describe: %w", path, err)
	}
	var d Description
	if err := json.Unmarshal(out, &d); err != nil {
		return Description{}, fmt.Errorf("%s describe printed no description: %w", path, err)
	}
	if err := d.Validate(); err != nil {
		return d, fmt.Errorf("%s describe: %w", path, err)
	}
	return d, nil
}
