// Command build-kube builds (or finds in the cache) the kube-apiserver and
// etcd binaries that the tests run, so `make kube-bins` can pay for the slow
// first build ahead of `make test`. It prints the two paths.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/coderfleet/coderfleet/internal/kubetest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "build-kube: %v\n", err)
		os.Exit(4)
	}
}

func run(ctx context.Context) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	toolsDir, err := kubetest.FindToolsDir(wd)
	if err != nil {
		return err
	}
	cacheRoot, err := kubetest.DefaultCacheRoot(os.Getenv)
	if err != nil {
		return err
	}
	bins, err := kubetest.EnsureBinaries(ctx, kubetest.BuildOptions{ToolsDir: toolsDir, CacheRoot: cacheRoot, Progress: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Println(bins.APIServer)
	fmt.Println(bins.Etcd)
	return nil
}
