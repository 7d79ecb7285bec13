package client

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
)

// Uploaded is the node's answer to an upload.
type Uploaded struct {
	// URL is where the node stored the file, in the form DDO file lists use
	// (e.g. s3://bucket/key).
	URL string `json:"url"`
	// Password decrypts an encrypted upload; "" when not encrypted. Put it in
	// the file's entry (File.Password) so the node decrypts on download.
	Password string `json:"password,omitempty"`
}

// Upload streams r as the multipart `file` part of an upload to the node's
// storage backend (the plugin storage.<backend>), encrypted by the node when
// encrypt is set. The body is written as it is sent: nothing is buffered
// whole, so r may be larger than memory.
func (c *Client) Upload(ctx context.Context, backend, name string, r io.Reader, encrypt bool) (*Uploaded, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		// The encrypt field goes before the file so that the node knows
		// what to do with the bytes as they arrive.
		err := mw.WriteField("encrypt", strconv.FormatBool(encrypt))
		if err == nil {
			var part io.Writer
			if part, err = mw.CreateFormFile("file", name); err == nil {
				if _, err = io.Copy(part, r); err == nil {
					err = mw.Close()
				}
			}
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.NodeURL+"/api/v1/node/services/upload/"+url.PathEscape(backend), pr)
	if err != nil {
		pr.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out Uploaded
	if err := c.do(req, &out); err != nil {
		pr.CloseWithError(err)
		return nil, fmt.Errorf("upload to %s: %w", backend, err)
	}
	return &out, nil
}

// DownloadRange streams bytes [from, to] of a file (to < 0: to the end) into
// w. It returns the number of bytes written and the file's ETag, and fails
// unless the node answers 206 with exactly that range (or 200 for a whole
// file asked from byte 0).
func (c *Client) DownloadRange(ctx context.Context, path, token string, from, to int64, ifRange string, w io.Writer) (int64, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.NodeURL+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	spec := "bytes=" + strconv.FormatInt(from, 10) + "-"
	if to >= 0 {
		spec += strconv.FormatInt(to, 10)
	}
	req.Header.Set("Range", spec)
	if ifRange != "" {
		req.Header.Set("If-Range", ifRange)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent:
	case resp.StatusCode == http.StatusOK && from == 0:
	default:
		return 0, "", answerError(resp)
	}
	n, err := io.Copy(w, resp.Body)
	return n, resp.Header.Get("ETag"), err
}
