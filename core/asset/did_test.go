package asset

import (
	"errors"
	"strings"
	"testing"
)

const sampleHex = "888e35d123632e6d77ef5692bdf4fe92a17c693c62d2d4e3408853c6f0a74f15"

func TestParseDID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // String() on success; "" means an error is expected
	}{
		{"lower", "did:nv:" + sampleHex, "did:nv:" + sampleHex},
		{"upper hex normalised", "did:nv:" + strings.ToUpper(sampleHex), "did:nv:" + sampleHex},
		{"mixed hex", "did:nv:888E35d123632e6d77ef5692bdf4fe92a17c693c62d2d4e3408853c6f0a74F15", "did:nv:" + sampleHex},
		{"empty", "", ""},
		{"prefix only", "did:nv:", ""},
		{"wrong method", "did:op:" + sampleHex, ""},
		{"upper prefix", "DID:NV:" + sampleHex, ""},
		{"0x form", "0x" + sampleHex, ""},
		{"bare hex", sampleHex, ""},
		{"short", "did:nv:" + sampleHex[:63], ""},
		{"long", "did:nv:" + sampleHex + "0", ""},
		{"non hex", "did:nv:" + sampleHex[:63] + "g", ""},
		{"0x inside", "did:nv:0x" + sampleHex[:62], ""},
		{"space", " did:nv:" + sampleHex, ""},
		{"trailing newline", "did:nv:" + sampleHex + "\n", ""},
		{"zero", "did:nv:" + strings.Repeat("0", 64), ""},
		{"unicode digits", "did:nv:" + sampleHex[:62] + "٣٣", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDID(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalidDID) {
					t.Fatalf("ParseDID(%q) = %v, %v; want ErrInvalidDID", tc.in, d, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDID(%q): %v", tc.in, err)
			}
			if d.String() != tc.want {
				t.Fatalf("String() = %q, want %q", d.String(), tc.want)
			}
		})
	}
}

func TestDIDForms(t *testing.T) {
	d, err := ParseDID("did:nv:" + sampleHex)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ZeroX(); got != "0x"+sampleHex {
		t.Errorf("ZeroX = %s", got)
	}
	if got := d.Hex(); got != sampleHex {
		t.Errorf("Hex = %s", got)
	}
	if d[0] != 0x88 || d[31] != 0x15 {
		t.Errorf("bytes = %x", d[:])
	}
	for _, s := range []string{"0x" + sampleHex, "0X" + strings.ToUpper(sampleHex)} {
		z, err := DIDFromZeroX(s)
		if err != nil || z != d {
			t.Errorf("DIDFromZeroX(%q) = %v, %v", s, z, err)
		}
	}
	if _, err := DIDFromZeroX(sampleHex); !errors.Is(err, ErrInvalidDID) {
		t.Errorf("DIDFromZeroX without 0x: %v", err)
	}
	for _, s := range []string{"did:nv:" + sampleHex, "0x" + sampleHex, sampleHex} {
		a, err := ParseDIDAny(s)
		if err != nil || a != d {
			t.Errorf("ParseDIDAny(%q) = %v, %v", s, a, err)
		}
	}
	if _, err := ParseDIDAny("did:nv:0x" + sampleHex); !errors.Is(err, ErrInvalidDID) {
		t.Errorf("ParseDIDAny(did:nv:0x...) = %v", err)
	}
	text, _ := d.MarshalText()
	var back DID
	if err := back.UnmarshalText(text); err != nil || back != d {
		t.Errorf("text round trip: %v %v", back, err)
	}
	if err := back.UnmarshalText([]byte("nope")); !errors.Is(err, ErrInvalidDID) {
		t.Errorf("UnmarshalText(nope) = %v", err)
	}
}

func TestDIDErrorIsShort(t *testing.T) {
	_, err := ParseDID(strings.Repeat("x", 100000))
	if err == nil || len(err.Error()) > 300 {
		t.Fatalf("error too long or missing: %d bytes", len(err.Error()))
	}
}

func FuzzParseDID(f *testing.F) {
	for _, s := range []string{"did:nv:" + sampleHex, "0x" + sampleHex, sampleHex, "", "did:nv:", "did:nv:" + strings.Repeat("0", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDIDAny(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDID) {
				t.Fatalf("error %v does not wrap ErrInvalidDID", err)
			}
			return
		}
		// Every accepted DID re-parses to itself in each of its forms.
		for _, form := range []string{d.String(), d.ZeroX(), d.Hex()} {
			again, err := ParseDIDAny(form)
			if err != nil || again != d {
				t.Fatalf("%q -> %v -> %q -> %v, %v", s, d, form, again, err)
			}
		}
		if strings.ToLower(s) != s && strings.HasPrefix(s, DIDPrefix) && d.String() != strings.ToLower(s) {
			t.Fatalf("not normalised: %q -> %q", s, d.String())
		}
	})
}
