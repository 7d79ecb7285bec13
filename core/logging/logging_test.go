package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestRequestIDInRecords(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelInfo, "json").With("component", "test")
	log.InfoContext(WithRequestID(context.Background(), "req-42"), "hello")
	log.DebugContext(context.Background(), "dropped below level")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("one JSON record expected, got %q: %v", buf.String(), err)
	}
	if rec["request_id"] != "req-42" || rec["component"] != "test" || rec["msg"] != "hello" {
		t.Fatalf("record: %v", rec)
	}
}

func TestParseLevel(t *testing.T) {
	if l, err := ParseLevel("warn"); err != nil || l != slog.LevelWarn {
		t.Fatalf("warn: %v %v", l, err)
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Fatal("loud accepted")
	}
}
