package breaker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bulwarkrpc/bulwark/codes"
)

// model is the breaker as the package documentation describes it, written plainly: a window
// of outcomes (the last WindowSize, or those of the last ten tenths of WindowDuration), a
// period number for the generations, the open interval's growth.
type model struct {
	cfg                    Config // Normalized.
	now                    time.Duration
	state                  State
	period                 int
	openFor, openUntil     time.Duration
	consec                 int
	window                 []modelOutcome // oldest first
	head                   int64          // time window: the newest epoch seen
	probes, probeOK        int
	probesFullAt           time.Duration // when the last free probe slot was taken
	calls, succ, fail, ign uint64
	dropped, rejections    uint64
	slowCalls              uint64
	changes                uint64
}

// modelOutcome is one outcome in the model's window: a failure or not, in the time window's epoch
// (a tenth of the window's duration since the start).
type modelOutcome struct {
	epoch   int64
	failure bool
	slow    bool
}

// slide moves the time window's newest epoch to now's, if later, and forgets the outcomes of
// the epochs that leave it.
func (m *model) slide() {
	if m.cfg.WindowType != WindowTime {
		return
	}
	width := int64(m.cfg.WindowDuration) / 10
	m.head = max(m.head, int64(m.now)/width)
	for len(m.window) > 0 && m.window[0].epoch <= m.head-10 {
		m.window = m.window[1:]
	}
}

func (m *model) slows() int {
	n := 0
	for _, o := range m.window {
		if o.slow {
			n++
		}
	}
	return n
}

func (m *model) fails() int {
	n := 0
	for _, o := range m.window {
		if o.failure {
			n++
		}
	}
	return n
}

// modelPermit is a call the model admitted: in period, or none (a disabled breaker's).
type modelPermit struct {
	none   bool
	period int
	start  time.Duration
}

func (m *model) to(s State) {
	m.state = s
	m.period++
	m.changes++
	m.probes, m.probeOK = 0, 0
	if s == Closed || s == Disabled {
		m.consec, m.window = 0, nil
	}
}

func (m *model) next() time.Duration {
	if m.openFor <= 0 {
		return m.cfg.InitialRecoveryTimeout
	}
	return min(time.Duration(float64(m.openFor)*m.cfg.RecoveryMultiplier), m.cfg.RecoveryTimeout)
}

func (m *model) open() { m.openAt(m.now) }

func (m *model) openAt(at time.Duration) {
	if m.state == HalfOpen {
		m.openFor = m.next()
	} else {
		m.openFor = m.cfg.InitialRecoveryTimeout
	}
	m.openUntil = at + m.openFor
	m.to(Open)
}

// waitEnded reports whether the half-open breaker has waited out HalfOpenMaxWait with every
// probe slot taken.
func (m *model) waitEnded() bool {
	return m.state == HalfOpen && m.probes == m.cfg.HalfOpenMaxCalls && m.now-m.probesFullAt >= m.cfg.HalfOpenMaxWait
}

// tick gives up on the probes as of the end of the wait for them, whenever it is looked at,
// then half-opens if the open interval has passed.
func (m *model) tick() {
	if m.waitEnded() {
		m.openAt(m.probesFullAt + m.cfg.HalfOpenMaxWait)
	}
	if m.state == Open && m.now >= m.openUntil {
		m.to(HalfOpen)
	}
}

// allow returns the permit, or the rejection's RetryAfter and false.
func (m *model) allow() (modelPermit, time.Duration, bool) {
	m.tick()
	switch m.state {
	case Closed:
		return modelPermit{period: m.period, start: m.now}, 0, true
	case Disabled:
		return modelPermit{none: true}, 0, true
	case HalfOpen:
		if m.probes < m.cfg.HalfOpenMaxCalls {
			m.probes++
			if m.probes == m.cfg.HalfOpenMaxCalls {
				m.probesFullAt = m.now
			}
			return modelPermit{period: m.period, start: m.now}, 0, true
		}
		// The longest wait: the rest of the wait for the probes, then the next interval.
		m.rejections++
		return modelPermit{}, m.probesFullAt + m.cfg.HalfOpenMaxWait - m.now + m.next(), false
	case Open:
		m.rejections++
		return modelPermit{}, m.openUntil - m.now, false
	}
	m.rejections++
	return modelPermit{}, 0, false
}

