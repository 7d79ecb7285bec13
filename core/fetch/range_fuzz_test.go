package fetch

import "testing"

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes 5-5/*", "bytes */10", "bytes 9-0/10", "bytes 0-10/10", "bytes -1-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, size, ok := parseContentRange(s)
		if !ok {
			return
		}
		if first < 0 || last < first || (size >= 0 && size <= last) || size < -1 {
			t.Fatalf("%q parsed to %d-%d/%d", s, first, last, size)
		}
	})
}
