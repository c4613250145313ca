//go:build unix

package guard

import "syscall"

// OpenFiles returns the process's limit on open files (its soft
// RLIMIT_NOFILE, which the Go runtime raises to the hard limit at start), or
// 0 if it cannot be read.
func OpenFiles() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return uint64(r.Cur) //nolint:unconvert // int64 on some platforms
}
