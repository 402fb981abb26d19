// Command image builds the operator image without a container engine and
// pushes it to a registry (make image, make image-push).
//
//	image build --binary bin/nauthera --out bin/nauthera-image.tar [--ref nauthera:dev]
//	image push  --archive bin/nauthera-image.tar --image registry.example.com/nauthera:0.1.0 [--allow-plain-http]
//	image compose --out F --ref R [--entrypoint /x]... [--user U] [--env K=V]...
//	              [--nonroot] [--ca-bundle F] [--dir HOSTDIR:IMAGEDIR[:UID:GID]]...
//
// compose builds the cluster test bed's other images (pause, CoreDNS,
// Keycloak on a Debian JRE, the in-pod probe) from folders and files of
// this machine.
//
// The image is the Dockerfile's recipe: the static binary FROM scratch, the
// CA certificates, and the non-root user 65532.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nauthera/nauthera/internal/ociimage"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "compose":
		err = compose(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: image build --binary FILE --out FILE [--ref NAME] | image push --archive FILE --image REF [--allow-plain-http]")
	os.Exit(2)
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	binary := fs.String("binary", "bin/nauthera", "the static operator binary (CGO_ENABLED=0, GOOS=linux)")
	out := fs.String("out", "bin/nauthera-image.tar", "OCI archive to write")
	ref := fs.String("ref", "nauthera:dev", "name recorded in the archive")
	caBundle := fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA certificates to include")
	arch := fs.String("arch", runtime.GOARCH, "image architecture (the binary's GOARCH)")
	_ = fs.Parse(args)

	img, err := ociimage.Operator(*binary, *caBundle, *arch)
	if err != nil {
		return err
	}
	return writeArchive(*out, *ref, img)
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	archive := fs.String("archive", "bin/nauthera-image.tar", "OCI archive written by image build")
	ref := fs.String("image", "", "where to push, e.g. registry.example.com/team/nauthera:0.1.0")
	plainHTTP := fs.Bool("allow-plain-http", false, "allow plain HTTP to a registry that is not on loopback "+
		"(the image and the registry credentials then travel unencrypted); without it, plain HTTP goes to loopback only")
	_ = fs.Parse(args)
	if *ref == "" {
		return fmt.Errorf("--image is required (make image-push IMAGE=<registry>/<repo>:<tag>)")
	}
	tmp, err := os.MkdirTemp(filepath.Dir(*archive), ".push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	img, _, err := ociimage.ReadArchive(*archive, tmp)
	if err != nil {
		return err
	}
	d, err := ociimage.Push(*ref, img, ociimage.PushOptions{AllowPlainHTTP: *plainHTTP})
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return nil
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func compose(args []string) error {
	fs := flag.NewFlagSet("compose", flag.ExitOnError)
	out := fs.String("out", "", "OCI archive to write")
	ref := fs.String("ref", "", "name recorded in the archive")
	user := fs.String("user", "", "user[:group] the image runs as")
	workdir := fs.String("workdir", "/", "working directory")
	nonroot := fs.Bool("nonroot", false, "add /etc/passwd, /etc/group naming 65532 and a /tmp")
	caBundle := fs.String("ca-bundle", "", "CA certificates to add as /etc/ssl/certs/ca-certificates.crt")
	arch := fs.String("arch", runtime.GOARCH, "image architecture")
	var entrypoint, cmd, env, dirs multi
	fs.Var(&entrypoint, "entrypoint", "entrypoint word (repeat)")
	fs.Var(&cmd, "cmd", "cmd word (repeat)")
	fs.Var(&env, "env", "K=V (repeat)")
	fs.Var(&dirs, "dir", "HOSTPATH:IMAGEPATH[:UID:GID], a folder or one file, one layer each (repeat)")
	_ = fs.Parse(args)
	if *out == "" || *ref == "" {
		return fmt.Errorf("compose needs --out and --ref")
	}
	var files []ociimage.File
	if *nonroot {
		files = append(files, ociimage.NonRootFiles()...)
	}
	if *caBundle != "" {
		ca, err := ociimage.CACertFiles(*caBundle)
		if err != nil {
			return err
		}
		files = append(files, ca...)
	}
	var layers []v1.Layer
	if len(files) > 0 {
		l, err := ociimage.FilesLayer(files)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	for _, d := range dirs {
		l, err := dirLayer(d)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	img, err := ociimage.Build(*arch, ociimage.Config{
		Entrypoint: entrypoint, Cmd: cmd, Env: env, User: *user, WorkingDir: *workdir,
	}, layers...)
	if err != nil {
		return err
	}
	return writeArchive(*out, *ref, img)
}

// writeArchive writes img as the OCI archive out, recorded as ref, and
// prints where it went with its digest.
func writeArchive(out, ref string, img v1.Image) error {
	if err := ociimage.WriteArchive(out, ref, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s@%s\n", out, ref, d)
	return nil
}

// dirLayer reads HOSTPATH:IMAGEPATH[:UID:GID]: a folder becomes a tree at
// IMAGEPATH, a file the one file IMAGEPATH.
func dirLayer(spec string) (v1.Layer, error) {
	parts := strings.Split(spec, ":")
	if len(parts) != 2 && len(parts) != 4 {
		return nil, fmt.Errorf("--dir %q: want HOSTPATH:IMAGEPATH[:UID:GID]", spec)
	}
	uid, gid := 0, 0
	if len(parts) == 4 {
		var err1, err2 error
		uid, err1 = strconv.Atoi(parts[2])
		gid, err2 = strconv.Atoi(parts[3])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("--dir %q: UID and GID must be numbers", spec)
		}
	}
	st, err := os.Stat(parts[0])
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return ociimage.DirLayer(parts[0], parts[1], uid, gid)
	}
	return ociimage.FilesLayer([]ociimage.File{{Path: parts[1], Mode: st.Mode(), Source: parts[0], UID: uid, GID: gid}})
}
