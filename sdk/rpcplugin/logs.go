package rpcplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
)

// maxLogLine caps one forwarded line; longer ones are cut.
const maxLogLine = 64 << 10

// logWriter turns a plugin's output, line by line, into records of the
// node's slog logger. JSON lines from hclog ("@level", "@message") or slog
// ("level", "msg") keep their level and fields; other lines are logged
// whole at the given default level.
type logWriter struct {
	log    *slog.Logger
	stream string
	level  slog.Level

	mu  sync.Mutex
	buf []byte
}

func newLogWriter(log *slog.Logger, stream string, level slog.Level) *logWriter {
	return &logWriter{log: log, stream: stream, level: level}
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			for len(w.buf) > maxLogLine {
				w.emit(w.buf[:maxLogLine])
				w.buf = w.buf[maxLogLine:]
			}
			return len(p), nil
		}
		line := w.buf[:i]
		if len(line) > maxLogLine {
			line = line[:maxLogLine]
		}
		w.emit(line)
		w.buf = w.buf[i+1:]
	}
}

// Flush logs a final unterminated line.
func (w *logWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *logWriter) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	ctx := context.Background()
	var rec map[string]any
	if line[0] != '{' || json.Unmarshal(line, &rec) != nil {
		w.log.Log(ctx, w.level, string(line), "stream", w.stream)
		return
	}
	level := w.level
	msg := ""
	attrs := make([]any, 0, 2*len(rec)+2)
	for k, v := range rec {
		switch k {
		case "@level", "level":
			if s, ok := v.(string); ok {
				level = parseLevel(s, level)
			}
		case "@message", "msg":
			msg, _ = v.(string)
		case "@timestamp", "time", "@module", "@caller", "source":
			// The node stamps its own time and source.
		default:
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	if msg == "" {
		msg = "plugin log"
	}
	attrs = append(attrs, slog.String("stream", w.stream))
	w.log.Log(ctx, level, msg, attrs...)
}

func parseLevel(s string, def slog.Level) slog.Level {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error", "fatal", "panic":
		return slog.LevelError
	}
	return def
}
