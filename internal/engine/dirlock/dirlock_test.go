package dirlock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-mq/herald/internal/engine/dirlock"
)

func TestSecondHolderRefusedUntilRelease(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "data") // created, parents included
	first, err := dirlock.Acquire(dir)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, dirlock.FileName))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b))

	// flock belongs to the open file, so a second open in this process
	// conflicts as another process's would.
	_, err = dirlock.Acquire(dir)
	require.ErrorIs(t, err, dirlock.ErrInUse)
	require.EqualError(t, err, "data directory "+dir+" is in use by process "+strconv.Itoa(os.Getpid()))

	require.NoError(t, first.Release())
	require.NoError(t, first.Release(), "a second release does nothing")
	second, err := dirlock.Acquire(dir)
	require.NoError(t, err)
	require.NoError(t, second.Release())
}

func TestInUseWithoutPID(t *testing.T) {
	t.Parallel()
	e := &dirlock.InUseError{Dir: "/d"}
	require.EqualError(t, e, "data directory /d is in use by another process")
	require.True(t, errors.Is(e, dirlock.ErrInUse))
}

// Tests run as root, who may write a chmod 0500 directory; a directory
// under a regular file cannot be created by anyone (ENOTDIR).
func TestDirectoryThatCannotBeCreated(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err := dirlock.Acquire(filepath.Join(file, "data"))
	require.ErrorIs(t, err, syscall.ENOTDIR)
	require.True(t, strings.HasPrefix(err.Error(), "data directory "+filepath.Join(file, "data")+" cannot be created: "), err.Error())
}

func TestNotWritableNamesTheCause(t *testing.T) {
	t.Parallel()
	err := dirlock.NotWritable("/x", &os.PathError{Op: "open", Path: "/x/herald.lock", Err: syscall.EACCES})
	require.EqualError(t, err, "data directory /x is not writable: permission denied")
	require.ErrorIs(t, err, syscall.EACCES)
}
