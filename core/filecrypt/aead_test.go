package filecrypt_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/nvm-node/nvm-node/core/filecrypt"
)

const chunk = 64 << 10

// sealed is the ciphertext size of one full chunk.
const sealed = chunk + 16

func password(t testing.TB) string {
	t.Helper()
	pw, err := filecrypt.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

// plaintext returns n reproducible pseudo-random bytes.
func plaintext(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// encrypt seals pt, writing it in pieces of random sizes.
func encrypt(t testing.TB, pt []byte, pw string) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := filecrypt.NewWriter(&out, pw)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(len(pt)), 7))
	for rest := pt; len(rest) > 0; {
		n := min(len(rest), 1+r.IntN(3*chunk))
		if k, err := w.Write(rest[:n]); err != nil || k != n {
			t.Fatalf("write: %d, %v", k, err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func decrypt(ct []byte, pw string) ([]byte, error) {
	r, err := filecrypt.NewReader(bytes.NewReader(ct), pw)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

var sizes = []int{0, 1, 2, chunk - 1, chunk, chunk + 1, 2 * chunk, 3*chunk + 17}

func TestRoundTrip(t *testing.T) {
	pw := password(t)
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := plaintext(n, uint64(n))
			ct := encrypt(t, pt, pw)
			if int64(len(ct)) != filecrypt.CiphertextSize(int64(n)) {
				t.Fatalf("ciphertext is %d bytes, CiphertextSize says %d", len(ct), filecrypt.CiphertextSize(int64(n)))
			}
			if got, err := filecrypt.PlaintextSize(int64(len(ct))); err != nil || got != int64(n) {
				t.Fatalf("PlaintextSize(%d) = %d, %v", len(ct), got, err)
			}
			if n > 0 && bytes.Contains(ct, pt[:min(n, 32)]) && n >= 8 {
				t.Fatal("plaintext visible in the ciphertext")
			}
			got, err := decrypt(ct, pw)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("decrypt: %v (%d bytes, want %d)", err, len(got), n)
			}
			// Short reads from src and small reads by the caller.
			r, err := filecrypt.NewReader(iotest.HalfReader(bytes.NewReader(ct)), pw)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(r, pt); err != nil {
				t.Fatal(err)
			}
			r, err = filecrypt.NewReader(iotest.OneByteReader(bytes.NewReader(ct)), pw)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("one-byte src: %v", err)
			}
		})
	}
}

func TestEncryptionIsRandomized(t *testing.T) {
	pw := password(t)
	pt := []byte("same plaintext, same password")
	a, b := encrypt(t, pt, pw), encrypt(t, pt, pw)
	if bytes.Equal(a, b) || bytes.Equal(a[16:48], b[16:48]) {
		t.Fatal("two encryptions share salt or ciphertext")
	}
}

func TestSizes(t *testing.T) {
	valid := map[int64]bool{}
	for n := int64(0); n <= 3*chunk+5; n++ {
		c := filecrypt.CiphertextSize(n)
		valid[c] = true
		if got, err := filecrypt.PlaintextSize(c); err != nil || got != n {
			t.Fatalf("PlaintextSize(CiphertextSize(%d)=%d) = %d, %v", n, c, got, err)
		}
	}
	for c := int64(0); c <= filecrypt.CiphertextSize(3*chunk+5); c++ {
		if valid[c] {
			continue
		}
		if _, err := filecrypt.PlaintextSize(c); !errors.Is(err, filecrypt.ErrCorrupt) {
			t.Fatalf("PlaintextSize(%d): %v, want ErrCorrupt", c, err)
		}
	}
	const big = 1 << 40
	if got, err := filecrypt.PlaintextSize(filecrypt.CiphertextSize(big)); err != nil || got != big {
		t.Fatalf("1 TiB: %d %v", got, err)
	}
}

