// Package fetch is the one seam where a file URL from a DDO becomes a stream:
// an Opener per URL prefix or scheme. HTTP(S) is built in, guarded against
// requests into the node's own network; storage backends serve the URL
// prefixes plugins.yaml declares for them (s3://bucket/, file:///srv/data/,
// local://), and cid:// URLs go to an IPFS HTTP gateway.
//
// Openers honour an optional byte range, so downloads can resume and be
// split; the Object they return says which bytes its Body holds.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Errors an Opener returns, wrapped.
var (
	// ErrUnsupported: no Opener for the URL's scheme.
	ErrUnsupported = errors.New("fetch: unsupported URL")
	// ErrNotFound: the source says the object does not exist.
	ErrNotFound = errors.New("fetch: not found")
	// ErrForbidden: the URL points inside the node's network (loopback,
	// private, link-local) or at a file outside the declared folders, which
	// is refused.
	ErrForbidden = errors.New("fetch: address not allowed")
	// ErrInvalidKey: the URL does not name a valid object key (a ".."
	// element, a leading "/", a query...).
	ErrInvalidKey = errors.New("fetch: invalid object key")
	// ErrUnavailable: the source could not be reached or failed.
	ErrUnavailable = errors.New("fetch: source unavailable")
	// ErrRangeNotSatisfiable: the requested range starts past the end of
	// the object; the error is a *RangeError carrying the object's size.
	ErrRangeNotSatisfiable = errors.New("fetch: range not satisfiable")
)

// RangeError reports an unsatisfiable range and the object's size.
type RangeError struct {
	// Size is the object's full size, -1 when the source did not say.
	Size int64
}

func (e *RangeError) Error() string {
	if e.Size < 0 {
		return ErrRangeNotSatisfiable.Error()
	}
	return fmt.Sprintf("%v (object size %d)", ErrRangeNotSatisfiable, e.Size)
}

// Is makes errors.Is(err, ErrRangeNotSatisfiable) hold.
func (e *RangeError) Is(target error) bool { return target == ErrRangeNotSatisfiable }

// Range selects bytes of an object, as an HTTP byte-range-spec does:
// Offset and Length (Length < 0: to the end), or, when Suffix > 0, the last
// Suffix bytes.
type Range struct {
	Offset int64
	Length int64
	Suffix int64
}

// Resolve returns the offset and length of r in an object of the given size,
// with a *RangeError when no byte of it exists. A range running past the end
// is cut to the end; a suffix longer than the object selects all of it.
func (r Range) Resolve(size int64) (offset, length int64, err error) {
	switch {
	case size <= 0:
		return 0, 0, &RangeError{Size: size}
	case r.Suffix > 0:
		n := min(r.Suffix, size)
		return size - n, n, nil
	case r.Offset < 0 || r.Offset >= size || r.Length == 0:
		return 0, 0, &RangeError{Size: size}
	}
	length = size - r.Offset
	if r.Length > 0 && r.Length < length {
		length = r.Length
	}
	return r.Offset, length, nil
}

// Header is r as the value of an HTTP Range header.
func (r Range) Header() string {
	switch {
	case r.Suffix > 0:
		return "bytes=-" + strconv.FormatInt(r.Suffix, 10)
	case r.Length < 0:
		return "bytes=" + strconv.FormatInt(r.Offset, 10) + "-"
	default:
		return "bytes=" + strconv.FormatInt(r.Offset, 10) + "-" + strconv.FormatInt(r.Offset+r.Length-1, 10)
	}
}

// Request is what to open.
type Request struct {
	URL string
	// Range, when set, asks for part of the object.
	Range *Range
}

// Object is an opened file. The caller closes Body.
type Object struct {
	Body io.ReadCloser
	// Size is the object's full size in bytes, -1 when unknown.
	Size int64
	// Offset is where Body starts within the object and Length how many
	// bytes it yields (-1 when unknown). Without a Range they are 0 and Size.
	Offset, Length int64
	// Ranged says Body holds exactly the requested Range (resolved against
	// Size); false when no range was asked or the source could not honour it
	// and Body holds the whole object.
	Ranged bool
	// ETag is the source's validator of this version of the content, as the
	// source quotes it ("" when none); a "W/" prefix marks a weak one.
	ETag string
	// ModTime is the content's last modification, zero when unknown.
	ModTime time.Time
	// ContentType as the source reports it, "" when unknown.
	ContentType string
	// Name is a file name suggested by the source or the URL, "" when none.
	Name string
}

// Opener opens file URLs.
type Opener interface {
	Open(ctx context.Context, req Request) (*Object, error)
}

// Mux routes a URL to an Opener. A key holding "://" is a URL prefix
// ("s3://nvm-assets/", "file:///srv/data/"), any other key a scheme ("http",
// "cid"). The longest prefix the URL starts with wins, then its scheme.
// A file:// URL under no prefix is refused with ErrForbidden: local files are
// served only from the folders declared for them.
type Mux map[string]Opener

// Open implements Opener.
func (m Mux) Open(ctx context.Context, req Request) (*Object, error) {
	norm, scheme, err := normalize(req.URL)
	if err != nil {
		return nil, err
	}
	best := ""
	for k := range m {
		if strings.Contains(k, "://") && len(k) > len(best) && strings.HasPrefix(norm, k) {
			best = k
		}
	}
	if best != "" {
		req.URL = norm
		return m[best].Open(ctx, req)
	}
	if scheme == "file" {
		return nil, fmt.Errorf("%w: the file is not under a folder this node serves", ErrForbidden)
	}
	o, ok := m[scheme]
	if !ok {
		return nil, fmt.Errorf("%w: no backend serves %s:// URLs", ErrUnsupported, scheme)
	}
	req.URL = norm
	return o.Open(ctx, req)
}

// normalize lower-cases the URL's scheme, which is case-insensitive, so that
// prefixes (declared lower-case) match.
func normalize(rawURL string) (norm, scheme string, err error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return "", "", fmt.Errorf("%w: not an absolute URL", ErrUnsupported)
	}
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", "", fmt.Errorf("%w: not an absolute URL", ErrUnsupported)
		}
	}
	scheme = strings.ToLower(scheme)
	return scheme + ":" + rest, scheme, nil
}
