package main

import "syscall"

// dieWithParent makes the kernel kill a child when the chaos program dies,
// so no herald or nats-server outlives an interrupted run.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
