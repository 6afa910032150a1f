package testkit

import (
	"runtime"
	"strconv"
	"strings"
)

// Heap returns the bytes of live heap objects, after collecting garbage: for tests that check
// what a piece of code keeps, by the growth between two calls (with a margin).
func Heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// LongName returns prefix, then i, then filler up to size bytes: distinct names of one size,
// longer than any name bulwark keeps, for tests of what such names cost.
func LongName(prefix string, i, size int) string {
	s := prefix + strconv.Itoa(i)
	return s + strings.Repeat("x", max(size-len(s), 0))
}
