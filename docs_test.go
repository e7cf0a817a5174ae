package conclave_test

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocsShowExampleJoin checks that the program README.md and the package
// documentation show is ExampleJoin, which go test runs: a reader who
// pastes it gets a program that works.
func TestDocsShowExampleJoin(t *testing.T) {
	want := funcBody(t, "example_test.go", mustRead(t, "example_test.go"), "ExampleJoin")
	// The expected output is a comment inside the example, not part of
	// the program the documents show.
	want = want[:strings.Index(want, "// Output:")]
	want = strings.TrimSpace(want)

	readme := mustRead(t, "README.md")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(readme, -1)
	found := false
	for _, b := range blocks {
		if strings.Contains(b[1], "package main") {
			found = true
			if got := strings.TrimSpace(funcBody(t, "README.md", b[1], "main")); got != want {
				t.Errorf("README.md's program differs from ExampleJoin:\n%s", diffLines(got, want))
			}
		}
	}
	if !found {
		t.Error("README.md shows no complete program (a ```go block with package main)")
	}

	// In doc.go the program is the package comment's indented block.
	var prog strings.Builder
	for _, line := range strings.Split(mustRead(t, "doc.go"), "\n") {
		if code, ok := strings.CutPrefix(line, "//\t"); ok {
			prog.WriteString(code + "\n")
		} else if line == "//" && prog.Len() > 0 {
			prog.WriteString("\n")
		}
	}
	if got := strings.TrimSpace(funcBody(t, "doc.go", prog.String(), "main")); got != want {
		t.Errorf("doc.go's program differs from ExampleJoin:\n%s", diffLines(got, want))
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// funcBody returns the statements of function name in src, formatted and
// without indentation.
func funcBody(t *testing.T, what, src, name string) string {
	t.Helper()
	formatted, err := format.Source([]byte(src))
	if err != nil {
		t.Fatalf("%s: the program does not parse: %v", what, err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, what, formatted, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name {
			body := string(formatted[fset.Position(fd.Body.Lbrace).Offset+1 : fset.Position(fd.Body.Rbrace).Offset])
			var out strings.Builder
			for _, l := range strings.Split(body, "\n") {
				out.WriteString(strings.TrimLeft(l, "\t") + "\n")
			}
			return out.String()
		}
	}
	t.Fatalf("%s: no func %s", what, name)
	return ""
}

// diffLines shows the first line where got and want differ.
func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n  shown:   %s\n  example: %s", i+1, gl, wl)
		}
	}
	return "(same lines)"
}
