package stub

import (
	"container/list"
	"fmt"
	"strconv"
	"sync"
	"time"

	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys that script faults for one request, so that tests can be exact. Attempts are
// counted per (full method, request id): the same id may be reused across the three services.
// An attempt is counted when it reaches fault injection, which is after the outage check: calls
// refused by an outage are not attempts.
const (
	// MDRequestID names the logical request whose attempts the stub counts. Required by
	// MDFailFirst and MDDelayFirst.
	MDRequestID = "x-mlstub-request-id"
	// MDFailFirst is N: the first N attempts of the request fail with MDFailCode.
	MDFailFirst = "x-mlstub-fail-first"
	// MDFailCode is the snake_case gRPC code of scripted failures. Default unavailable.
	MDFailCode = "x-mlstub-fail-code"
	// MDDelay is a Go duration ("300ms") by which the request is delayed, on top of the
	// profile's latency. The wait ends early when the caller cancels (the stub then counts the
	// call as Canceled, or DeadlineExceeded when the caller's deadline expired).
	MDDelay = "x-mlstub-delay"
	// MDDelayFirst is N: only the first N attempts of the request are delayed by MDDelay (0:
	// none, as MDFailFirst 0 fails none).
	MDDelayFirst = "x-mlstub-delay-first"
	// MDPushback is a Go duration: the RetryInfo delay of a scripted ResourceExhausted failure,
	// instead of the profile's Pushback.
	MDPushback = "x-mlstub-pushback"
)

// script is what one request's metadata asks for.
type script struct {
	id            string
	failFirst     int
	failCode      grpccodes.Code
	delay         time.Duration
	delayFirst    int // with hasDelayFirst: only attempts up to it are delayed
	hasDelayFirst bool
	pushback      time.Duration
	hasPushback   bool
}

func badMetadata(key, want, got string) error {
	return status.Errorf(grpccodes.InvalidArgument, "mlstub: metadata %s: want %s, got %q", key, want, got)
}

// readScript reads the scripting metadata. A malformed value is an InvalidArgument error that
// names the key, so that a typo in a test fails loudly.
func readScript(md metadata.MD) (script, error) {
	get := func(k string) (string, bool) {
		v := md.Get(k)
		if len(v) == 0 {
			return "", false
		}
		return v[len(v)-1], true
	}
	sc := script{failCode: grpccodes.Unavailable}
	sc.id, _ = get(MDRequestID)
	count := func(key string) (int, error) {
		v, ok := get(key)
		if !ok {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, badMetadata(key, "a non-negative integer", v)
		}
		if n > 0 && sc.id == "" {
			return 0, status.Errorf(grpccodes.InvalidArgument, "mlstub: metadata %s: %q needs %s", key, v, MDRequestID)
		}
		return n, nil
	}
	dur := func(key string) (time.Duration, bool, error) {
		v, ok := get(key)
		if !ok {
			return 0, false, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return 0, false, badMetadata(key, "a non-negative Go duration such as 300ms", v)
		}
		return d, true, nil
	}
	var err error
	if sc.failFirst, err = count(MDFailFirst); err != nil {
		return sc, err
	}
	if sc.delayFirst, err = count(MDDelayFirst); err != nil {
		return sc, err
	}
	_, sc.hasDelayFirst = get(MDDelayFirst)
	if v, ok := get(MDFailCode); ok {
		c, perr := ParseCode(v)
		if perr != nil {
			return sc, badMetadata(MDFailCode, "a gRPC error code in snake_case such as unavailable", v)
		}
		sc.failCode = c
	}
	if sc.delay, _, err = dur(MDDelay); err != nil {
		return sc, err
	}
	if sc.pushback, sc.hasPushback, err = dur(MDPushback); err != nil {
		return sc, err
	}
	return sc, nil
}

// attempts counts attempts per key, remembering at most capacity keys (least recently used
// forgotten first). It is safe for concurrent use.
type attempts struct {
	mu       sync.Mutex
	capacity int
	order    *list.List               // Guarded by mu: *attemptEntry, most recent first.
	byKey    map[string]*list.Element // Guarded by mu.
}

type attemptEntry struct {
	key string
	n   int
}

func newAttempts(capacity int) *attempts {
	return &attempts{capacity: capacity, order: list.New(), byKey: map[string]*list.Element{}}
}

// next counts one more attempt for key and returns its number, from 1.
func (a *attempts) next(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.byKey[key]; ok {
		a.order.MoveToFront(el)
		e := el.Value.(*attemptEntry)
		e.n++
		return e.n
	}
	a.byKey[key] = a.order.PushFront(&attemptEntry{key: key, n: 1})
	for a.order.Len() > a.capacity {
		last := a.order.Back()
		a.order.Remove(last)
		delete(a.byKey, last.Value.(*attemptEntry).key)
	}
	return 1
}

// get returns how many attempts key made, 0 if unknown or forgotten.
func (a *attempts) get(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.byKey[key]; ok {
		return el.Value.(*attemptEntry).n
	}
	return 0
}

// len returns how many keys are remembered.
func (a *attempts) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.order.Len()
}

func scriptKey(method, id string) string { return fmt.Sprintf("%s\x00%s", method, id) }
