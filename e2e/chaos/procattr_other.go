//go:build !linux

package main

import "syscall"

// dieWithParent has no portable equivalent outside Linux: an interrupted run
// stops its children from its own signal handler.
func dieWithParent() *syscall.SysProcAttr { return nil }
