package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
)

func queryAll() marketplace.QueryRequest { return marketplace.QueryRequest{} }

// ids returns the DIDs of a page's results, in order.
func ids(t *testing.T, p *Page) []string {
	t.Helper()
	var out []string
	for _, r := range p.Results {
		d, err := asset.DecodeDDO(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.ID.String())
	}
	return out
}

func searchStore(t *testing.T) (*Store, []*asset.DDO) {
	s, _ := openStore(t, Options{})
	var docs []*asset.DDO
	for _, f := range fixtures {
		docs = append(docs, fixtureDDO(t, f))
	}
	mustCreate(t, s, docs...)
	return s, docs
}

func TestSearchQueries(t *testing.T) {
	s, docs := searchStore(t)
	access, n1155, n721 := docs[0].ID.String(), docs[1].ID.String(), docs[2].ID.String()
	tests := []struct {
		name  string
		query string
		text  string
		want  []string
	}{
		{"no query", ``, "", []string{access, n1155, n721}},
		{"match_all", `{"match_all":{}}`, "", []string{access, n1155, n721}},
		{"match_none", `{"match_none":{}}`, "", nil},
		{"term on id", `{"term":{"id":"` + n1155 + `"}}`, "", []string{n1155}},
		{"term on id, value object", `{"term":{"id":{"value":"` + n721 + `"}}}`, "", []string{n721}},
		{"term keyword suffix", `{"term":{"id.keyword":"` + access + `"}}`, "", []string{access}},
		{"terms", `{"terms":{"id":["` + access + `","` + n721 + `"]}}`, "", []string{access, n721}},
		{"term on a number", `{"term":{"service.attributes.main.ercType":721}}`, "", []string{n721}},
		{"match a word of a service type", `{"match":{"service.type":"nft"}}`, "", []string{n1155, n721}},
		{"match is any word", `{"match":{"service.type":"nft-access"}}`, "", []string{access, n1155, n721}},
		{"match nothing", `{"match":{"service.type":"workflow compute"}}`, "", nil},
		{"match is case-insensitive", `{"match":{"service.attributes.main.name":"SENTIMENT"}}`, "", []string{n1155}},
		{"match_phrase", `{"match_phrase":{"service.attributes.additionalInformation.description":"weather observations"}}`, "", []string{access}},
		{"prefix", `{"prefix":{"service.attributes.main.nftType":"nft721"}}`, "", []string{n721}},
		{"exists", `{"exists":{"field":"service.attributes.main.nftAttributes"}}`, "", []string{n1155, n721}},
		{"range on a number", `{"range":{"service.attributes.additionalInformation.priceHighestDenomination":{"gte":5,"lte":20}}}`, "", []string{access, n1155}},
		{"range on dates", `{"range":{"created":{"gt":"2026-11-21T00:00:00Z"}}}`, "", []string{n1155, n721}},
		{"simple_query_string prefix (SDK byText)", `{"simple_query_string":{"query":"sunr*"}}`, "", []string{n721}},
		{"query_string with fields", `{"query_string":{"query":"model","fields":["service.attributes.main.type^10"]}}`, "", []string{n1155}},
		{"top-level text", ``, "weather", []string{access}},
		{"bool must + filter (SDK appId)", `{"bool":{"must":[{"match_all":{}}],"filter":[{"term":{"_nvm.appId":""}}]}}`, "", []string{access, n1155, n721}},
		{"bool filter no match", `{"bool":{"must":[{"match_all":{}}],"filter":[{"term":{"_nvm.appId":"other-app"}}]}}`, "", nil},
		{"bool should", `{"bool":{"should":[{"term":{"id":"` + access + `"}},{"term":{"id":"` + n721 + `"}}]}}`, "", []string{access, n721}},
		{"bool must_not", `{"bool":{"must_not":{"term":{"id":"` + access + `"}}}}`, "", []string{n1155, n721}},
		{"bool with null hole (SDK byPrice)", `{"nested":{"path":"service","query":{"bool":{"must":[null,{"range":{"service.attributes.additionalInformation.priceHighestDenomination":{"gte":0,"lte":1}}}]}}}}`, "", []string{n721}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Search(context.Background(), marketplace.QueryRequest{Query: json.RawMessage(tc.query), Text: tc.text})
			if err != nil {
				t.Fatal(err)
			}
			got := ids(t, p)
			if len(got) != len(tc.want) || p.Total != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", got, p.Total, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSearchRejects(t *testing.T) {
	s, _ := searchStore(t)
	deep := `{"match_all":{}}`
	for range 20 {
		deep = `{"bool":{"must":[` + deep + `]}}`
	}
	for _, q := range []string{
		`[]`, `"x"`, `{}`, `{"a":{},"b":{}}`, `{"fuzzy":{"id":"x"}}`, `{"term":{}}`, `{"term":{"a":1,"b":2}}`,
		`{"term":{"id":{"nope":1}}}`, `{"terms":{"id":"x"}}`, `{"range":{"a":{"near":1}}}`, `{"bool":{"must":"x"}}`,
		`{"bool":{"should":[],"minimum_should_match":"x"}}`, `{"bool":{"unknown":[]}}`, `{"nested":{}}`, `{"exists":{}}`, deep,
	} {
		if _, err := s.Search(context.Background(), marketplace.QueryRequest{Query: json.RawMessage(q)}); !errors.Is(err, ErrBadQuery) {
			t.Errorf("query %s: %v, want ErrBadQuery", q, err)
		}
	}
	for _, sort := range []string{`{"a":"up"}`, `{"a":1}`, `{"a":"asc","b":"desc"}`, `5`} {
		if _, err := s.Search(context.Background(), marketplace.QueryRequest{Sort: json.RawMessage(sort)}); !errors.Is(err, ErrBadQuery) {
			t.Errorf("sort %s: %v, want ErrBadQuery", sort, err)
		}
	}
}

func TestSearchPagingSortingListing(t *testing.T) {
	s, _ := openStore(t, Options{})
	dates := []string{"2026-03-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-05-01T00:00:00Z", "2026-04-01T00:00:00Z"}
	var all []*asset.DDO
	for i, c := range dates {
		d := synthDDO(t, i, owner1, "doc", c)
		all = append(all, d)
		mustCreate(t, s, d)
	}
	ctx := context.Background()
	p, err := s.Search(ctx, marketplace.QueryRequest{Offset: 2, Page: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 5 || p.TotalPages != 3 || p.Page != 2 || len(p.Results) != 2 {
		t.Fatalf("page 2 of 2: %+v", p)
	}
	if got := ids(t, p); got[0] != all[2].ID.String() || got[1] != all[3].ID.String() {
		t.Fatalf("publication order broken: %v", got)
	}
	for _, page := range []int{4, 1 << 62} {
		if p, err := s.Search(ctx, marketplace.QueryRequest{Offset: 2, Page: page}); err != nil || len(p.Results) != 0 || p.Total != 5 {
			t.Fatalf("page %d past the end: %+v, %v", page, p, err)
		}
	}
	p, _ = s.Search(ctx, marketplace.QueryRequest{Sort: json.RawMessage(`{"created":"desc"}`), Offset: 3})
	if got := ids(t, p); got[0] != all[3].ID.String() || got[1] != all[4].ID.String() || got[2] != all[0].ID.String() {
		t.Fatalf("created desc: %v", got)
	}
	p, _ = s.Search(ctx, marketplace.QueryRequest{Sort: json.RawMessage(`[{"created":{"order":"asc"}}]`), Offset: 1})
	if got := ids(t, p); got[0] != all[1].ID.String() || p.TotalPages != 5 {
		t.Fatalf("created asc: %v", got)
	}
	// Unlisted assets are hidden unless asked for.
	unlisted, err := asset.DecodeDDO([]byte(`{"id":"did:nv:` + "ee" + string(make([]byte, 0)) + `eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","service":[{"type":"metadata","index":0,"attributes":{"curation":{"isListed":false}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, unlisted)
	if p, _ := s.Search(ctx, queryAll()); p.Total != 5 {
		t.Fatalf("unlisted shown: total %d", p.Total)
	}
	if p, _ := s.Search(ctx, marketplace.QueryRequest{ShowUnlisted: true}); p.Total != 6 {
		t.Fatalf("show_unlisted: total %d", p.Total)
	}
	// A page size above the maximum is capped.
	if p, _ := s.Search(ctx, marketplace.QueryRequest{Offset: 1 << 30}); p.PageSize != marketplace.MaxPageSize {
		t.Fatalf("page size %d", p.PageSize)
	}
}

func BenchmarkSearchTerm(b *testing.B) {
	s, _ := openStore(b, Options{})
	fill(b, s, 1000)
	target := synthDDO(b, 1_000_500, owner1, "", "").ID.String()
	q := marketplace.QueryRequest{Query: json.RawMessage(`{"term":{"id":"` + target + `"}}`)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := s.Search(ctx, q)
		if err != nil || p.Total != 1 {
			b.Fatal(p, err)
		}
	}
}
