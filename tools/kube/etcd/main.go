// Command etcd is the upstream etcd server, built from go.etcd.io/etcd so
// tests can start the API server's storage on loopback.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
