package guard

import "math"

// DefaultMaxConns is the per-listener cap used where the open-file limit is
// unknown.
const DefaultMaxConns = 10000

// MaxConns is the default cap on each of n listeners: the open-file limit,
// less a reserve for the engine's own files (a quarter of the limit, at
// least 256), shared between the listeners, and at least 16 each. A limit
// of 0 (unknown) gives DefaultMaxConns.
func MaxConns(openFiles uint64, n int) int {
	if openFiles == 0 || n < 1 {
		return DefaultMaxConns
	}
	left := openFiles - min(openFiles, Reserve(openFiles))
	return int(min(max(left/uint64(n), 16), math.MaxInt32))
}

// Reserve is how many of openFiles descriptors are kept for the engine and
// everything else that is not a client connection: a quarter, at least 256.
func Reserve(openFiles uint64) uint64 { return max(256, openFiles/4) }
