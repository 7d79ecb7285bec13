package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var openapiYAML []byte

// docs holds the OpenAPI document, validated and rendered once at start.
type docs struct {
	doc  *openapi3.T
	json []byte
	html []byte
}

// loadDocs parses and validates the embedded document; a broken document is
// a build defect, caught by the tests and at start. A non-empty version
// replaces the document's, so the page and GET / name the same version.
func loadDocs(version string) (*docs, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapiYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if version != "" {
		doc.Info.Version = version
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	h, err := renderDocs(doc)
	if err != nil {
		return nil, err
	}
	return &docs{doc: doc, json: j, html: h}, nil
}

// OpenAPI returns the embedded OpenAPI document, for tests and tools.
func OpenAPI() (*openapi3.T, error) {
	d, err := loadDocs("")
	if err != nil {
		return nil, err
	}
	return d.doc, nil
}

func (d *docs) serveJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(d.json)
}

func (d *docs) serveHTML(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page is self-contained: no scripts, styles inline, nothing fetched.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(d.html)
}

type docOperation struct {
	Method, Path, Summary string
	Description           template.HTML
	Body                  template.HTML
	Responses             []docResponse
}

type docResponse struct {
	Code        string
	Description template.HTML
	Schema      template.HTML
}

type docSchema struct {
	Name string
	Text string
}

// inlineMarkdown renders the little Markdown the document uses (`code`,
// **bold**, blank-line paragraphs) after escaping everything, so no text of
// the document can inject markup.
func inlineMarkdown(s string) template.HTML {
	var b strings.Builder
	for i, para := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if i > 0 {
			b.WriteString("</p><p>")
		}
		esc := template.HTMLEscapeString(strings.TrimSpace(para))
		esc = pairs(esc, "`", "<code>", "</code>")
		esc = pairs(esc, "**", "<b>", "</b>")
		b.WriteString(esc)
	}
	return template.HTML(b.String())
}

// pairs replaces matched pairs of delim with open and close; an unmatched
// delimiter is left as it is.
func pairs(s, delim, open, close string) string {
	parts := strings.Split(s, delim)
	if len(parts) < 3 {
		return s
	}
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i == 0:
		case i == len(parts)-1 && i%2 == 1:
			b.WriteString(delim) // unmatched last delimiter
		case i%2 == 1:
			b.WriteString(open)
		default:
			b.WriteString(close)
		}
		b.WriteString(p)
	}
	return b.String()
}

// renderDocs turns the document into a page a person can read without any
// JavaScript or network access (the node may run air-gapped).
func renderDocs(doc *openapi3.T) ([]byte, error) {
	var ops []docOperation
	paths := doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, p := range paths {
		item := doc.Paths.Value(p)
		for method, op := range item.Operations() {
			o := docOperation{Method: method, Path: p, Summary: op.Summary, Description: inlineMarkdown(op.Description)}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					o.Body += template.HTML(template.HTMLEscapeString(ct)+": ") + schemaText(mt.Schema) + "\n"
				}
			}
			codes := make([]string, 0, op.Responses.Len())
			for code := range op.Responses.Map() {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				rv := op.Responses.Value(code).Value
				dr := docResponse{Code: code}
				if rv.Description != nil {
					dr.Description = inlineMarkdown(*rv.Description)
				}
				for ct, mt := range rv.Content {
					dr.Schema += template.HTML(template.HTMLEscapeString(ct)+": ") + schemaText(mt.Schema) + "\n"
				}
				o.Responses = append(o.Responses, dr)
			}
			ops = append(ops, o)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	// The schemas the operations name by reference are listed on the page
	// too, each with an anchor the references link to.
	var schemas []docSchema
	if doc.Components != nil {
		for name, ref := range doc.Components.Schemas {
			b, _ := json.MarshalIndent(ref.Value, "", "  ")
			schemas = append(schemas, docSchema{Name: name, Text: string(b)})
		}
	}
	sort.Slice(schemas, func(i, j int) bool { return schemas[i].Name < schemas[j].Name })
	var buf bytes.Buffer
	err := docsPage.Execute(&buf, map[string]any{
		"Title": doc.Info.Title, "Version": doc.Info.Version, "Description": inlineMarkdown(doc.Info.Description), "Ops": ops,
		"Schemas": schemas,
	})
	if err != nil {
		return nil, fmt.Errorf("rendering docs: %w", err)
	}
	return buf.Bytes(), nil
}

// schemaText is a link to a named schema, or the inline schema as JSON.
func schemaText(ref *openapi3.SchemaRef) template.HTML {
	if ref == nil {
		return ""
	}
	if ref.Ref != "" {
		name := template.HTMLEscapeString(strings.TrimPrefix(ref.Ref, "#/components/schemas/"))
		return template.HTML(`<a href="#schema-` + name + `">` + name + `</a>`)
	}
	b, _ := json.MarshalIndent(ref.Value, "", "  ")
	return template.HTML(template.HTMLEscapeString(string(b)))
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.5rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace}
.GET{color:#1565c0}.POST{color:#2e7d32}.DELETE{color:#c62828}.PUT{color:#ef6c00}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;white-space:pre-wrap}
table{border-collapse:collapse}td{border-top:1px solid #eee;padding:.3rem .6rem;vertical-align:top}
</style></head><body>
<h1>{{.Title}} API <small>{{.Version}}</small></h1>
<p>{{.Description}}</p>
<p>Machine-readable document: <a href="docs-json">docs-json</a> (OpenAPI 3).</p>
{{range .Ops}}<h2><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code></h2>
<p><b>{{.Summary}}</b></p>{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Body}}<h3>Request body</h3><pre>{{.Body}}</pre>{{end}}
<h3>Responses</h3><table>{{range .Responses}}<tr><td><b>{{.Code}}</b></td><td>{{.Description}}{{if .Schema}}<pre>{{.Schema}}</pre>{{end}}</td></tr>{{end}}</table>
{{end}}
{{if .Schemas}}<h2>Schemas</h2>{{range .Schemas}}<h3 id="schema-{{.Name}}">{{.Name}}</h3><pre>{{.Text}}</pre>{{end}}{{end}}
</body></html>
`))
