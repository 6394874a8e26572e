//go:build unix && !linux

package kubetest

import "syscall"

// sysProcAttr puts a child in its own process group so Close can signal it
// and anything it spawned.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
