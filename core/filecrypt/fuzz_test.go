package filecrypt_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/nvm-node/nvm-node/core/filecrypt"
)

// fuzzPassword is fixed so that seed objects stay valid across runs of the
// corpus; objects are still made with random salts.
const fuzzPassword = "fuzz-password-0123456789abcdefghijklmnopqrstuvw"

// fuzzSizes are the plaintext sizes of the seed objects; the plaintext of
// size n is plaintext(n, n). Salts are random, so each fuzzing process makes
// other objects, but all of them hold these plaintexts.
var fuzzSizes = []int{0, 1, 100, 64<<10 + 3}

// fuzzSeeds returns valid objects and their plaintexts.
func fuzzSeeds(f *testing.F) map[string][]byte {
	valid := map[string][]byte{}
	for _, n := range fuzzSizes {
		pt := plaintext(n, uint64(n))
		valid[string(encrypt(f, pt, fuzzPassword))] = pt
	}
	return valid
}

// seedSlice reports whether got is plaintext [off, off+len(got)) of one of
// the seed objects: the only thing an authenticated read can yield.
func seedSlice(got []byte, off int64) bool {
	for _, n := range fuzzSizes {
		if off+int64(len(got)) <= int64(n) && bytes.Equal(got, plaintext(n, uint64(n))[off:off+int64(len(got))]) {
			return true
		}
	}
	return false
}

// FuzzNewReader: arbitrary input never panics, and only an untouched
// object decrypts, to its own plaintext.
func FuzzNewReader(f *testing.F) {
	valid := fuzzSeeds(f)
	for ct := range valid {
		f.Add([]byte(ct))
	}
	f.Add([]byte("NVM-AEAD\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := filecrypt.NewReader(bytes.NewReader(data), fuzzPassword)
		if err != nil {
			if !errors.Is(err, filecrypt.ErrFormat) && !errors.Is(err, filecrypt.ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		got, err := io.ReadAll(r)
		if err != nil {
			if !errors.Is(err, filecrypt.ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if want, ok := valid[string(data)]; ok && !bytes.Equal(got, want) {
			t.Fatal("a seed object decrypted to the wrong plaintext")
		}
		if !seedSlice(got, 0) || !slices.Contains(fuzzSizes, len(got)) {
			t.Fatalf("a modified object decrypted (%d bytes)", len(got))
		}
	})
}

// FuzzNewRangeReader: any object bytes and range arguments never panic;
// a successful read of an untouched object is the plaintext slice.
func FuzzNewRangeReader(f *testing.F) {
	valid := fuzzSeeds(f)
	for ct, pt := range valid {
		f.Add([]byte(ct), int64(0), int64(len(pt)))
		f.Add([]byte(ct), int64(len(pt)/2), int64(len(pt)/3))
	}
	f.Fuzz(func(t *testing.T, data []byte, off, n int64) {
		size, err := filecrypt.PlaintextSize(int64(len(data)))
		if err != nil || len(data) < filecrypt.HeaderSize {
			return
		}
		co, cl := filecrypt.CipherRange(off, n)
		start, end := min(max(co, 0), int64(len(data))), min(max(co+cl, 0), int64(len(data)))
		if end < start {
			end = start
		}
		r, err := filecrypt.NewRangeReader(data[:filecrypt.HeaderSize], fuzzPassword, bytes.NewReader(data[start:end]), off, n, size)
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		if err != nil {
			if !errors.Is(err, filecrypt.ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if int64(len(got)) != n {
			t.Fatalf("read %d bytes of a %d-byte range", len(got), n)
		}
		if want, ok := valid[string(data)]; ok && !bytes.Equal(got, want[off:off+n]) {
			t.Fatal("wrong plaintext for the range")
		}
		if n > 0 && !seedSlice(got, off) {
			t.Fatalf("bytes that no seed object holds decrypted at [%d,+%d)", off, n)
		}
	})
}

// FuzzNewSaltedReader: arbitrary input never panics, and the plaintext is
// never longer than the ciphertext body.
func FuzzNewSaltedReader(f *testing.F) {
	for _, pt := range [][]byte{nil, []byte("x"), allBytes()} {
		ct, err := filecrypt.EncryptSalted(pt, fuzzPassword)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct)
	}
	f.Add([]byte("Salted__"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := filecrypt.NewSaltedReader(bytes.NewReader(data), fuzzPassword)
		if err != nil {
			return
		}
		got, err := io.ReadAll(r)
		if err == nil && len(got) > len(data)-16-2 {
			t.Fatalf("%d plaintext bytes from %d input bytes", len(got), len(data))
		}
	})
}
