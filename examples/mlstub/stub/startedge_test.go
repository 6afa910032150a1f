package stub

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/clock"
	"github.com/bulwarkrpc/bulwark/clock/clocktest"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"
)

// steppingClock is a fake clock on which every reading takes a nanosecond, as the real clock
// moves on between two readings: an edge can fall between any two of them.
type steppingClock struct{ *clocktest.Fake }

func (c steppingClock) Now() time.Time {
	t := c.Fake.Now()
	c.Fake.Advance(time.Nanosecond)
	return t
}

var _ clock.Clock = steppingClock{}

// Regression: Start read the clock once to place the outage window, again to force the first
// health write and again to write it; an edge between the last two readings left every
// service's health status unset (NOT_FOUND), and no timer was armed to set it later.
func TestOutageEdgeAtStartSetsHealth(t *testing.T) {
	for after := range 3 {
		for length := 1; length <= 4; length++ {
			name := fmt.Sprintf("after%dns_for%dns", after, length)
			t.Run(name, func(t *testing.T) {
				fake := clocktest.New(time.Time{})
				s, err := Start(context.Background(), Config{
					Outage: OutageWindow{After: time.Duration(after), For: time.Duration(length)},
				}, WithClock(steppingClock{fake}), WithListener(bufconn.Listen(1<<16)))
				if err != nil {
					t.Fatal(err)
				}
				defer s.Stop()
				fake.Advance(time.Second) // past the window: any edge timer fires
				for _, svc := range append(s.Services(), "") {
					eventually(t, "health of "+svc+" SERVING after the window", func() bool {
						resp, err := s.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
						return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
					})
				}
			})
		}
	}
}
