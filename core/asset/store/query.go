package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/nvm-node/nvm-node/core/asset/marketplace"
)

// ErrBadQuery reports a search the store does not understand.
var ErrBadQuery = errors.New("store: unsupported query")

// maxQueryDepth bounds the nesting of bool/nested clauses, so a hostile query
// cannot exhaust the stack.
const maxQueryDepth = 16

// Page is one page of search results, documents in their stored form.
type Page struct {
	Results    []json.RawMessage
	Page       int
	PageSize   int
	Total      int
	TotalPages int
}

// Search runs a marketplace search over the stored DDOs.
//
// It understands the Elasticsearch clauses the SDK and the node send:
// match_all, match_none, term, terms, match, match_phrase, prefix, exists,
// range, query_string, simple_query_string, bool (must, filter, should,
// must_not, minimum_should_match) and nested (evaluated against the whole
// document, so conditions on different array elements may combine). Field
// paths are dotted; arrays are searched element by element; `.keyword`
// suffixes and `^boost`s are ignored. Text matching is case-insensitive on
// words split at non-alphanumerics; `word*` is a prefix. The top-level
// `text` is a query_string over all fields. Unless show_unlisted is set,
// assets whose metadata curation says isListed=false are left out, as the
// marketplace does. Sort takes one field: {"created":"desc"},
// {"created":{"order":"asc"}}, or a list whose first entry is one of those.
func (s *Store) Search(ctx context.Context, q marketplace.QueryRequest) (*Page, error) {
	match, err := compileQuery(q.Query, 0)
	if err != nil {
		return nil, err
	}
	if q.Text != "" {
		text := textMatcher(q.Text, nil)
		inner := match
		match = func(doc any) bool { return inner(doc) && text(doc) }
	}
	sortKey, desc, err := compileSort(q.Sort)
	if err != nil {
		return nil, err
	}
	size := q.Offset
	if size <= 0 {
		size = marketplace.DefaultPageSize
	}
	size = min(size, marketplace.MaxPageSize)
	page := max(q.Page, 1)

	type hit struct {
		raw json.RawMessage
		key []any
	}
	var hits []hit
	err = s.each(ctx, func(raw []byte) error {
		doc, err := decodeAny(raw)
		if err != nil {
			return nil // stored documents were checked; skip a damaged one
		}
		if !q.ShowUnlisted && unlisted(doc) {
			return nil
		}
		if match(doc) {
			h := hit{raw: raw}
			if sortKey != "" {
				h.key = values(doc, sortKey)
			}
			hits = append(hits, h)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sortKey != "" {
		slices.SortStableFunc(hits, func(a, b hit) int {
			c := compareKeys(a.key, b.key)
			if desc && len(a.key) > 0 && len(b.key) > 0 {
				return -c // documents without the field stay last either way
			}
			return c
		})
	}
	out := &Page{Page: page, PageSize: size, Total: len(hits), TotalPages: (len(hits) + size - 1) / size, Results: []json.RawMessage{}}
	if page-1 < out.TotalPages { // compared before multiplying, which could overflow
		start := (page - 1) * size
		for _, h := range hits[start:min(start+size, len(hits))] {
			out.Results = append(out.Results, h.raw)
		}
	}
	return out, nil
}

type matcher func(doc any) bool

func decodeAny(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func badQuery(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadQuery, fmt.Sprintf(format, args...))
}

// compileQuery turns one query object into a matcher. A missing query
// matches everything.
func compileQuery(raw json.RawMessage, depth int) (matcher, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return func(any) bool { return true }, nil
	}
	if depth > maxQueryDepth {
		return nil, badQuery("nested deeper than %d", maxQueryDepth)
	}
	var clause map[string]json.RawMessage
	if err := json.Unmarshal(raw, &clause); err != nil {
		return nil, badQuery("a query must be an object")
	}
	if len(clause) != 1 {
		return nil, badQuery("a query object must have exactly one clause, has %d", len(clause))
	}
	for kind, body := range clause {
		switch kind {
		case "match_all":
			return func(any) bool { return true }, nil
		case "match_none":
			return func(any) bool { return false }, nil
		case "bool":
			return compileBool(body, depth)
		case "nested":
			var n struct {
				Query json.RawMessage `json:"query"`
			}
			if err := json.Unmarshal(body, &n); err != nil || n.Query == nil {
				return nil, badQuery("nested needs a query")
			}
			return compileQuery(n.Query, depth+1)
		case "query_string", "simple_query_string":
			var qs struct {
				Query  string   `json:"query"`
				Fields []string `json:"fields"`
			}
			if err := json.Unmarshal(body, &qs); err != nil {
				return nil, badQuery("%s needs a string query", kind)
			}
			for i, f := range qs.Fields {
				qs.Fields[i] = cleanField(f)
			}
			return textMatcher(qs.Query, qs.Fields), nil
		case "exists":
			var e struct {
				Field string `json:"field"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Field == "" {
				return nil, badQuery("exists needs a field")
			}
			path := strings.Split(cleanField(e.Field), ".")
			return func(doc any) bool { return exists(doc, path, 0) }, nil
		case "term", "terms", "match", "match_phrase", "prefix", "range":
			return compileFieldClause(kind, body)
		default:
			return nil, badQuery("%q queries are not supported", kind)
		}
	}
	panic("unreachable")
}

func compileBool(body json.RawMessage, depth int) (matcher, error) {
	var b map[string]json.RawMessage
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, badQuery("bool must be an object")
	}
	var must, should, mustNot []matcher
	minShould := -1
	for key, v := range b {
		switch key {
		case "must", "filter", "should", "must_not":
			ms, err := compileList(v, depth)
			if err != nil {
				return nil, err
			}
			switch key {
			case "must", "filter":
				must = append(must, ms...)
			case "should":
				should = append(should, ms...)
			default:
				mustNot = append(mustNot, ms...)
			}
		case "minimum_should_match":
			var n int
			if err := json.Unmarshal(v, &n); err != nil || n < 0 {
				return nil, badQuery("minimum_should_match must be a non-negative integer")
			}
			minShould = n
		case "boost":
		default:
			return nil, badQuery("bool.%s is not supported", key)
		}
	}
	if minShould < 0 {
		minShould = 0
		if len(must) == 0 && len(should) > 0 {
			minShould = 1
		}
	}
	return func(doc any) bool {
		for _, m := range must {
			if !m(doc) {
				return false
			}
		}
		for _, m := range mustNot {
			if m(doc) {
				return false
			}
		}
		n := 0
		for _, m := range should {
			if n >= minShould {
				break
			}
			if m(doc) {
				n++
			}
		}
		return n >= minShould
	}, nil
}

// compileList compiles a clause list; Elasticsearch also takes a single
// object, and the SDK may leave null holes (a skipped optional clause).
func compileList(v json.RawMessage, depth int) ([]matcher, error) {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '{' {
		m, err := compileQuery(v, depth+1)
		return []matcher{m}, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, badQuery("bool clauses must be an object or a list")
	}
	var out []matcher
	for _, it := range items {
		if string(bytes.TrimSpace(it)) == "null" || string(bytes.TrimSpace(it)) == "false" {
			continue
		}
		m, err := compileQuery(it, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// compileFieldClause handles the clauses shaped {kind: {field: spec}}.
func compileFieldClause(kind string, body json.RawMessage) (matcher, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || len(fields) != 1 {
		return nil, badQuery("%s needs exactly one field", kind)
	}
	for rawField, spec := range fields {
		field := cleanField(rawField)
		switch kind {
		case "term", "prefix", "match", "match_phrase":
			val, err := scalarSpec(spec, map[string]string{"term": "value", "prefix": "value", "match": "query", "match_phrase": "query"}[kind])
			if err != nil {
				return nil, badQuery("%s.%s: %v", kind, rawField, err)
			}
			switch kind {
			case "term":
				return func(doc any) bool {
					return slices.ContainsFunc(values(doc, field), func(v any) bool { return equalScalar(v, val) })
				}, nil
			case "prefix":
				p := fmt.Sprint(val)
				return func(doc any) bool {
					return slices.ContainsFunc(values(doc, field), func(v any) bool { return strings.HasPrefix(text(v), p) })
				}, nil
			case "match":
				return textMatcher(fmt.Sprint(val), []string{field}), nil
			default:
				phrase := strings.ToLower(fmt.Sprint(val))
				return func(doc any) bool {
					return slices.ContainsFunc(values(doc, field), func(v any) bool { return strings.Contains(strings.ToLower(text(v)), phrase) })
				}, nil
			}
		case "terms":
			var vals []any
			dec := json.NewDecoder(bytes.NewReader(spec))
			dec.UseNumber()
			if err := dec.Decode(&vals); err != nil {
				return nil, badQuery("terms.%s needs a list", rawField)
			}
			return func(doc any) bool {
				return slices.ContainsFunc(values(doc, field), func(v any) bool {
					return slices.ContainsFunc(vals, func(w any) bool { return equalScalar(v, w) })
				})
			}, nil
		case "range":
			var r map[string]json.RawMessage
			if err := json.Unmarshal(spec, &r); err != nil {
				return nil, badQuery("range.%s needs an object", rawField)
			}
			type bound struct {
				op  string
				val any
			}
			var bounds []bound
			for op, v := range r {
				switch op {
				case "gt", "gte", "lt", "lte":
					val, err := scalarSpec(v, "")
					if err != nil {
						return nil, badQuery("range.%s.%s: %v", rawField, op, err)
					}
					bounds = append(bounds, bound{op, val})
				case "format", "boost":
				default:
					return nil, badQuery("range.%s.%s is not supported", rawField, op)
				}
			}
			return func(doc any) bool {
				return slices.ContainsFunc(values(doc, field), func(v any) bool {
					for _, b := range bounds {
						c, ok := compareScalar(v, b.val)
						if !ok {
							return false
						}
						switch b.op {
						case "gt":
							ok = c > 0
						case "gte":
							ok = c >= 0
						case "lt":
							ok = c < 0
						case "lte":
							ok = c <= 0
						}
						if !ok {
							return false
						}
					}
					return true
				})
			}, nil
		}
	}
	panic("unreachable")
}

// scalarSpec reads a clause's value: a bare scalar, or an object holding it
// under key (term's "value", match's "query").
func scalarSpec(spec json.RawMessage, key string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok && key != "" {
		v = m[key]
	}
	switch v.(type) {
	case string, json.Number, bool:
		return v, nil
	}
	return nil, errors.New("want a string, number or boolean")
}

// cleanField drops Elasticsearch decorations: a ^boost and a .keyword
// sub-field.
func cleanField(f string) string {
	if i := strings.IndexByte(f, '^'); i >= 0 {
		f = f[:i]
	}
	return strings.TrimSuffix(f, ".keyword")
}

// values collects the scalars at a dotted path, descending into arrays.
// Path "" or "*" collects every scalar in the document.
func values(doc any, path string) []any {
	var out []any
	if path == "" || path == "*" {
		collectAll(doc, &out, 0)
		return out
	}
	collect(doc, strings.Split(path, "."), &out, 0)
	return out
}

func collect(v any, path []string, out *[]any, depth int) {
	if depth > 64 {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collect(e, path, out, depth+1)
		}
	case map[string]any:
		if len(path) == 0 {
			return // an object is not a scalar
		}
		if next, ok := x[path[0]]; ok {
			collect(next, path[1:], out, depth+1)
		}
	case nil:
	default:
		if len(path) == 0 {
			*out = append(*out, x)
		}
	}
}

// exists reports whether a non-null value (of any kind) is at path.
func exists(v any, path []string, depth int) bool {
	if depth > 64 {
		return false
	}
	switch x := v.(type) {
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return exists(e, path, depth+1) })
	case map[string]any:
		if len(path) == 0 {
			return true
		}
		next, ok := x[path[0]]
		return ok && exists(next, path[1:], depth+1)
	case nil:
		return false
	}
	return len(path) == 0
}

func collectAll(v any, out *[]any, depth int) {
	if depth > 64 {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collectAll(e, out, depth+1)
		}
	case map[string]any:
		for _, e := range x {
			collectAll(e, out, depth+1)
		}
	case nil:
	default:
		*out = append(*out, x)
	}
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return ""
}

func equalScalar(a, b any) bool {
	if c, ok := compareScalar(a, b); ok {
		return c == 0
	}
	return false
}

// compareScalar orders two scalars of the same kind: numbers numerically,
// strings as bytes (ISO dates sort right), booleans false < true. Numbers
// also compare against numeric strings (decimal amounts).
func compareScalar(a, b any) (int, bool) {
	if fa, ok := number(a); ok {
		if fb, ok := number(b); ok {
			return cmp.Compare(fa, fb), true
		}
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			return cmp.Compare(text(x), text(y)), true
		}
	}
	return 0, false
}

// number reads a JSON number, or a string holding one when the other side is
// numeric.
func number(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// textMatcher matches documents where any word of q (Elasticsearch's default
// OR) appears as a word of the given fields (all fields when none). A word
// ending in * matches as a prefix; query syntax characters are ignored.
func textMatcher(q string, fields []string) matcher {
	type term struct {
		word   string
		prefix bool
	}
	var terms []term
	for _, raw := range strings.Fields(q) {
		prefix := strings.HasSuffix(raw, "*")
		for _, w := range words(raw) {
			terms = append(terms, term{w, false})
		}
		if prefix && len(terms) > 0 {
			terms[len(terms)-1].prefix = true
		}
	}
	if len(terms) == 0 {
		return func(any) bool { return true }
	}
	if len(fields) == 0 {
		fields = []string{""}
	}
	return func(doc any) bool {
		for _, f := range fields {
			for _, v := range values(doc, f) {
				for _, w := range words(text(v)) {
					for _, t := range terms {
						if w == t.word || (t.prefix && strings.HasPrefix(w, t.word)) {
							return true
						}
					}
				}
			}
		}
		return false
	}
}

// words splits s into lower-case alphanumeric words.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// compileSort reads a sort specification; "" means publication order.
func compileSort(raw json.RawMessage) (field string, desc bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	if raw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return "", false, badQuery("sort must be an object, a string or a list")
		}
		if len(list) == 0 {
			return "", false, nil
		}
		raw = list[0]
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return cleanField(name), false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
		return "", false, badQuery("sort must name exactly one field")
	}
	for f, spec := range m {
		var order string
		if json.Unmarshal(spec, &order) != nil {
			var o struct {
				Order string `json:"order"`
			}
			if err := json.Unmarshal(spec, &o); err != nil {
				return "", false, badQuery("sort.%s must be \"asc\", \"desc\" or {\"order\": ...}", f)
			}
			order = o.Order
		}
		switch strings.ToLower(order) {
		case "", "asc":
			return cleanField(f), false, nil
		case "desc":
			return cleanField(f), true, nil
		}
		return "", false, badQuery("sort order %q is neither asc nor desc", order)
	}
	panic("unreachable")
}

// compareKeys orders documents by their first sort value; documents without
// one sort last.
func compareKeys(a, b []any) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	c, ok := compareScalar(a[0], b[0])
	if !ok {
		return strings.Compare(text(a[0]), text(b[0]))
	}
	return c
}

// unlisted reports whether the metadata service's curation says the asset is
// not listed.
func unlisted(doc any) bool {
	root, _ := doc.(map[string]any)
	services, _ := root["service"].([]any)
	for _, s := range services {
		sm, _ := s.(map[string]any)
		if sm["type"] != "metadata" {
			continue
		}
		attrs, _ := sm["attributes"].(map[string]any)
		cur, _ := attrs["curation"].(map[string]any)
		if listed, ok := cur["isListed"].(bool); ok && !listed {
			return true
		}
		return false
	}
	return false
}
