// Command pause is the pod sandbox of the cluster test bed (containerd's
// sandbox_image): it holds the pod's namespaces and waits for SIGTERM or
// SIGINT, like Kubernetes' pause image, built here because nothing can be
// pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
