package docs

import (
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// markdownFiles are README.md, the chart's README and every Markdown file
// under docs/, relative to the root with forward slashes.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md", chartDoc}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Inline links and images, [text](target) and ![alt](target "title"); the
// text may hold code spans and brackets one level deep.
var linkRE = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// Code spans are blanked before links are looked for: `[x](y)` in code is
// text, not a link.
var inlineCodeRE = regexp.MustCompile("`+[^`]*`+")

// links returns the targets of the inline links of a document's prose.
func links(doc string) []string {
	var out []string
	for _, l := range proseLines(doc) {
		l = inlineCodeRE.ReplaceAllString(l, "``")
		for _, m := range linkRE.FindAllStringSubmatch(l, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// anchors returns the anchors GitHub gives a document's headings: the text
// lower-cased, punctuation other than - and _ dropped, spaces as -, and -1,
// -2 ... on repeats. Hand-written because no Markdown library in go.mod
// implements GitHub's rule, and it fits in these lines.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range proseLines(doc) {
		m := headingRE.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		text := inlineCodeRE.ReplaceAllStringFunc(m[2], func(s string) string { return strings.Trim(s, "`") })
		text = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(text, "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// Every relative link of README.md, the chart's README and docs/ names a file or folder that
// exists, every anchor a heading of its document; external links are only
// checked to be well-formed URLs (nothing is fetched).
func TestLinks(t *testing.T) {
	files := markdownFiles(t)
	if len(files) < 20 {
		t.Fatalf("found %d Markdown files: the walk lost them", len(files))
	}
	checked := 0
	for _, file := range files {
		for _, target := range links(readRepo(t, file)) {
			checked++
			if problem := checkLink(t, file, target); problem != "" {
				t.Errorf("%s: link %q: %s", file, target, problem)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d links: the parser lost them", checked)
	}
}

// checkLink says what is wrong with a link of file, or "".
func checkLink(t *testing.T, file, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return err.Error()
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		if u.Host == "" || strings.ContainsAny(u.Host, " _") {
			return "not a well-formed URL"
		}
		return ""
	case u.Scheme == "mailto":
		return ""
	case u.Scheme != "" || u.Host != "":
		return "an unexpected scheme: relative links and http(s) only"
	}
	rel := file
	if u.Path != "" {
		if strings.HasPrefix(u.Path, "/") {
			return "an absolute path: GitHub resolves it from the site, not the repository"
		}
		rel = path.Join(path.Dir(file), u.Path)
		if strings.HasPrefix(rel, "../") {
			return "leaves the repository"
		}
		info, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return "no such file or folder"
		}
		if info.IsDir() && u.Fragment != "" {
			return "an anchor on a folder"
		}
	}
	if u.Fragment == "" {
		return ""
	}
	if !strings.HasSuffix(rel, ".md") {
		// Line anchors of source files (#L10) are GitHub's, always there.
		if regexp.MustCompile(`^L\d+(-L\d+)?$`).MatchString(u.Fragment) {
			return ""
		}
		return "an anchor in a file that is not Markdown"
	}
	if !anchors(readRepo(t, rel))[u.Fragment] {
		return "no heading " + rel + "#" + u.Fragment
	}
	return ""
}

// The README stays an entry point: what Nauthera is, the two commands, the
// demo, helm install and links. Everything else belongs in docs/.
func TestREADMEIsAnEntryPoint(t *testing.T) {
	readme := readRepo(t, "README.md")
	if n := strings.Count(readme, "\n"); n > 150 {
		t.Errorf("README.md has %d lines; keep it at most 150 and move the rest into docs/", n)
	}
	for _, must := range []string{"make demo", "make test", "helm install nauthera charts/nauthera", "make image-push IMAGE=", "docs/README.md"} {
		if !strings.Contains(readme, must) {
			t.Errorf("README.md lacks %q", must)
		}
	}
}
