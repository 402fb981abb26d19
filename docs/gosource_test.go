package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goConst is a string constant of the code with its doc comment (or its
// const block's when it has none) and its const block's doc comment.
type goConst struct {
	Name, Value, Doc, BlockDoc, File string
}

// goFile is a parsed Go file and its base name.
type goFile struct {
	Name string
	AST  *ast.File
}

// parseDir parses the non-test Go files of a folder (relative to the root).
func parseDir(t *testing.T, rel string) []goFile {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(rel), "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []goFile
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), m, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, goFile{filepath.Base(m), f})
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", rel)
	}
	return files
}

// stringConsts returns the string constants declared in a folder, with the
// doc comment of each (or of its const block when it has none).
func stringConsts(t *testing.T, rel string) []goConst {
	t.Helper()
	var out []goConst
	for _, f := range parseDir(t, rel) {
		for _, d := range f.AST.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				doc := vs.Doc.Text()
				if doc == "" {
					doc = gd.Doc.Text()
				}
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, goConst{Name: n.Name, Value: v, Doc: doc, BlockDoc: gd.Doc.Text(), File: f.Name})
				}
			}
		}
	}
	return out
}

// goFiles lists the non-test Go files under the given folders, recursively.
func goFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && (e.Name() == "testdata" || e.Name() == "testbed") {
				return filepath.SkipDir
			}
			if !e.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// stringLit returns the value of a string literal expression.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// stringList returns the values of a []string{...} literal.
func stringList(e ast.Expr) ([]string, bool) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	var out []string
	for _, el := range cl.Elts {
		s, ok := stringLit(el)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
