package testkit

// ColdBytes is what a cold benchmark reads between two calls: four times the 512 KB L2 cache of
// this machine's cores (the VM does not report its cache sizes), within its L3.
const ColdBytes = 2 << 20

// Evictor takes a benchmark's code and data out of the core's L1 and L2 caches, as the ~30 µs
// of grpc's client, transport and server work between two calls does, by reading other memory.
type Evictor struct {
	mem []byte
	sum byte // keeps the reads alive
}

// NewEvictor returns an Evictor that reads n bytes (ColdBytes for the cold benchmarks).
func NewEvictor(n int) *Evictor {
	e := &Evictor{mem: make([]byte, n)}
	for i := range e.mem { // written, so that its pages are its own, not the kernel's shared zero page
		e.mem[i] = byte(i)
	}
	return e
}

// Evict reads one byte of every 64-byte cache line of the Evictor's memory.
func (e *Evictor) Evict() {
	var s byte
	for i := 0; i < len(e.mem); i += 64 {
		s += e.mem[i]
	}
	e.sum += s
}
