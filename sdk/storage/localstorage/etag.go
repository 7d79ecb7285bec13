//go:build unix

package localstorage

import (
	"fmt"
	"io/fs"
	"syscall"
)

// etag identifies a file's content version without reading it. Put always
// renames a new inode into place, so (inode, size, mtime) changes whenever
// the content does.
func etag(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	return fmt.Sprintf(`"%x-%x-%x"`, ino, fi.Size(), fi.ModTime().UnixNano())
}
