package rpcplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// readMode says how a Get reader has been receiving its bytes.
func readMode(rc io.Reader) string {
	r, ok := rc.(*getReader)
	if !ok {
		return fmt.Sprintf("%T", rc)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.src == nil:
		return "chunks"
	case r.pipe:
		return "pipe"
	default:
		return "file"
	}
}

// expectMode is the mode a Get should use where descriptor passing works.
func expectMode(mode string) string {
	if runtime.GOOS != "linux" {
		return "chunks"
	}
	return mode
}

// inMemoryFD is inMemory with a descriptor channel between the two ends;
// serve false leaves the plugin side without it, as an older plugin.
func inMemoryFD(t *testing.T, b plugin.Plugin, serve bool) plugin.Plugin {
	t.Helper()
	hostEnd, pluginEnd, err := openFDChannel()
	if err != nil || hostEnd == nil {
		t.Skipf("no descriptor channel on %s: %v", runtime.GOOS, err)
	}
	var sender *fdSender
	if serve {
		t.Setenv(fdChannelEnv, fmt.Sprint(pluginEnd.Fd()))
		if sender = fdSenderFromEnv(); sender == nil {
			t.Fatal("fdSenderFromEnv found no channel")
		}
		if _, set := os.LookupEnv(fdChannelEnv); set {
			t.Error("fdSenderFromEnv left the variable for the backend's children")
		}
		t.Cleanup(func() { sender.conn.Close() })
	}
	pluginEnd.Close()
	fds, err := hostFDChannel(hostEnd)
	if err != nil {
		t.Fatal(err)
	}
	client, server := goplugin.TestPluginGRPCConn(t, false, goplugin.PluginSet{pluginName: &grpcPlugin{impl: b, fds: sender}})
	t.Cleanup(func() {
		server.Stop()
		client.Close()
		fds.shut()
	})
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	be, _, err := newBackend(t.Context(), raw.(*grpc.ClientConn), "in-memory", fds, nil)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// TestStorageConformanceDescriptors runs the conformance suite with
// descriptor passing: files (localstorage), pipes (memstorage), and a
// plugin that ignores the offer and streams chunks.
func TestStorageConformanceDescriptors(t *testing.T) {
	for name, c := range map[string]struct {
		backend func() plugin.Plugin
		cfg     func(t *testing.T) string
		serve   bool
	}{
		"file":          {backend: func() plugin.Plugin { return localstorage.New() }, cfg: localConfig, serve: true},
		"pipe":          {backend: func() plugin.Plugin { return memstorage.New() }, cfg: func(*testing.T) string { return "" }, serve: true},
		"offer-ignored": {backend: func() plugin.Plugin { return memstorage.New() }, cfg: func(*testing.T) string { return "" }},
	} {
		t.Run(name, func(t *testing.T) {
			storagetest.Run(t, storagetest.Options{
				New: func(t *testing.T) storage.Backend {
					b := inMemoryFD(t, c.backend(), c.serve).(storage.Backend)
					configure(t, b, c.cfg(t))
					return b
				},
				HoldsData: name != "file",
			})
		})
	}
}

func localConfig(t *testing.T) string {
	raw, _ := json.Marshal(map[string]any{"root": t.TempDir(), "noSync": true})
	return string(raw)
}

// TestStorageConformanceProcessChunks runs a real process without the
// descriptor channel, as with an older node or on other systems.
func TestStorageConformanceProcessChunks(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			b := startProcessConfig(t, Config{ID: "storage.example", Path: bin, noFDChannel: true}).Backend().(storage.Backend)
			configure(t, b, localConfig(t))
			return b
		},
	})
}

// TestStorageConformanceProcessPipe runs the suite through a real process
// whose readers are not files.
func TestStorageConformanceProcessPipe(t *testing.T) {
	bin := buildPlugins(t)["memstorage"]
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			b := startProcess(t, bin, "storage.memory", nil).Backend().(storage.Backend)
			configure(t, b, "")
			return b
		},
		HoldsData: true,
	})
}

