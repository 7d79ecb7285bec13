package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nvm-node/nvm-node/core/fetch"
)

// byteRange is a request's Range header: nil when absent or ignored;
// unsatisfiable when it asks for nothing (`bytes=-0`).
type byteRange struct {
	fetch.Range
	unsatisfiable bool
}

// parseRange reads a single byte range (`bytes=a-b`, `bytes=a-`,
// `bytes=-n`). Headers of another unit, with several ranges, or that do not
// parse are ignored, as RFC 9110 14.2 allows: the whole file is served with
// 200. Several ranges would need a multipart answer that no download client
// needs, and answering them in full is always correct.
func parseRange(h string) *byteRange {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 || strings.Trim(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if a == "" {
		n, ok := num(b)
		switch {
		case !ok:
			return nil
		case n == 0:
			return &byteRange{unsatisfiable: true}
		}
		return &byteRange{Range: fetch.Range{Suffix: n}}
	}
	first, ok := num(a)
	if !ok {
		return nil
	}
	if b == "" {
		return &byteRange{Range: fetch.Range{Offset: first, Length: -1}}
	}
	last, ok := num(b)
	if !ok || last < first {
		return nil
	}
	return &byteRange{Range: fetch.Range{Offset: first, Length: last - first + 1}}
}

// ifRangeHolds evaluates an If-Range precondition (RFC 9110 13.1.5) against
// the file's validators: an entity tag must match strongly, a date exactly.
func ifRangeHolds(ifRange, etag string, modTime time.Time) bool {
	ifRange = strings.TrimSpace(ifRange)
	switch {
	case ifRange == "":
		return true
	case strings.HasPrefix(ifRange, `"`):
		return etag != "" && ifRange == etag
	case strings.HasPrefix(ifRange, "W/"):
		return false // a weak tag never allows a range
	}
	t, err := http.ParseTime(ifRange)
	return err == nil && !modTime.IsZero() && t.Equal(modTime.Truncate(time.Second))
}
