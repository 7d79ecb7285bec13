package pluginhost

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseValid(t *testing.T) {
	doc := `
plugins:
  - id: storage.local
    runtime: builtin
    config:
      root: /var/lib/nvm/files
      create: true
      nested: {list: [1, two, {three: 3}]}
  - id: storage.s3
    runtime: process
    path: plugins/storage-s3
    sha256: ` + strings.ToUpper(sum) + `
    args: [--verbose]
    limits: {call_timeout: 30s, start_timeout: 5s}
    grants: {env: [AWS_REGION, AWS_ACCESS_KEY_ID]}
  - id: compute.wasm
    runtime: wasm
    path: /opt/alg.wasm
    sha256: ` + sum + `
    limits: {memory: 256MiB}
    grants:
      dirs: [{host: /data, guest: /in, read_only: true}]
      hosts: [example.org]
`
	es, err := Parse([]byte(doc), "/etc/nvm")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("%d entries", len(es))
	}
	var cfg map[string]any
	if err := json.Unmarshal(es[0].Config, &cfg); err != nil {
		t.Fatalf("config %s: %v", es[0].Config, err)
	}
	if cfg["root"] != "/var/lib/nvm/files" || cfg["create"] != true {
		t.Errorf("config = %v", cfg)
	}
	if es[0].Kind() != "storage" || es[0].Name() != "local" {
		t.Errorf("kind/name = %s/%s", es[0].Kind(), es[0].Name())
	}
	s3 := es[1]
	if s3.Path != "/etc/nvm/plugins/storage-s3" || s3.SHA256 != sum || s3.Limits.CallTimeout != 30*time.Second || len(s3.Grants.Env) != 2 || s3.Config != nil {
		t.Errorf("s3 entry = %+v", s3)
	}
	if es[2].Limits.Memory != 256<<20 || es[2].Path != "/opt/alg.wasm" || !es[2].Grants.Dirs[0].ReadOnly {
		t.Errorf("wasm entry = %+v", es[2])
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	doc := `
plugins:
  - id: storage
    runtime: builtin
  - id: storage.s3
    runtime: process
    sha256: nothex
  - id: db.x
    runtime: docker
  - id: storage.local
    runtime: builtin
    path: /bin/sh
    limits: {memory: 1GiB}
  - id: storage.local
    runtime: builtin
  - id: compute.k8s
    runtime: process
    path: /x
    sha256: ` + sum + `
    grants: {env: ["1BAD"], hosts: [a.b]}
`
	_, err := Parse([]byte(doc), "")
	if err == nil {
		t.Fatal("Parse accepted a bad document")
	}
	for _, want := range []string{
		`plugins[0] (storage): id "storage" is not kind.name`,
		`plugins[1] (storage.s3): path is required`,
		`plugins[1] (storage.s3): sha256 must be`,
		`plugins[2] (db.x): id "db.x"`,
		`runtime "docker"`,
		`plugins[3] (storage.local): a builtin plugin takes no path`,
		`limits.memory applies to the wasm runtime only`,
		`plugins[4] (storage.local): id "storage.local" appears twice`,
		`grants.env: "1BAD"`,
		`grants.hosts applies to the wasm runtime only: a process plugin uses the node's own network access`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown entry key":  "plugins:\n  - id: storage.local\n    runtime: builtin\n    confg: {}\n",
		"unknown top key":    "plugin:\n  - id: storage.local\n",
		"unknown limit":      "plugins:\n  - id: storage.local\n    runtime: builtin\n    limits: {cpu: 2}\n",
		"config not mapping": "plugins:\n  - id: storage.local\n    runtime: builtin\n    config: [1]\n",
		"bad size":           "plugins:\n  - id: compute.w\n    runtime: wasm\n    path: /a\n    sha256: " + sum + "\n    limits: {memory: lots}\n",
		"bad duration":       "plugins:\n  - id: storage.local\n    runtime: builtin\n    limits: {call_timeout: soon}\n",
		"host with scheme":   "plugins:\n  - id: storage.w\n    runtime: wasm\n    path: /a\n    sha256: " + sum + "\n    grants: {hosts: [\"https://a.org\"]}\n",
		"host with path":     "plugins:\n  - id: storage.w\n    runtime: wasm\n    path: /a\n    sha256: " + sum + "\n    grants: {hosts: [a.org/x]}\n",
		"host wildcard":      "plugins:\n  - id: storage.w\n    runtime: wasm\n    path: /a\n    sha256: " + sum + "\n    grants: {hosts: [\"*.a.org\"]}\n",
		"host bad port":      "plugins:\n  - id: storage.w\n    runtime: wasm\n    path: /a\n    sha256: " + sum + "\n    grants: {hosts: [\"a.org:99999\"]}\n",
	} {
		if _, err := Parse([]byte(doc), ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if es, err := Parse(nil, ""); err != nil || len(es) != 0 {
		t.Errorf("empty document: %v, %v", es, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("plugins:\n  - id: storage.local\n    runtime: builtin\n    config: {root: /x}\n"))
	f.Add([]byte("plugins:\n  - id: compute.w\n    runtime: wasm\n    path: a\n    sha256: " + sum + "\n    limits: {memory: 1GiB}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := Parse(data, "/base")
		if err != nil {
			return
		}
		for _, e := range es {
			if verr := e.Validate(); verr != nil {
				t.Fatalf("Parse accepted an entry Validate refuses: %v", verr)
			}
			if e.Config != nil && !json.Valid(e.Config) {
				t.Fatalf("config is not JSON: %q", e.Config)
			}
		}
	})
}

func TestURLPrefixes(t *testing.T) {
	doc := `
plugins:
  - id: storage.s3
    runtime: builtin
    urls: ["s3://nvm-assets/", "s3://nvm-archive/old/"]
  - id: storage.local
    runtime: builtin
  - id: compute.wasm
    runtime: builtin
`
	es, err := Parse([]byte(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"s3://nvm-assets/", "s3://nvm-archive/old/"}, {"local://"}, nil}
	for i, e := range es {
		if got := e.URLPrefixes(); strings.Join(got, ",") != strings.Join(want[i], ",") {
			t.Errorf("%s: URLPrefixes %q, want %q", e.ID, got, want[i])
		}
	}
	for _, bad := range []string{"s3://bucket", "S3://b/", "://b/", "s3:/b/", "s3://b/../c/", "s3://b/?x/", "s 3://b/"} {
		doc := "plugins:\n  - id: storage.s3\n    runtime: builtin\n    urls: [\"" + bad + "\"]\n"
		if _, err := Parse([]byte(doc), ""); err == nil || !strings.Contains(err.Error(), "urls") {
			t.Errorf("prefix %q: err %v, want a urls problem", bad, err)
		}
	}
	doc = "plugins:\n  - id: compute.k\n    runtime: builtin\n    urls: [\"k://\"]\n"
	if _, err := Parse([]byte(doc), ""); err == nil || !strings.Contains(err.Error(), "storage plugins only") {
		t.Errorf("compute with urls: %v", err)
	}
}
