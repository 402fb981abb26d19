// Package ociimage builds container images without a container engine, with
// github.com/google/go-containerregistry: layers from files or directories,
// an image config, an OCI image-layout archive on disk, and a push to any
// registry. The operator image (make image), and the images of the cluster
// test bed, are built with it.
//
// Images are reproducible: file times, owners and the config's creation time
// are fixed, so the same inputs give the same digest.
package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NonRootUID is the user the operator image runs as: distroless's "nonroot".
const NonRootUID = 65532

// File is one entry of a layer. Dir entries need no Data; a Link makes a
// symbolic link.
type File struct {
	Path string // absolute path inside the image, e.g. /etc/passwd
	Mode fs.FileMode
	Data []byte
	Dir  bool
	Link string
	// Source is a file on this machine to copy instead of Data.
	Source string
	UID    int
	GID    int
}

// Config is the part of the image config a builder sets.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
}

// NonRootFiles are the files that make a FROM-scratch image run as the
// non-root user 65532 like distroless's :nonroot images: /etc/passwd and
// /etc/group naming it, its home, and a world-writable /tmp.
func NonRootFiles() []File {
	return []File{
		{Path: "/etc", Dir: true, Mode: 0o755},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
				"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{Path: "/home", Dir: true, Mode: 0o755},
		{Path: "/home/nonroot", Dir: true, Mode: 0o700, UID: NonRootUID, GID: NonRootUID},
		{Path: "/tmp", Dir: true, Mode: fs.ModeSticky | 0o777},
	}
}

// CACertFiles returns the CA bundle at hostBundle (Debian's
// ca-certificates, the same bundle distroless images carry) as
// /etc/ssl/certs/ca-certificates.crt.
func CACertFiles(hostBundle string) ([]File, error) {
	data, err := os.ReadFile(hostBundle)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	return []File{
		{Path: "/etc/ssl", Dir: true, Mode: 0o755},
		{Path: "/etc/ssl/certs", Dir: true, Mode: 0o755},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Data: data},
	}, nil
}

// FilesLayer makes a layer of files, in path order.
func FilesLayer(files []File) (v1.Layer, error) {
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range sorted {
		if err := writeEntry(tw, f); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return layerFromTar(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// DirLayer makes a layer of the tree under root, placed at prefix inside
// the image (for example a Keycloak distribution at /opt/keycloak). Owners
// become uid, gid; modes and symbolic links are kept.
func DirLayer(root, prefix string, uid, gid int) (v1.Layer, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	return layerFromTar(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTree(pw, root, prefix, uid, gid)) }()
		return pr, nil
	})
}

func writeTree(w io.Writer, root, prefix string, uid, gid int) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f := File{Path: path.Join("/", prefix, filepath.ToSlash(rel)), Mode: info.Mode().Perm() | (info.Mode() & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)), UID: uid, GID: gid}
		switch {
		case d.IsDir():
			f.Dir = true
		case info.Mode()&fs.ModeSymlink != 0:
			if f.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			f.Source = p
		default:
			return nil // devices, sockets and fifos have no place in an image
		}
		if f.Path == "/" {
			return nil
		}
		return writeEntry(tw, f)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, f File) error {
	if !strings.HasPrefix(f.Path, "/") {
		return fmt.Errorf("layer entry %q: path must be absolute", f.Path)
	}
	hdr := &tar.Header{
		Name: strings.TrimPrefix(f.Path, "/"), Mode: int64(f.Mode.Perm()), Uid: f.UID, Gid: f.GID,
		Format: tar.FormatPAX,
	}
	if f.Mode&fs.ModeSetuid != 0 {
		hdr.Mode |= 0o4000
	}
	if f.Mode&fs.ModeSetgid != 0 {
		hdr.Mode |= 0o2000
	}
	if f.Mode&fs.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case f.Dir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
	case f.Link != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Link
	default:
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
	}
	var src *os.File
	if f.Source != "" && hdr.Typeflag == tar.TypeReg {
		var err error
		if src, err = os.Open(f.Source); err != nil {
			return err
		}
		defer func() { _ = src.Close() }() // read only: nothing to lose on close
		st, err := src.Stat()
		if err != nil {
			return err
		}
		hdr.Size = st.Size()
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("layer entry %s: %w", f.Path, err)
	}
	var err error
	switch {
	case src != nil:
		_, err = io.Copy(tw, src)
	case hdr.Typeflag == tar.TypeReg:
		_, err = tw.Write(f.Data)
	}
	if err != nil {
		return fmt.Errorf("layer entry %s: %w", f.Path, err)
	}
	return nil
}

func layerFromTar(open tarball.Opener) (v1.Layer, error) {
	return tarball.LayerFromOpener(open, tarball.WithMediaType(types.OCILayer))
}