// processes starts the example plugins, each configured and holding the
// same 8 MiB object "obj", by the read mode their Gets should use.
func processes(t *testing.T) (map[string]storage.Backend, map[string]*Process, []byte) {
	t.Helper()
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	bs, ps := map[string]storage.Backend{}, map[string]*Process{}
	for mode, cfg := range map[string]Config{
		"file":   {ID: "storage.example", Path: buildPlugins(t)["storage"]},
		"pipe":   {ID: "storage.memory", Path: buildPlugins(t)["memstorage"]},
		"chunks": {ID: "storage.example", Path: buildPlugins(t)["storage"], noFDChannel: true},
	} {
		p := startProcessConfig(t, cfg)
		b := p.Backend().(storage.Backend)
		c := ""
		if cfg.ID == "storage.example" {
			c = localConfig(t)
		}
		configure(t, b, c)
		if _, err := b.Put(t.Context(), "obj", bytes.NewReader(data), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		bs[mode], ps[mode] = b, p
	}
	return bs, ps, data
}

func TestGetModesAndRanges(t *testing.T) {
	bs, _, data := processes(t)
	for mode, b := range bs {
		for _, r := range []*storage.Range{nil, {Offset: 0, Length: 1}, {Offset: 3 << 20, Length: 2<<20 + 17}, {Offset: 8<<20 - 5, Length: -1}} {
			t.Run(fmt.Sprintf("%s/%v", mode, r), func(t *testing.T) {
				rc, _, err := b.Get(t.Context(), "obj", storage.GetOptions{Range: r})
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err != nil {
					t.Fatal(err)
				}
				want := data
				if r != nil {
					off, n, err := r.Resolve(int64(len(data)))
					if err != nil {
						t.Fatal(err)
					}
					want = data[off : off+n]
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("got %d bytes, want %d (equal prefix: %v)", len(got), len(want), bytes.HasPrefix(want, got))
				}
				// localstorage's ranged reader declares itself a file
				// section, so ranges go over the file path too.
				wantMode := expectMode(mode)
				if m := readMode(rc); m != wantMode {
					t.Errorf("read through %s, want %s", m, wantMode)
				}
			})
		}
		t.Run(mode+"/not-found", func(t *testing.T) {
			_, _, err := b.Get(t.Context(), "missing", storage.GetOptions{})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Get of a missing key: %v", err)
			}
		})
	}
}