func TestCipherRange(t *testing.T) {
	for _, tc := range []struct{ off, n, wantOff, wantLen int64 }{
		{0, 1, 48, sealed},
		{0, chunk, 48, sealed},
		{0, chunk + 1, 48, 2 * sealed},
		{chunk - 1, 2, 48, 2 * sealed},
		{chunk, 1, 48 + sealed, sealed},
		{5 * chunk, 0, 48 + 5*sealed, 0},
	} {
		off, n := filecrypt.CipherRange(tc.off, tc.n)
		if off != tc.wantOff || n != tc.wantLen {
			t.Errorf("CipherRange(%d, %d) = %d, %d; want %d, %d", tc.off, tc.n, off, n, tc.wantOff, tc.wantLen)
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readRange reads plaintext [off, off+n) from ct as a client of a storage
// backend would: the header, then CipherRange's bytes cut to the object.
func readRange(t *testing.T, ct []byte, pw string, off, n int64) ([]byte, error) {
	t.Helper()
	size, err := filecrypt.PlaintextSize(int64(len(ct)))
	if err != nil {
		return nil, err
	}
	co, cl := filecrypt.CipherRange(off, n)
	end := min(co+cl, int64(len(ct)))
	src := &countingReader{r: bytes.NewReader(ct[min(co, end):end])}
	r, err := filecrypt.NewRangeReader(ct[:filecrypt.HeaderSize], pw, src, off, n, size)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(r)
	if src.n > cl {
		t.Fatalf("range [%d,+%d): read %d bytes of a %d-byte cipher range", off, n, src.n, cl)
	}
	return got, err
}

func TestRangesExhaustiveSmall(t *testing.T) {
	pw := password(t)
	pt := plaintext(100, 1)
	ct := encrypt(t, pt, pw)
	for off := int64(0); off <= 100; off++ {
		for n := int64(0); off+n <= 100; n++ {
			got, err := readRange(t, ct, pw, off, n)
			if err != nil || !bytes.Equal(got, pt[off:off+n]) {
				t.Fatalf("[%d,+%d): %v", off, n, err)
			}
		}
	}
}

func TestRangesAtChunkBoundaries(t *testing.T) {
	pw := password(t)
	for _, size := range []int64{2 * chunk, 2*chunk + 100} {
		pt := plaintext(int(size), uint64(size))
		ct := encrypt(t, pt, pw)
		var points []int64
		for _, p := range []int64{0, 1, chunk - 1, chunk, chunk + 1, 2*chunk - 1, 2 * chunk, 2*chunk + 1, size - 1, size} {
			if p >= 0 && p <= size {
				points = append(points, p)
			}
		}
		for _, a := range points {
			for _, b := range points {
				if b < a {
					continue
				}
				got, err := readRange(t, ct, pw, a, b-a)
				if err != nil || !bytes.Equal(got, pt[a:b]) {
					t.Fatalf("size %d [%d,%d): %v", size, a, b, err)
				}
			}
		}
	}
}

func TestRangesRandomBig(t *testing.T) {
	pw := password(t)
	const size = 20*chunk + 12345
	pt := plaintext(size, 9)
	ct := encrypt(t, pt, pw)
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		off := r.Int64N(size + 1)
		n := r.Int64N(size - off + 1)
		if r.IntN(4) == 0 {
			n = min(n, int64(r.IntN(100)))
		}
		got, err := readRange(t, ct, pw, off, n)
		if err != nil || !bytes.Equal(got, pt[off:off+n]) {
			t.Fatalf("[%d,+%d): %v", off, n, err)
		}
	}
}

func TestRangeArguments(t *testing.T) {
	pw := password(t)
	ct := encrypt(t, plaintext(10, 1), pw)
	h := ct[:filecrypt.HeaderSize]
	for _, a := range [][3]int64{{-1, 1, 10}, {0, -1, 10}, {11, 0, 10}, {5, 6, 10}, {0, 0, -1}} {
		if _, err := filecrypt.NewRangeReader(h, pw, bytes.NewReader(nil), a[0], a[1], a[2]); err == nil {
			t.Errorf("range %v accepted", a)
		}
	}
	if _, err := filecrypt.NewRangeReader(h[:20], pw, bytes.NewReader(nil), 0, 1, 10); !errors.Is(err, filecrypt.ErrCorrupt) {
		t.Errorf("short header: %v", err)
	}
	if _, err := filecrypt.NewRangeReader([]byte("Salted__........"), pw, bytes.NewReader(nil), 0, 1, 10); !errors.Is(err, filecrypt.ErrFormat) {
		t.Errorf("foreign header: %v", err)
	}
}

// wantCorrupt checks that decrypting ct fails as tampered (header magic
// and version bytes make it another format instead).
func wantCorrupt(t *testing.T, what string, ct []byte, pw string, formatOK bool) {
	t.Helper()
	got, err := decrypt(ct, pw)
	if errors.Is(err, filecrypt.ErrCorrupt) || (formatOK && errors.Is(err, filecrypt.ErrFormat)) {
		return
	}
	t.Fatalf("%s: got %d bytes and error %v, want ErrCorrupt", what, len(got), err)
}

func TestTamperEveryByteSmall(t *testing.T) {
	pw := password(t)
	ct := encrypt(t, plaintext(100, 3), pw)
	for i := range ct {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(ct)
			bad[i] ^= bit
			wantCorrupt(t, fmt.Sprintf("bit %#x of byte %d", bit, i), bad, pw, i < 9)
		}
	}
}

func TestTamperMultiChunk(t *testing.T) {
	pw := password(t)
	size := 3*chunk + 100
	pt := plaintext(size, 4)
	ct := encrypt(t, pt, pw)
	var positions []int
	for i := range filecrypt.HeaderSize {
		positions = append(positions, i)
	}
	for c := range 4 {
		start := filecrypt.HeaderSize + c*sealed
		end := min(start+sealed, len(ct))
		positions = append(positions, start, start+1, end-17, end-16, end-1)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 50 {
		positions = append(positions, r.IntN(len(ct)))
	}
	for _, i := range positions {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x40
		wantCorrupt(t, fmt.Sprintf("byte %d", i), bad, pw, i < 9)
		// Ranges read only the chunks they need, and those must fail
		// when tampered.
		if i >= filecrypt.HeaderSize {
			c := int64((i - filecrypt.HeaderSize) / sealed)
			if _, err := readRange(t, bad, pw, c*chunk, 1); !errors.Is(err, filecrypt.ErrCorrupt) {
				t.Fatalf("range over tampered chunk %d (byte %d): %v", c, i, err)
			}
		} else if _, err := readRange(t, bad, pw, 0, int64(size)); err == nil {
			t.Fatalf("range with tampered header byte %d decrypted", i)
		}
	}
}

func TestTruncateAndExtend(t *testing.T) {
	pw := password(t)
	for _, size := range []int{0, chunk, 2 * chunk, 3*chunk + 100} {
		ct := encrypt(t, plaintext(size, uint64(size)), pw)
		// Every chunk boundary, inside the last tag, and inside the header.
		cuts := []int{0, 1, 8, 9, filecrypt.HeaderSize - 1, filecrypt.HeaderSize, len(ct) - 1, len(ct) - 16}
		for b := filecrypt.HeaderSize + sealed; b < len(ct); b += sealed {
			cuts = append(cuts, b, b-1, b+1, b+16)
		}
		for _, c := range cuts {
			if c < 0 || c >= len(ct) {
				continue
			}
			wantCorrupt(t, fmt.Sprintf("size %d cut at %d", size, c), ct[:c], pw, c < 9)
			// A reader trusting the stored size: the object's new last
			// chunk was not sealed as the last one.
			if c >= filecrypt.HeaderSize {
				if ps, err := filecrypt.PlaintextSize(int64(c)); err == nil {
					if got, err := readRange(t, ct[:c], pw, 0, ps); !errors.Is(err, filecrypt.ErrCorrupt) {
						t.Fatalf("size %d cut at %d read as a range: %d bytes, %v", size, c, len(got), err)
					}
				}
			}
		}
		other := encrypt(t, plaintext(chunk, 99), pw)
		for name, tail := range map[string][]byte{
			"one byte":              {0},
			"a tag's worth":         make([]byte, 16),
			"a copy of chunk 0":     ct[filecrypt.HeaderSize:min(len(ct), filecrypt.HeaderSize+sealed)],
			"another object's body": other[filecrypt.HeaderSize:],
			"a whole object":        other,
		} {
			wantCorrupt(t, fmt.Sprintf("size %d + %s", size, name), append(bytes.Clone(ct), tail...), pw, false)
		}
	}
}

func TestReorderAndSplice(t *testing.T) {
	pw := password(t)
	ct := encrypt(t, plaintext(3*chunk, 8), pw)
	chunkAt := func(b []byte, i int) []byte {
		return b[filecrypt.HeaderSize+i*sealed : filecrypt.HeaderSize+(i+1)*sealed]
	}
	join := func(h []byte, cs ...[]byte) []byte {
		out := bytes.Clone(h)
		for _, c := range cs {
			out = append(out, c...)
		}
		return out
	}
	h := ct[:filecrypt.HeaderSize]
	c0, c1, c2 := chunkAt(ct, 0), chunkAt(ct, 1), chunkAt(ct, 2)
	wantCorrupt(t, "swap 0 and 1", join(h, c1, c0, c2), pw, false)
	wantCorrupt(t, "swap 1 and 2", join(h, c0, c2, c1), pw, false)
	wantCorrupt(t, "drop 1", join(h, c0, c2), pw, false)
	wantCorrupt(t, "duplicate 0", join(h, c0, c0, c1, c2), pw, false)
	wantCorrupt(t, "last moved first", join(h, c2), pw, false)
	// Same password, another object's header: another salt, another key.
	other := encrypt(t, plaintext(3*chunk, 8), pw)
	wantCorrupt(t, "foreign header", join(other[:filecrypt.HeaderSize], c0, c1, c2), pw, false)
	// Reserved bytes and chunk size are covered by the tag too.
	for _, i := range []int{9, 10, 11, 12, 13, 14, 15} {
		bad := bytes.Clone(ct)
		bad[i] ^= 1
		wantCorrupt(t, fmt.Sprintf("header byte %d", i), bad, pw, false)
	}
}

func TestWrongPassword(t *testing.T) {
	pw := password(t)
	for _, n := range []int{0, 10, chunk + 1} {
		ct := encrypt(t, plaintext(n, 1), pw)
		wantCorrupt(t, "other password", ct, password(t), false)
		wantCorrupt(t, "password with one more character", ct, pw+"x", false)
		wantCorrupt(t, "short password", ct, "secret", false)
		if n == 0 {
			continue // an empty range reads nothing, so it checks nothing
		}
		if _, err := readRange(t, ct, password(t), 0, int64(n)); !errors.Is(err, filecrypt.ErrCorrupt) {
			t.Fatalf("range with another password: %v", err)
		}
	}
	if _, err := filecrypt.NewWriter(io.Discard, "too short"); err == nil {
		t.Fatal("NewWriter accepted a guessable password")
	}
}

func TestNotThisFormat(t *testing.T) {
	pw := password(t)
	for _, data := range [][]byte{nil, []byte("x"), []byte("Salted__0123456789abcdef"), bytes.Repeat([]byte{0}, 200), []byte("NVM-AEAD\x02" + string(make([]byte, 100)))} {
		if _, err := decrypt(data, pw); !errors.Is(err, filecrypt.ErrFormat) {
			t.Errorf("%q: %v, want ErrFormat", data[:min(len(data), 12)], err)
		}
	}
}

// TestNoUnauthenticatedPlaintext: a reader returns the chunks before a
// tampered one in full, and not one byte of the tampered chunk.
func TestNoUnauthenticatedPlaintext(t *testing.T) {
	pw := password(t)
	pt := plaintext(3*chunk, 11)
	ct := encrypt(t, pt, pw)
	ct[filecrypt.HeaderSize+sealed+sealed-1] ^= 1 // tag of chunk 1
	r, err := filecrypt.NewReader(bytes.NewReader(ct), pw)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 1000)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if !errors.Is(err, filecrypt.ErrCorrupt) {
				t.Fatalf("error %v, want ErrCorrupt", err)
			}
			break
		}
	}
	if len(got) != chunk || !bytes.Equal(got, pt[:chunk]) {
		t.Fatalf("returned %d bytes before the error, want exactly chunk 0 (%d)", len(got), chunk)
	}
	if n, err := r.Read(buf); n != 0 || !errors.Is(err, filecrypt.ErrCorrupt) {
		t.Fatalf("error is not sticky: %d %v", n, err)
	}
}