func (m *model) record(p modelPermit, class codes.Class) {
	if p.none {
		return
	}
	m.calls++
	slow := m.cfg.SlowCallDuration > 0 && !class.Ignored() && m.now-p.start > m.cfg.SlowCallDuration
	if slow {
		m.slowCalls++
	}
	switch {
	case class.Ignored():
		m.ign++
	case class.Failure():
		m.fail++
	default:
		m.succ++
	}
	if m.waitEnded() && m.now-m.probesFullAt > m.cfg.HalfOpenMaxWait { // A report after the wait comes too late; one at its end is in time.
		m.tick()
	}
	if p.period != m.period {
		m.dropped++
		return
	}
	failure := class.Failure()
	switch m.state {
	case Closed:
		if class.Ignored() {
			return
		}
		if failure {
			m.consec++
		} else {
			m.consec = 0
		}
		m.slide()
		m.window = append(m.window, modelOutcome{m.head, failure, slow})
		if m.cfg.WindowType != WindowTime && len(m.window) > m.cfg.WindowSize {
			m.window = m.window[1:]
		}
		fails := m.fails()
		switch {
		case failure && m.cfg.ConsecutiveFailures > 0 && m.consec >= m.cfg.ConsecutiveFailures:
			m.open()
		case failure && m.cfg.FailureRateThreshold > 0 && len(m.window) >= m.cfg.MinimumCalls &&
			float64(fails)/float64(len(m.window)) >= m.cfg.FailureRateThreshold:
			m.open()
		case slow && len(m.window) >= m.cfg.MinimumCalls && float64(m.slows())/float64(len(m.window)) >= m.cfg.SlowCallRateThreshold:
			m.open()
		}
	case HalfOpen:
		m.probes--
		switch {
		case class.Ignored():
		case failure, slow:
			m.open()
		default:
			m.probeOK++
			if m.probeOK >= m.cfg.SuccessThreshold {
				m.to(Closed)
			}
		}
	}
}

