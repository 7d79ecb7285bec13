package asset

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DecodeFileList decodes the plaintext of `encryptedFiles`: a JSON array of
// file objects that, unlike the public file list, carry URLs (SPEC 5.2). The
// caller decrypts; this checks the shape. Errors wrap ErrInvalidDDO.
func DecodeFileList(plain []byte) ([]File, error) {
	if len(plain) > MaxDDOSize {
		return nil, fmt.Errorf("%w: file list is larger than %d bytes", ErrInvalidDDO, MaxDDOSize)
	}
	trimmed := bytes.TrimSpace(plain)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("%w: the decrypted file list is not a JSON array", ErrInvalidDDO)
	}
	var files []File
	if err := json.Unmarshal(trimmed, &files); err != nil {
		return nil, fmt.Errorf("file list: %w", describeJSONError(err))
	}
	return files, nil
}

// FileURL returns the URL of file i of a decrypted file list: the file at
// position i, as downloads address files (SPEC 2.5 step 4). A list without
// that file or a file without a URL is ErrNoFile.
func FileURL(files []File, i int) (string, error) {
	if i < 0 || i >= len(files) {
		return "", fmt.Errorf("%w: the file list has %d files, no file %d", ErrNoFile, len(files), i)
	}
	if files[i].URL == "" {
		return "", fmt.Errorf("%w: file %d has no URL", ErrNoFile, i)
	}
	return files[i].URL, nil
}

// HasDTPFiles reports whether any file of the metadata service is encrypted
// with the legacy DTP scheme (SPEC 2.5 step 7).
func (d *DDO) HasDTPFiles() bool {
	files, err := d.Files()
	if err != nil {
		return false
	}
	for _, f := range files {
		if f.Encryption == "dtp" {
			return true
		}
	}
	return false
}
