package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ModuleFile returns the path of file in module@version, which the go
// command downloads from the Go module proxy into the module cache (once
// per version; checked against the checksum database like any module).
// Tests take upstream files that are not Go code from there, such as the
// CRDs a project publishes, instead of keeping copies in this repository.
func ModuleFile(module, version, file string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	// Outside this module: the download must not touch go.mod or go.sum.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info.Error != "" || runErr != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v %s\n%s%s", module, version, runErr, info.Error, stderr.String(), stdout.String()) //nolint:errorlint // runErr may be nil (the failure is in info.Error); %w would print %!w(<nil>)
	}
	path := filepath.Join(info.Dir, filepath.FromSlash(file))
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s@%s has no %s: %w", module, version, file, err)
	}
	return path, nil
}
