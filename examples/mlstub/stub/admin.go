package stub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxFaultsBody bounds the body of PUT /faults.
const maxFaultsBody = 64 << 10

// OutageState is the JSON answer of the outage endpoints.
type OutageState struct {
	// Down reports whether an outage is under way.
	Down bool `json:"down"`
	// Until is the end of a timed outage (RFC 3339), empty for none or for Down without end.
	Until string `json:"until,omitempty"`
}

// AdminHandler returns the HTTP handler the metrics listener serves:
//
//	GET  /metrics          Prometheus text format (the stub's own registry)
//	GET  /faults           the fault profile as JSON (see Faults)
//	PUT  /faults           replace the profile; the body is the JSON of Faults (missing fields
//	                       are zero); 400 with a message when invalid; answers the new profile
//	GET  /outage           OutageState
//	POST /outage?for=5s    an outage of that length from now; answers OutageState
//	POST /down             an outage until POST /up; answers OutageState
//	POST /up               end any outage; answers OutageState
func (s *Stub) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	// A scrape that fails to gather (a collector registered on Registry that errs) answers 500
	// and is logged as an error, not only told to the scraper.
	gatherLog, _ := zap.NewStdLogAt(s.log, zapcore.ErrorLevel) // fails on an invalid level only
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: gatherLog}))
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Faults())
	})
	mux.HandleFunc("PUT /faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFaultsBody))
		if err != nil {
			http.Error(w, "bad faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		var f Faults
		if err := json.Unmarshal(body, &f); err != nil {
			http.Error(w, "bad faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.SetFaults(f); err != nil {
			http.Error(w, "bad faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, s.Faults())
	})
	mux.HandleFunc("GET /outage", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.OutageState())
	})
	mux.HandleFunc("POST /outage", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("for")
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			http.Error(w, fmt.Sprintf("bad outage: want ?for=DURATION (a positive Go duration such as 5s), got %q", v),
				http.StatusBadRequest)
			return
		}
		s.OutageFor(d)
		writeJSON(w, s.OutageState())
	})
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, _ *http.Request) {
		s.Down()
		writeJSON(w, s.OutageState())
	})
	mux.HandleFunc("POST /up", func(w http.ResponseWriter, _ *http.Request) {
		s.Up()
		writeJSON(w, s.OutageState())
	})
	return mux
}

// OutageState returns whether an outage is under way and, for a timed one, when it ends.
func (s *Stub) OutageState() OutageState {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	st := OutageState{Down: s.isDownLocked(now)}
	if u := s.outageUntilLocked(now); !u.IsZero() {
		st.Until = u.UTC().Format(time.RFC3339Nano)
	}
	return st
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
