//go:build !unix

package localstorage

import (
	"fmt"
	"io/fs"
)

// etag identifies a file's content version from its size and mtime.
func etag(fi fs.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
}