func TestWriterContract(t *testing.T) {
	pw := password(t)
	var out bytes.Buffer
	w, err := filecrypt.NewWriter(&out, pw)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatal("NewWriter wrote before the first Write: it would block on a pipe")
	}
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if got, err := decrypt(out.Bytes(), pw); err != nil || string(got) != "abc" {
		t.Fatalf("%q %v", got, err)
	}
	// dst errors are returned and sticky.
	boom := errors.New("disk full")
	w, _ = filecrypt.NewWriter(failWriter{boom}, pw)
	if _, err := w.Write(make([]byte, 2*chunk)); !errors.Is(err, boom) {
		t.Fatalf("Write: %v", err)
	}
	if err := w.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close: %v", err)
	}
	// src errors reach the caller as they are.
	ct := encrypt(t, plaintext(2*chunk, 1), pw)
	r, err := filecrypt.NewReader(io.MultiReader(bytes.NewReader(ct[:100]), iotest.ErrReader(boom)), pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, boom) || errors.Is(err, filecrypt.ErrCorrupt) {
		t.Fatalf("src error: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestNewPassword(t *testing.T) {
	a, b := password(t), password(t)
	if len(a) != 43 || a == b || bytes.ContainsAny([]byte(a), "+/=") {
		t.Fatalf("passwords %q %q", a, b)
	}
}

// patternReader yields n bytes of a cheap, non-repeating-per-chunk pattern
// without allocating.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x ^ x>>8 ^ x>>17)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// TestStreamGiBFlatMemory streams 1 GiB through NewWriter and NewReader
// over a pipe and checks that memory stays flat: allocation is a few
// chunk buffers, not proportional to the size.
func TestStreamGiBFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	const size = 1 << 30
	pw := password(t)
	pr, pw2 := io.Pipe()
	wantSum := make(chan [32]byte, 1)
	go func() {
		w, err := filecrypt.NewWriter(pw2, pw)
		if err != nil {
			pw2.CloseWithError(err)
			return
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(w, h), &patternReader{n: size})
		if err == nil {
			err = w.Close()
		}
		var s [32]byte
		h.Sum(s[:0])
		wantSum <- s
		pw2.CloseWithError(err)
	}()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := filecrypt.NewReader(pr, pw)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil || n != size {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if !bytes.Equal(h.Sum(nil), func() []byte { s := <-wantSum; return s[:] }()) {
		t.Fatal("plaintext differs after 1 GiB")
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Fatalf("allocated %d bytes to stream 1 GiB; memory is not flat", alloc)
	}
	if after.HeapInuse > before.HeapInuse+8<<20 {
		t.Fatalf("heap grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
	}
}

func BenchmarkEncrypt(b *testing.B) {
	pw := password(b)
	const size = 16 << 20
	pt := plaintext(size, 1)
	b.SetBytes(size)
	for b.Loop() {
		w, err := filecrypt.NewWriter(io.Discard, pw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(pt)); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	pw := password(b)
	const size = 16 << 20
	var ct bytes.Buffer
	w, _ := filecrypt.NewWriter(&ct, pw)
	_, _ = io.Copy(w, &patternReader{n: size})
	_ = w.Close()
	b.SetBytes(size)
	for b.Loop() {
		r, err := filecrypt.NewReader(bytes.NewReader(ct.Bytes()), pw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptRange4KiB(b *testing.B) {
	pw := password(b)
	const size = 16 << 20
	var ct bytes.Buffer
	w, _ := filecrypt.NewWriter(&ct, pw)
	_, _ = io.Copy(w, &patternReader{n: size})
	_ = w.Close()
	all := ct.Bytes()
	b.SetBytes(4096)
	off := int64(7*chunk + 1000)
	for b.Loop() {
		co, cl := filecrypt.CipherRange(off, 4096)
		r, err := filecrypt.NewRangeReader(all[:filecrypt.HeaderSize], pw, bytes.NewReader(all[co:co+cl]), off, 4096, size)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
