package keys

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Latin1String returns b as a "binary" (latin1) string, the way Node.js
// Buffer.toString("latin1") does: each byte becomes the rune U+0000..U+00FF.
// The PSK-ECDSA wire format carries ciphertext bytes this way inside JSON.
func Latin1String(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) * 2)
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// Latin1Bytes reverses [Latin1String]. A rune above U+00FF or invalid UTF-8
// cannot come from a latin1 string, so it is rejected with an error wrapping
// [ErrBadCiphertext] instead of being truncated as Node.js would.
func Latin1Bytes(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return nil, fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrBadCiphertext, i)
			}
		}
		if r > 0xFF {
			return nil, fmt.Errorf("%w: character U+%04X at byte %d is not latin1", ErrBadCiphertext, r, i)
		}
		out = append(out, byte(r))
	}
	return out, nil
}
