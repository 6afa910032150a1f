package testkit

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer that a writer and a reader on other goroutines may share: the
// stderr of a command a test runs while it polls the output.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
