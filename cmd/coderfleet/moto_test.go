package main

import (
	"os"
	"testing"

	"github.com/coderfleet/coderfleet/internal/motoserver"
)

// motoPool shares moto_servers among this package's tests: each test that
// needs moto gets one with its settings, reset to an empty state, instead of
// paying for a moto_server start of its own.
var motoPool motoserver.Pool

func TestMain(m *testing.M) {
	code := m.Run()
	motoPool.Close()
	os.Exit(code)
}
