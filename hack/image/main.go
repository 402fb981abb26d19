// Command image builds the operator image without a container engine and
// pushes it to a registry (make image, make image-push).
//
//	image build --binary bin/nauthera --out bin/nauthera-image.tar [--ref nauthera:dev]
//	image push  --archive bin/nauthera-image.tar --image registry.example.com/nauthera:0.1.0
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
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: image build --binary FILE --out FILE [--ref NAME] | image push --archive FILE --image REF")
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
	if err := ociimage.WriteArchive(*out, *ref, img); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s@%s\n", *out, *ref, d)
	return nil
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	archive := fs.String("archive", "bin/nauthera-image.tar", "OCI archive written by image build")
	ref := fs.String("image", "", "where to push, e.g. registry.example.com/team/nauthera:0.1.0")
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
	d, err := ociimage.Push(*ref, img)
	if err != nil {
		return err
	}
	fmt.Println(d.String())
	return nil
}
