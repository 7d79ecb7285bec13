package api_test

import (
	"io"
	"log/slog"
	"net/http"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newChunkedRequest makes a POST whose length the server cannot know up front.
func newChunkedRequest(url string, r io.Reader) (*http.Request, error) {
	req, err := http.NewRequest("POST", url, io.NopCloser(r))
	if err != nil {
		return nil, err
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
