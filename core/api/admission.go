package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvm-node/nvm-node/core/admission"
	"github.com/nvm-node/nvm-node/core/asset/marketplace"
)

// admissionMetrics count refusals. Labels are route patterns, classes and
// reasons: all fixed sets, so a client cannot grow them.
type admissionMetrics struct {
	refused *prometheus.CounterVec
}

func newAdmissionMetrics(reg prometheus.Registerer) *admissionMetrics {
	m := &admissionMetrics{refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "nvm", Subsystem: "admission", Name: "refused_total",
		Help: "Requests refused with 429 before being served, by route pattern, cost class and reason (rate, client_inflight, total_inflight, replay_quota, upload_buffer).",
	}, []string{"route", "class", "reason"})}
	reg.MustRegister(m.refused)
	return m
}

// routePattern is the chi pattern of the matched route, "unmatched" before
// routing.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// clientAddress puts the request's client address in its context, for
// admission and the replay store: the connection's peer, or the address
// the trusted proxies forwarded.
func (s *server) clientAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := s.cfg.Clients.Resolve(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		next.ServeHTTP(w, r.WithContext(admission.WithClient(r.Context(), key)))
	})
}

// limit admits a request of class or answers 429 with Retry-After. It is
// applied per route (after routing), so refusals are counted by pattern.
func (s *server) limit(class admission.Class) func(http.Handler) http.Handler {
	return s.limitBy(func(*http.Request) admission.Class { return class })
}

func (s *server) limitBy(classify func(*http.Request) admission.Class) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if s.cfg.Limiter == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			class := classify(r)
			release, err := s.cfg.Limiter.Admit(admission.ClientFrom(r.Context()), class)
			if err != nil {
				var ref *admission.Refusal
				reason := "refused"
				retry := 1
				if errors.As(err, &ref) {
					reason, retry = string(ref.Reason), ref.RetryAfterSeconds()
				}
				s.adm.refused.WithLabelValues(routePattern(r), string(class), reason).Inc()
				s.fail(w, r, &Error{Status: http.StatusTooManyRequests, Message: err.Error(), Cause: err, RetryAfter: retry})
				return
			}
			defer release()
			next.ServeHTTP(w, r)
		})
	}
}

// metadataClass sorts the node-hosted marketplace routes into classes.
func metadataClass(r *http.Request) admission.Class {
	pattern := routePattern(r)
	switch {
	case pattern == marketplace.LoginPath:
		return admission.ClassAuth
	case pattern == marketplace.QueryPath, pattern == marketplace.DDOPath && r.Method == http.MethodGet:
		return admission.ClassSearch
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete || r.Method == http.MethodPatch:
		return admission.ClassWrite
	case strings.HasPrefix(pattern, "/api/v1/metadata/"):
		return admission.ClassRead
	}
	return admission.ClassRead
}
