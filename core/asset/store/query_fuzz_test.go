package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nvm-node/nvm-node/core/asset/marketplace"
)

// FuzzSearch feeds arbitrary search bodies to the handler's decoding and the
// query compiler: they must answer or refuse, never panic or loop.
func FuzzSearch(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"query":{"match_all":{}}}`, `{"text":"weather","offset":2,"page":2,"sort":{"created":"desc"}}`,
		`{"query":{"bool":{"must":[null,{"range":{"a.b":{"gte":0,"lte":1}}}],"should":[{"term":{"id":"x"}}],"minimum_should_match":1}}}`,
		`{"query":{"nested":{"path":"service","query":{"simple_query_string":{"query":"sun*"}}}}}`,
		`{"query":{"terms":{"service.type":["access",1,true]}},"sort":[{"x":{"order":"asc"}}]}`,
		`{"query":{"exists":{"field":"service.attributes.main.nftAttributes"}},"show_unlisted":true}`,
	} {
		f.Add([]byte(seed))
	}
	s, _ := openStore(f, Options{})
	for _, name := range fixtures {
		mustCreate(f, s, fixtureDDO(f, name))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var q marketplace.QueryRequest
		if json.Unmarshal(body, &q) != nil {
			return
		}
		p, err := s.Search(context.Background(), q)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if p.Total > len(fixtures) || len(p.Results) > p.Total || p.Page < 1 || p.PageSize < 1 {
			t.Fatalf("impossible page: %+v", p)
		}
	})
}
