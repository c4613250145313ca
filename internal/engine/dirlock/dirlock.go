// Package dirlock keeps a data directory to one process: an exclusive
// flock(2) on a lock file inside it. The kernel drops the lock when its
// holder exits, however it exits, so a kill -9 leaves no stale lock.
package dirlock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// FileName is the lock file in the directory; it holds its holder's pid.
const FileName = "herald.lock"

// ErrInUse matches an *InUseError.
var ErrInUse = errors.New("data directory in use")

// InUseError says which process holds the directory.
type InUseError struct {
	// Dir is the directory, as given to Acquire.
	Dir string
	// PID is the holder's process id, 0 when the lock file does not (yet)
	// say.
	PID int
}

func (e *InUseError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("data directory %s is in use by process %d", e.Dir, e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by another process", e.Dir)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// Lock is a held directory.
type Lock struct {
	f *os.File
}

// Acquire creates dir (and its parents) if missing and locks it for this
// process. It fails at once, without waiting, when another process holds it
// (*InUseError), and names the cause when dir cannot be created or written.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory %s cannot be created: %w", dir, err)
	}
	name := filepath.Join(dir, FileName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, NotWritable(dir, err)
	}
	if err := flock(f); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, PID: readPID(name)}
		}
		return nil, fmt.Errorf("data directory %s: lock %s: %w", dir, name, err)
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := f.Truncate(0); err != nil {
		_ = f.Close()
		return nil, NotWritable(dir, err)
	}
	if _, err := f.WriteAt([]byte(pid), 0); err != nil {
		_ = f.Close()
		return nil, NotWritable(dir, err)
	}
	return &Lock{f: f}, nil
}

// Release unlocks the directory. The lock file stays: removing it would let
// a process that opened it before the removal and one that creates it anew
// both hold "the" lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	return err
}

// NotWritable is the error for a directory a write in failed with err,
// naming the cause (the errno's text) rather than the file tried.
func NotWritable(dir string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("data directory %s is not writable: %w", dir, err)
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func readPID(name string) int {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