// TestBreakerAgainstModel drives breakers with seeded random sequences of calls (held and
// reported out of order, with every class of outcome, slow or not), clock moves and operator
// calls, and checks every admission, RetryAfter, state and count against the model.
func TestBreakerAgainstModel(t *testing.T) {
	configs := []Config{
		{ConsecutiveFailures: 3, InitialRecoveryTimeout: time.Second, RecoveryTimeout: 8 * time.Second, HalfOpenMaxWait: 5 * time.Second},
		{FailureRateThreshold: 0.5, WindowSize: 6, MinimumCalls: 4, HalfOpenMaxCalls: 3, SuccessThreshold: 2, InitialRecoveryTimeout: time.Second, RecoveryMultiplier: 3, RecoveryTimeout: 20 * time.Second},
		{ConsecutiveFailures: 2, FailureRateThreshold: 0.3, WindowSize: 10, MinimumCalls: 5, HalfOpenMaxCalls: 2, RecoveryTimeout: 5 * time.Second},
		{FailureRateThreshold: 1, WindowSize: 1, MinimumCalls: 1, HalfOpenMaxCalls: 1},
		{FailureRateThreshold: 0.5, WindowType: WindowTime, WindowDuration: 10 * time.Second, MinimumCalls: 4, HalfOpenMaxCalls: 2, RecoveryTimeout: 3 * time.Second},
		{ConsecutiveFailures: 4, FailureRateThreshold: 0.7, WindowType: WindowTime, WindowDuration: 2 * time.Second, MinimumCalls: 3, RecoveryTimeout: time.Second},
		{ConsecutiveFailures: 3, SlowCallDuration: 300 * time.Millisecond, SlowCallRateThreshold: 0.6, WindowSize: 5, MinimumCalls: 3, HalfOpenMaxCalls: 2, RecoveryTimeout: 2 * time.Second},
		{FailureRateThreshold: 0.5, SlowCallDuration: time.Second, WindowType: WindowTime, WindowDuration: 5 * time.Second, MinimumCalls: 3, RecoveryTimeout: time.Second},
		{ConsecutiveFailures: 2, HalfOpenMaxCalls: 2, SuccessThreshold: 5, InitialRecoveryTimeout: 500 * time.Millisecond, RecoveryTimeout: 4 * time.Second},
		{ConsecutiveFailures: 2, HalfOpenMaxCalls: 3, SuccessThreshold: 4, InitialRecoveryTimeout: time.Second, RecoveryTimeout: 6 * time.Second, HalfOpenMaxWait: 2 * time.Second},
		{ConsecutiveFailures: 3, SlowCallDuration: time.Second, WindowSize: 5, HalfOpenMaxCalls: 2, RecoveryTimeout: 2 * time.Second, HalfOpenMaxWait: 1500 * time.Millisecond},
	}
	classes := []codes.Class{codes.Success, codes.Business, codes.Transient, codes.ServerFault, codes.Throttled, codes.Canceled, codes.Rejected}
	for ci, cfg := range configs {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, uint64(ci)))
			b, clk, _ := newTest(t, cfg)
			m := &model{cfg: b.Config()}
			type held struct {
				p  Permit
				mp modelPermit
			}
			var out []held
			for step := range 3000 {
				where := func() string { return fmt.Sprintf("config %d seed %d step %d", ci, seed, step) }
				switch r := rng.IntN(100); {
				case r < 40:
					p, err := b.Allow()
					mp, retry, ok := m.allow()
					if (err == nil) != ok {
						t.Fatalf("%s: Allow = %v, model admits %v (state %v)", where(), err, ok, m.state)
					}
					if err != nil {
						var rej *codes.Rejection
						if !errors.As(err, &rej) || rej.RetryAfter != retry {
							t.Fatalf("%s: rejection %v, want RetryAfter %v", where(), err, retry)
						}
						continue
					}
					out = append(out, held{p, mp})
				case r < 80:
					if len(out) == 0 {
						continue
					}
					i := rng.IntN(len(out))
					h := out[i]
					out = append(out[:i], out[i+1:]...)
					class := classes[rng.IntN(len(classes))]
					h.p.Record(class)
					m.record(h.mp, class)
				case r < 92:
					var d time.Duration
					switch rng.IntN(4) {
					case 0:
						d = time.Duration(rng.IntN(int(time.Second)))
					case 1:
						d = max(m.openUntil-m.now, 0)
					case 3: // To the end of the wait for stuck probes, when it is on.
						if m.state == HalfOpen && m.probes == m.cfg.HalfOpenMaxCalls {
							d = max(m.probesFullAt+m.cfg.HalfOpenMaxWait-m.now, 0)
						}
					case 2:
						d = time.Duration(rng.IntN(40)) * time.Second
					}
					clk.Advance(d)
					m.now += d
				case r < 97:
					m.tick()
					m.slide()
					st := b.Stats()
					fails := m.fails()
					want := Stats{State: m.state, Calls: m.calls, Successes: m.succ, Failures: m.fail, Ignored: m.ign, Dropped: m.dropped,
						Rejections: m.rejections, StateChanges: m.changes, ConsecutiveFailures: m.consec, SlowCalls: m.slowCalls}
					if m.cfg.FailureRateThreshold > 0 || m.cfg.SlowCallDuration > 0 {
						want.WindowCalls, want.WindowFailures, want.WindowSlowCalls = len(m.window), fails, m.slows()
					}
					if st != want {
						t.Fatalf("%s: stats\n%+v, want\n%+v", where(), st, want)
					}
				default:
					switch rng.IntN(3) {
					case 0:
						b.Reset()
						if m.state != Closed {
							m.to(Closed)
						} else {
							m.period++
							m.consec, m.window = 0, nil
						}
						m.calls, m.succ, m.fail, m.ign, m.dropped, m.rejections, m.changes, m.slowCalls = 0, 0, 0, 0, 0, 0, 0, 0
					case 1:
						b.ForceOpen()
						if m.state != ForcedOpen {
							m.to(ForcedOpen)
						}
					case 2:
						if rng.IntN(3) == 0 { // Rarely: a disabled breaker records nothing.
							b.Disable()
							if m.state != Disabled {
								m.to(Disabled)
							}
						}
					}
				}
				m.tick()
				if s := b.State(); s != m.state {
					t.Fatalf("%s: state %v, model %v", where(), s, m.state)
				}
			}
		}
	}
}
