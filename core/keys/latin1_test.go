package keys

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

func TestLatin1RoundTripAllBytes(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	s := Latin1String(all)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) != 256 {
		t.Fatalf("latin1 string is not 256 valid runes")
	}
	for i, r := range []rune(s) {
		if r != rune(i) {
			t.Fatalf("byte %#x became rune %U", i, r)
		}
	}
	back, err := Latin1Bytes(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, all) {
		t.Fatal("round trip changed the bytes")
	}
	if got := Latin1String([]byte{0x63, 0x61, 0x66, 0xe9}); got != "café" {
		t.Fatalf("Latin1String = %q, want %q", got, "café")
	}
}

func TestLatin1BytesRejects(t *testing.T) {
	for name, s := range map[string]string{
		"rune above U+00FF": "ab\u0100c",
		"CJK":               "日本",
		"replacement char":  "\ufffd",
		"invalid UTF-8":     "a\xffb",
		"truncated UTF-8":   "\xc3",
	} {
		if _, err := Latin1Bytes(s); !errors.Is(err, ErrBadCiphertext) {
			t.Errorf("%s: err = %v, want ErrBadCiphertext", name, err)
		}
	}
	if b, err := Latin1Bytes(""); err != nil || len(b) != 0 {
		t.Fatalf("empty string: %v %v", b, err)
	}
}
