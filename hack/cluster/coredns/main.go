//go:build ignore

// The CoreDNS of the cluster test bed: CoreDNS's own main (coremain) with
// only the plugins hack/cluster/coredns.yaml's Corefile names, instead of
// github.com/coredns/coredns with all of them (cloud DNS providers, etcd,
// dnstap, ... that make its cold build several minutes longer).
//
// Not part of this module (build tag ignore): hack/build-control-plane.sh
// copies it into a throwaway module that requires
// github.com/coredns/coredns at COREDNS_VERSION, and keys the binary's
// cache folder by this file's hash.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The Corefile's plugins (hack/cluster/coredns.yaml); a plugin the
	// Corefile names but that is missing here fails CoreDNS's start with
	// "unknown directive".
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
)

// plugins are the directives compiled in above.
var plugins = map[string]bool{
	"cache": true, "errors": true, "health": true, "kubernetes": true,
	"loadbalance": true, "loop": true, "ready": true,
}

func init() {
	// CoreDNS's generated list fixes the order in which plugins handle a
	// query; keep that order, minus the plugins not compiled in.
	var d []string
	for _, name := range dnsserver.Directives {
		if plugins[name] {
			d = append(d, name)
		}
	}
	dnsserver.Directives = d
}

func main() { coremain.Run() }
