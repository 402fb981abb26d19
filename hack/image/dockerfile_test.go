package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// copiedSources returns the sources of the COPY and ADD instructions in a
// Dockerfile that copy from the build context (not --from another stage).
//
// Hand-written rather than moby/buildkit's parser: the grammar needed here
// (line continuations, comments, flags, the JSON-array form) is small, and
// buildkit's module graph would raise the versions of the operator's own
// dependencies.
func copiedSources(t *testing.T, dockerfile string) []string {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var (
		logical []string
		cur     strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		logical = append(logical, cur.String())
		cur.Reset()
	}
	var sources []string
	for _, instr := range logical {
		fields := strings.Fields(instr)
		if len(fields) < 3 || (!strings.EqualFold(fields[0], "COPY") && !strings.EqualFold(fields[0], "ADD")) {
			continue
		}
		args, fromStage := []string{}, false
		rest := strings.TrimSpace(instr[len(fields[0]):])
		for strings.HasPrefix(rest, "--") {
			flag, after, _ := strings.Cut(rest, " ")
			fromStage = fromStage || strings.HasPrefix(flag, "--from=")
			rest = strings.TrimSpace(after)
		}
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &args); err != nil {
				t.Fatalf("%s: %v", instr, err)
			}
		} else {
			args = strings.Fields(rest)
		}
		if fromStage || len(args) < 2 {
			continue
		}
		for _, src := range args[:len(args)-1] {
			sources = append(sources, path.Clean(strings.TrimPrefix(src, "./")))
		}
	}
	return sources
}

// TestDockerfileCopiesEveryPackageTheBinaryImports keeps the Dockerfile's
// build stage honest: every folder of this module that ./cmd/nauthera
// imports (directly or not), and go.mod and go.sum, is copied into it.
func TestDockerfileCopiesEveryPackageTheBinaryImports(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/nauthera")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var needed []string
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		needed = append(needed, filepath.ToSlash(rel))
	}
	if len(needed) < 5 {
		t.Fatalf("go list found only %v: not the operator's packages", needed)
	}
	needed = append(needed, "go.mod", "go.sum")
	sources := copiedSources(t, filepath.Join(root, "Dockerfile"))
	for _, want := range needed {
		if !coveredBy(want, sources) {
			t.Errorf("the Dockerfile does not copy %s, which the operator binary needs (copied: %v)", want, sources)
		}
	}
}

func coveredBy(p string, sources []string) bool {
	for _, src := range sources {
		if src == "." || p == src || strings.HasPrefix(p, src+"/") {
			return true
		}
	}
	return false
}

func TestCopiedSourcesParsesTheForms(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "Dockerfile")
	content := "FROM x AS build\n# COPY commented/ out/\nCOPY go.mod \\\n  go.sum ./\nCOPY --chown=1:1 [\"apis/\", \"apis/\"]\nCOPY --from=build /nauthera /nauthera\nadd ./pkg pkg\n"
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(copiedSources(t, f), ",")
	if got != "go.mod,go.sum,apis,pkg" {
		t.Errorf("sources = %s, want go.mod,go.sum,apis,pkg", got)
	}
	if coveredBy("internal/admission", []string{"apis", "pkg"}) || !coveredBy("pkg/desired", []string{"pkg"}) || coveredBy("pkgx/a", []string{"pkg"}) {
		t.Error("coveredBy decides wrongly")
	}
}
