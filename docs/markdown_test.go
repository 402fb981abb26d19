// Package docs holds no code: its tests hold the documentation to the code.
// Every reference table in docs/ that lists something the code defines
// (condition types and reasons, Event reasons, metrics, flags, chart values,
// CRD fields) is read here and compared with its one source, both ways, and
// every relative link and anchor of README.md, the chart's README and
// docs/ is resolved. They need no test bed and run in `go test -short` and
// `make test`.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository root, seen from this package's folder.
const root = ".."

// readRepo reads a file given relative to the repository root.
func readRepo(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// proseLines returns the lines of a Markdown document with those inside
// fenced code blocks blanked, so that a `# comment` in a shell example is
// not taken for a heading and a link in an example is not checked.
func proseLines(doc string) []string {
	lines := strings.Split(doc, "\n")
	fence := ""
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
			lines[i] = ""
		case fence != "" && strings.HasPrefix(trimmed, fence):
			fence = ""
			lines[i] = ""
		case fence != "":
			lines[i] = ""
		}
	}
	return lines
}

var headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)

// tableUnder returns the body rows (header and separator dropped) of the
// first table after the heading line `heading` (e.g. "## Flags"), split into
// cells. It fails the test when the heading or its table is missing, so a
// renamed section cannot silently check nothing.
func tableUnder(t *testing.T, rel, heading string) [][]string {
	t.Helper()
	lines := proseLines(readRepo(t, rel))
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == heading {
			start = i + 1
			break
		}
	}
	if start < 0 {
		t.Fatalf("%s: no heading %q", rel, heading)
	}
	var rows [][]string
	inTable := false
	for _, l := range lines[start:] {
		trimmed := strings.TrimSpace(l)
		if headingRE.MatchString(trimmed) && !inTable {
			break
		}
		if strings.HasPrefix(trimmed, "|") {
			inTable = true
			rows = append(rows, splitRow(trimmed))
			continue
		}
		if inTable {
			break
		}
	}
	if len(rows) < 3 {
		t.Fatalf("%s: no table with rows under %q", rel, heading)
	}
	return rows[2:]
}

// splitRow splits a GitHub-flavoured Markdown table row on its unescaped
// pipes (GFM splits on them inside code spans too; `\|` is the escape).
func splitRow(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cell.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(row[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

var codeSpanRE = regexp.MustCompile("`([^`]+)`")

// codeSpans returns the contents of the code spans of a cell, in order.
func codeSpans(cell string) []string {
	var out []string
	for _, m := range codeSpanRE.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// firstCodeSpans collects the code spans of the first cell of every row:
// the names a reference table lists.
func firstCodeSpans(t *testing.T, rows [][]string) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	for _, r := range rows {
		spans := codeSpans(r[0])
		if len(spans) == 0 {
			t.Errorf("row %q names nothing in code font in its first cell", strings.Join(r, " | "))
		}
		for _, s := range spans {
			names[s] = r
		}
	}
	return names
}

// compareSets reports, both ways, what the code has and the doc lacks and
// what the doc lists and the code does not have.
func compareSets(t *testing.T, what, doc string, code map[string]bool, documented map[string][]string) {
	t.Helper()
	for name := range code {
		if _, ok := documented[name]; !ok {
			t.Errorf("%s %q is in the code but not in the table of %s", what, name, doc)
		}
	}
	for name := range documented {
		if !code[name] {
			t.Errorf("%s %q is in the table of %s but not in the code", what, name, doc)
		}
	}
}