// Build stacks layers FROM scratch under an OCI manifest with cfg, for
// linux/arch.
func Build(arch string, cfg Config, layers ...v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Entrypoint, cf.Config.Cmd = cfg.Entrypoint, cfg.Cmd
	cf.Config.Env, cf.Config.User = cfg.Env, cfg.User
	cf.Config.WorkingDir, cf.Config.Labels = cfg.WorkingDir, cfg.Labels
	return mutate.ConfigFile(img, cf)
}

// refAnnotation is how an OCI image layout names an image; `ctr images
// import` and `crane` read the tag from it.
const refAnnotation = "org.opencontainers.image.ref.name"

// WriteArchive writes img as an OCI image-layout tar archive at file (what
// `docker save`/`podman save --format oci-archive` write), named ref.
func WriteArchive(file, ref string, img v1.Image) error {
	dir, err := os.MkdirTemp(filepath.Dir(file), ".oci-layout-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a scratch folder; the archive is what counts
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refAnnotation: ref})); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	tmp := file + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := writeTree(out, dir, "", 0, 0); err != nil {
		_ = out.Close() // the write already failed; that error is the one to report
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", file, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// ReadArchive reads the one image of an archive that WriteArchive wrote,
// unpacking it into a directory under tmpDir, and returns it with its name.
func ReadArchive(file, tmpDir string) (v1.Image, string, error) {
	dir, err := os.MkdirTemp(tmpDir, "oci-layout-")
	if err != nil {
		return nil, "", err
	}
	if err := untar(file, dir); err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", file, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", file, err)
	}
	man, err := idx.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	if len(man.Manifests) != 1 {
		return nil, "", fmt.Errorf("%s holds %d images, want 1", file, len(man.Manifests))
	}
	img, err := idx.Image(man.Manifests[0].Digest)
	return img, man.Manifests[0].Annotations[refAnnotation], err
}

// untar unpacks an archive WriteArchive wrote: regular files and folders
// only, and never outside dir.
func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("entry %q leaves the archive", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.Create(target)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: unexpected type %c in an OCI layout", hdr.Name, hdr.Typeflag)
		}
	}
}

// PushOptions are the choices of a push.
type PushOptions struct {
	// AllowPlainHTTP lets the push fall back to plain HTTP for a registry
	// that is not on loopback (go-containerregistry tries HTTPS first).
	// Without it, plain HTTP goes to loopback only: see CheckPlainHTTP.
	AllowPlainHTTP bool
	// dial replaces the TCP dialer and tlsConfig the TLS settings (tests: a
	// name in a private range that leads to a registry on loopback).
	dial      dialFunc
	tlsConfig *tls.Config
}

// Push writes img to the registry as ref, with the credentials of the
// Docker config (~/.docker/config.json, credential helpers) like docker
// push. It speaks HTTPS, and plain HTTP only to a registry on loopback
// (localhost, 127.0.0.0/8, ::1) unless opts.AllowPlainHTTP: every request
// goes through a guard, whatever go-containerregistry's own heuristics pick.
func Push(ref string, img v1.Image, opts PushOptions) (name.Digest, error) {
	var nameOpts []name.Option
	if opts.AllowPlainHTTP {
		// HTTPS first, then plain HTTP, for any registry: what the person asked for.
		nameOpts = append(nameOpts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nameOpts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	guard := newPlainHTTPGuard(opts)
	if err := remote.Write(r, img, remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(guard)); err != nil {
		// Only when the failure comes from a refusal: a refused plain-HTTP
		// ping can lose to an HTTPS ping that then fails for another reason.
		if refused := guard.refusal(); refused != nil && errors.Is(err, ErrPlainHTTPRefused) {
			return name.Digest{}, fmt.Errorf("pushing %s: %w (every attempt: %v)", ref, refused, err) //nolint:errorlint // one cause is wrapped, the other is context
		}
		return name.Digest{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// Operator is the operator image: the static binary at /nauthera FROM
// scratch, with the CA certificates and the non-root user, running as
// 65532:65532 (the Dockerfile's recipe, without a container engine).
func Operator(binary, caBundle, arch string) (v1.Image, error) {
	ca, err := CACertFiles(caBundle)
	if err != nil {
		return nil, err
	}
	base, err := FilesLayer(append(NonRootFiles(), ca...))
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(binary)
	if err != nil {
		return nil, fmt.Errorf("operator binary: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("operator binary %s is not a regular file", binary)
	}
	bin, err := FilesLayer([]File{{Path: "/nauthera", Mode: 0o755, Source: binary}})
	if err != nil {
		return nil, err
	}
	return Build(arch, Config{
		Entrypoint: []string{"/nauthera"},
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootUID),
		WorkingDir: "/",
	}, base, bin)
}
