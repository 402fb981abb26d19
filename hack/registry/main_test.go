package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// An image pushed to the registry pulls back the same, and its layers are
// files on disk (not held in memory).
func TestPushPullBlobsOnDisk(t *testing.T) {
	dir := t.TempDir()
	srv := httptest.NewServer(handler(dir))
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/test/image:v1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("pulled %s, pushed %s", d, want)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		h, _ := l.Digest()
		matches, _ := filepath.Glob(filepath.Join(dir, "*", h.Hex))
		if len(matches) != 1 {
			entries, _ := os.ReadDir(dir)
			t.Errorf("layer %s not on disk under %s (%d entries)", h, dir, len(entries))
		}
	}
}
