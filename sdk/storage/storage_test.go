package storage

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{
		{"a", true}, {"a/b/c.txt", true}, {"dir/..x", true}, {"é/ü", true},
		{"", false}, {"/a", false}, {"a/", false}, {"a//b", false}, {".", false},
		{"..", false}, {"a/../b", false}, {"./a", false}, {"a\x00b", false},
		{"\xff", false}, {strings.Repeat("a", MaxKeyLen), true}, {strings.Repeat("a", MaxKeyLen+1), false},
	} {
		if got := ValidKey(tc.key); got != tc.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestRangeResolve(t *testing.T) {
	for _, tc := range []struct {
		r       Range
		size    int64
		off, n  int64
		wantErr bool
	}{
		{Range{0, -1}, 10, 0, 10, false},
		{Range{3, 4}, 10, 3, 4, false},
		{Range{3, 100}, 10, 3, 7, false},
		{Range{9, -1}, 10, 9, 1, false},
		{Range{10, -1}, 10, 0, 0, true},
		{Range{-1, 2}, 10, 0, 0, true},
		{Range{0, 0}, 10, 0, 0, true},
		{Range{0, -1}, 0, 0, 0, false},
		{Range{1, -1}, 0, 0, 0, true},
	} {
		off, n, err := tc.r.Resolve(tc.size)
		if (err != nil) != tc.wantErr || off != tc.off || n != tc.n {
			t.Errorf("%+v.Resolve(%d) = %d, %d, %v; want %d, %d, err %v", tc.r, tc.size, off, n, err, tc.off, tc.n, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidRange) {
			t.Errorf("error %v does not wrap ErrInvalidRange", err)
		}
	}
}

func TestErrorMessageAndUnwrap(t *testing.T) {
	err := fmt.Errorf("ctx: %w", &Error{Op: "get", Key: "a\nb", Err: ErrNotFound})
	if !errors.Is(err, ErrNotFound) {
		t.Fatal("errors.Is lost the sentinel")
	}
	var se *Error
	if !errors.As(err, &se) || se.Op != "get" {
		t.Fatal("errors.As lost the typed error")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message %q contains a raw newline from the key", err)
	}
}

func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a//b", "\x00", "a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if !ValidKey(key) {
			return
		}
		// A valid key never escapes a root when joined as a path.
		for _, elem := range strings.Split(key, "/") {
			if elem == ".." || elem == "." || elem == "" {
				t.Fatalf("ValidKey(%q) accepted element %q", key, elem)
			}
		}
		_ = (&Error{Op: "get", Key: key, Err: ErrNotFound}).Error()
	})
}
