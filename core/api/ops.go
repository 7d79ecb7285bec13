package api

import (
	"net/http"
)

type healthBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// getHealthz answers while the process serves HTTP at all (liveness).
func (s *server) getHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

// getReadyz says whether the node should get traffic: not while draining, and
// not while a configured chain does not answer.
func (s *server) getReadyz(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{}
	ready := true
	if s.cfg.Draining() {
		checks["server"] = "shutting down"
		ready = false
	} else {
		checks["server"] = "ok"
	}
	st := s.cfg.Chain.Status()
	switch {
	case !st.Configured:
		checks["chain"] = "not configured"
	case st.Available:
		checks["chain"] = "ok"
	default:
		checks["chain"] = st.Reason
		ready = false
	}
	if !ready {
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Status: "not ready", Checks: checks})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ready", Checks: checks})
}
