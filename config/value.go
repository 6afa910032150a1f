package config

import "github.com/bulwarkrpc/bulwark/section"

// Value returns the value of the section k in p: a *C of the section's Config type, or nil
// when the section is off or k is not registered. It is p's own value: do not change it.
func (p Profile) Value(k section.Key) any {
	sl, ok := slotOf(k)
	if !ok {
		return nil
	}
	return sl.get(&p)
}
