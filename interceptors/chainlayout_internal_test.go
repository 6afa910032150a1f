package interceptors

import (
	"testing"
	"unsafe"
)

// TestChainHotFieldsShareALine: the fields of chain and unaryChain a unary call reads on the
// suite's fused and direct paths lie in each struct's first 64 bytes, and each struct's size
// is a multiple of 64 (a size class whose objects start on cache lines), so that a cold call
// misses one line of each. A field added or moved breaks it: then move the field, or change
// chainPad / unaryChainPad to the new round size.
func TestChainHotFieldsShareALine(t *testing.T) {
	const line = 64
	var c chain
	for name, end := range map[string]uintptr{
		"method": unsafe.Offsetof(c.method) + unsafe.Sizeof(c.method),
		"uc":     unsafe.Offsetof(c.uc) + unsafe.Sizeof(c.uc),
		"quiet":  unsafe.Offsetof(c.quiet) + unsafe.Sizeof(c.quiet),
		"sink":   unsafe.Offsetof(c.sink) + unsafe.Sizeof(c.sink),
		"err":    unsafe.Offsetof(c.err) + unsafe.Sizeof(c.err),
	} {
		if end > line {
			t.Errorf("chain.%s ends at byte %d, past the first cache line", name, end)
		}
	}
	if n := unsafe.Sizeof(c); n%line != 0 {
		t.Errorf("chain is %d bytes, not a multiple of %d: set chainPad so that it is", n, line)
	}
	var u unaryChain
	for name, end := range map[string]uintptr{
		"dl":           unsafe.Offsetof(u.dl) + unsafe.Sizeof(u.dl),
		"gated":        unsafe.Offsetof(u.gated) + unsafe.Sizeof(u.gated),
		"tail":         unsafe.Offsetof(u.tail) + unsafe.Sizeof(u.tail),
		"keptAt":       unsafe.Offsetof(u.keptAt) + unsafe.Sizeof(u.keptAt),
		"memo":         unsafe.Offsetof(u.memo) + unsafe.Sizeof(u.memo),
		"plainInstant": unsafe.Offsetof(u.plainInstant) + unsafe.Sizeof(u.plainInstant),
		"rm":           unsafe.Offsetof(u.rm) + unsafe.Sizeof(u.rm),
	} {
		if end > line {
			t.Errorf("unaryChain.%s ends at byte %d, past the first cache line", name, end)
		}
	}
	if n := unsafe.Sizeof(u); n%line != 0 {
		t.Errorf("unaryChain is %d bytes, not a multiple of %d: set unaryChainPad so that it is", n, line)
	}
}
