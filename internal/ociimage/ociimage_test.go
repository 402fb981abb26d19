package ociimage

import (
	"archive/tar"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// operatorImage builds the operator image from a stand-in binary and a
// stand-in CA bundle (their content is what the test checks).
func operatorImage(t *testing.T) v1.Image {
	t.Helper()
	dir := t.TempDir()
	binary, ca := filepath.Join(dir, "nauthera"), filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(binary, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := Operator(binary, ca, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// files reads the flattened file system of img: path -> content (folders "/").
func files(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[hdr.Name] = string(data)
		if hdr.Name == "nauthera" && hdr.Mode&0o111 == 0 {
			t.Errorf("/nauthera mode %o is not executable", hdr.Mode)
		}
		if hdr.Name == "tmp/" && hdr.Mode&0o1000 == 0 {
			t.Errorf("/tmp mode %o lacks the sticky bit", hdr.Mode)
		}
	}
}

func TestOperatorImageIsTheDockerfileRecipe(t *testing.T) {
	img := operatorImage(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != "/nauthera" {
		t.Errorf("user %q entrypoint %q, want 65532:65532 /nauthera", cf.Config.User, cf.Config.Entrypoint)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	fs := files(t, img)
	if fs["nauthera"] != "#!binary" {
		t.Errorf("/nauthera = %q, want the binary", fs["nauthera"])
	}
	if !strings.HasPrefix(fs["etc/ssl/certs/ca-certificates.crt"], "-----BEGIN CERTIFICATE") {
		t.Errorf("CA bundle missing: %q", fs["etc/ssl/certs/ca-certificates.crt"])
	}
	if !strings.Contains(fs["etc/passwd"], "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name the non-root user: %q", fs["etc/passwd"])
	}
	// Reproducible: the same inputs give the same digest.
	d1, _ := img.Digest()
	d2, _ := operatorImage(t).Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same inputs differ: %s, %s", d1, d2)
	}
}

func TestArchiveRoundTripAndPush(t *testing.T) {
	img := operatorImage(t)
	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	if err := WriteArchive(archive, "nauthera:dev", img); err != nil {
		t.Fatal(err)
	}
	back, ref, err := ReadArchive(archive, dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, _ := back.Digest(); got != want || ref != "nauthera:dev" {
		t.Fatalf("archive holds %s %s, want %s nauthera:dev", ref, got, want)
	}

	// A registry on loopback (go-containerregistry's implementation of the
	// distribution API): push, then pull by tag.
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://") + "/team/nauthera:0.1.0"
	pushed, err := Push(target, back, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pushed.DigestStr() != want.String() {
		t.Errorf("pushed %s, want %s", pushed.DigestStr(), want)
	}
	r, _ := name.ParseReference(target)
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("pulled %s, want %s", got, want)
	}
	if fs := files(t, pulled); fs["nauthera"] != "#!binary" {
		t.Errorf("pulled image lacks the binary")
	}
}

func TestPushRefusesABadReference(t *testing.T) {
	if _, err := Push("UPPER/case::tag", operatorImage(t), PushOptions{}); err == nil || !strings.Contains(err.Error(), "image reference") {
		t.Errorf("err = %v, want an image reference error", err)
	}
}

func TestDirLayerKeepsTreeLinksAndModes(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "kc.sh"), []byte("run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/kc.sh", filepath.Join(root, "start")); err != nil {
		t.Fatal(err)
	}
	layer, err := DirLayer(root, "/opt/keycloak", 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build("amd64", Config{}, layer)
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	seen := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[hdr.Name] = hdr
	}
	if h := seen["opt/keycloak/bin/kc.sh"]; h == nil || h.Mode&0o111 == 0 || h.Uid != 1000 || h.Size != 3 {
		t.Errorf("kc.sh entry = %+v, want an executable 3-byte file owned by 1000", h)
	}
	if h := seen["opt/keycloak/start"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "bin/kc.sh" {
		t.Errorf("start entry = %+v, want a link to bin/kc.sh", h)
	}
}