// openFDs counts the open descriptors of a process.
func openFDs(t *testing.T, pid string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + pid + "/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// settle waits until count returns want (descriptors are closed by
// goroutines that finish after Close returns) and reports the last count.
func settle(count func() int, want int) int {
	n := count()
	for deadline := time.Now().Add(5 * time.Second); n != want && time.Now().Before(deadline); n = count() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// TestCancelMidStream closes readers part-way: the plugin's writer stops
// and no descriptor stays open on either side.
func TestCancelMidStream(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors through /proc")
	}
	bs, ps, _ := processes(t)
	for mode, b := range bs {
		t.Run(mode, func(t *testing.T) {
			pid := fmt.Sprint(ps[mode].Pid())
			self := func() int { return openFDs(t, "self") }
			plug := func() int { return openFDs(t, pid) }
			hostBefore, plugBefore := self(), plug()
			for range 3 {
				rc, _, err := b.Get(t.Context(), "obj", storage.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
					t.Fatal(err)
				}
				if m := readMode(rc); m != mode {
					t.Fatalf("read through %s, want %s", m, mode)
				}
				if mode == "pipe" && plug() <= plugBefore {
					t.Error("the plugin holds no pipe while it streams")
				}
				rc.Close()
				if _, err := rc.Read(make([]byte, 1)); err == nil {
					t.Error("Read after Close succeeded")
				}
			}
			// A Get abandoned before its first Read.
			rc, _, err := b.Get(t.Context(), "obj", storage.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rc.Close()
			if n := settle(plug, plugBefore); n != plugBefore {
				t.Errorf("plugin has %d descriptors open, %d before the reads: its writer did not stop", n, plugBefore)
			}
			if n := settle(self, hostBefore); n != hostBefore {
				t.Errorf("node has %d descriptors open, %d before the reads", n, hostBefore)
			}
			// The plugin still serves.
			if _, err := b.Stat(t.Context(), "obj"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCancelByContext cancels the Get's context before the stream opens.
func TestCancelByContext(t *testing.T) {
	bs, _, _ := processes(t)
	for mode, b := range bs {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, _, err := b.Get(ctx, "obj", storage.GetOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Get with a cancelled context: %v", mode, err)
		}
	}
}

// TestKilledAfterFileHandoff: a file handed over stays readable when the
// plugin dies; the next call reports the plugin unavailable.
func TestKilledAfterFileHandoff(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("descriptor passing is Linux only")
	}
	bs, ps, data := processes(t)
	b := bs["file"]
	rc, _, err := b.Get(t.Context(), "obj", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(ps["file"].Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for !ps["file"].Exited() {
		time.Sleep(10 * time.Millisecond)
	}
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(append(head, rest...), data) {
		t.Fatalf("read after the kill: %d bytes, %v", len(rest), err)
	}
	_, err = b.Stat(t.Context(), "obj")
	if !errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), "storage.example") {
		t.Errorf("call after the kill: %v", err)
	}
}

// BenchmarkGetModes streams one object (256 MiB, or NVM_STORAGETEST_LARGE)
// per iteration from a real plugin process through each read mode: the
// object's file handed over, a pipe the plugin fills, gRPC chunks.
func BenchmarkGetModes(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv(storagetest.LargeEnv); v != "" {
		n, err := storagetest.ParseSize(v)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	for _, mode := range []string{"file", "pipe", "chunks"} {
		cfg := Config{ID: "storage.example", Path: buildPlugins(b)["storage"], noFDChannel: mode == "chunks"}
		conf := fmt.Sprintf(`{"root":%q,"noSync":true}`, b.TempDir())
		if mode == "pipe" {
			cfg, conf = Config{ID: "storage.memory", Path: buildPlugins(b)["memstorage"]}, ""
		}
		proc := startProcessConfig(b, cfg)
		be := proc.Backend().(storage.Backend)
		if err := be.Configure(b.Context(), plugin.Config(conf)); err != nil {
			b.Fatal(err)
		}
		if _, err := be.Put(b.Context(), "big", io.LimitReader(zeros{}, size), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/%dMiB", mode, size>>20), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			cpu0 := cpuTime(proc.Pid())
			for b.Loop() {
				rc, _, err := be.Get(b.Context(), "big", storage.GetOptions{})
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				if m := readMode(rc); m != expectMode(mode) {
					b.Fatalf("read through %s, want %s", m, expectMode(mode))
				}
				rc.Close()
				if err != nil || n != size {
					b.Fatalf("copied %d of %d: %v", n, size, err)
				}
			}
			// CPU time, unlike wall time, hardly depends on what else
			// the machine runs.
			if cpu0 >= 0 {
				b.ReportMetric(float64(cpuTime(proc.Pid())-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
			}
		})
		be.Close(b.Context())
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// cpuTime returns the CPU time used so far by this process and plugin pid
// together, or -1 where /proc cannot tell.
func cpuTime(pid int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 per second).
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	var ut, st int64
	if _, err := fmt.Sscan(f[11]+" "+f[12], &ut, &st); err != nil {
		return -1
	}
	return self + time.Duration(ut+st)*10*time.Millisecond
}

type embedsSection struct{ *io.SectionReader }

func (e embedsSection) Read(p []byte) (int, error) { // e.g. decrypts
	n, err := e.SectionReader.Read(p)
	for i := range p[:n] {
		p[i] ^= 0xff
	}
	return n, err
}

type declared struct {
	io.Reader
	f *os.File
}

func (d declared) FileSection() (*os.File, int64, int64, bool) { return d.f, 2, 3, true }

func TestFileSection(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/obj")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("0123456789"); err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	read := io.NewSectionReader(f, 1, 8)
	read.Read(make([]byte, 3))
	for name, c := range map[string]struct {
		r      io.Reader
		ok     bool
		off, n int64
	}{
		"file at its end":         {r: f, ok: true, off: 10, n: 0},
		"section":                 {r: io.NewSectionReader(f, 2, 5), ok: true, off: 2, n: 5},
		"section read in part":    {r: read, ok: true, off: 4, n: 5},
		"declared":                {r: declared{f: f}, ok: true, off: 2, n: 3},
		"embedded section":        {r: embedsSection{io.NewSectionReader(f, 0, 4)}},
		"section over no file":    {r: io.NewSectionReader(strings.NewReader("abc"), 0, 3)},
		"pipe":                    {r: pr},
		"declared but not a file": {r: declared{f: pw}},
		"bytes":                   {r: strings.NewReader("abc")},
	} {
		gf, off, n, ok := fileSection(c.r)
		if ok != c.ok || off != c.off || n != c.n || (ok && gf != f) {
			t.Errorf("%s: fileSection = %v, %d, %d, %v; want ok %v, %d, %d", name, gf, off, n, ok, c.ok, c.off, c.n)
		}
	}
}

// TestConcurrentGets runs many Gets at once on each plugin, half of them
// abandoned part-way, so descriptors of different Gets cross on the one
// channel.
func TestConcurrentGets(t *testing.T) {
	bs, _, data := processes(t)
	for mode, b := range bs {
		t.Run(mode, func(t *testing.T) {
			before := -1
			if runtime.GOOS == "linux" {
				before = openFDs(t, "self")
			}
			errs := make(chan error, 16)
			for g := range 16 {
				go func() {
					errs <- func() error {
						for i := range 4 {
							// Whole objects (a file on "file") and ranges (a
							// pipe there) mixed.
							off, opts := int64(g*4096+i), storage.GetOptions{}
							if g%4 == 0 {
								off = 0
							} else {
								opts.Range = &storage.Range{Offset: off, Length: -1}
							}
							rc, _, err := b.Get(t.Context(), "obj", opts)
							if err != nil {
								return err
							}
							if (g+i)%2 == 0 {
								_, err = io.ReadFull(rc, make([]byte, 4096))
								rc.Close()
								if err != nil {
									return err
								}
								continue
							}
							got, err := io.ReadAll(rc)
							rc.Close()
							if err != nil {
								return err
							}
							if !bytes.Equal(got, data[off:]) {
								return fmt.Errorf("Get from %d: %d bytes, not the object's", off, len(got))
							}
						}
						return nil
					}()
				}()
			}
			for range 16 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			if before >= 0 {
				if n := settle(func() int { return openFDs(t, "self") }, before); n != before {
					t.Errorf("node has %d descriptors open, %d before", n, before)
				}
			}
		})
	}
}
