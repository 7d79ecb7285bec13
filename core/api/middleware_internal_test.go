package api

import (
	"testing"
	"time"
)

func TestAccessLogChoice(t *testing.T) {
	errorsOnly := AccessLog{OnlyErrors: true, Slow: time.Second}
	for _, tc := range []struct {
		a       AccessLog
		status  int
		elapsed time.Duration
		want    bool
	}{
		{AccessLog{}, 200, time.Millisecond, true},
		{AccessLog{Off: true}, 500, time.Minute, false},
		{errorsOnly, 200, time.Millisecond, false},
		{errorsOnly, 404, time.Millisecond, true},
		{errorsOnly, 503, time.Millisecond, true},
		{errorsOnly, 200, 2 * time.Second, true},
		{AccessLog{OnlyErrors: true}, 200, time.Hour, false},
	} {
		if got := tc.a.wants(tc.status, tc.elapsed); got != tc.want {
			t.Errorf("%+v status %d after %s: logged %v, want %v", tc.a, tc.status, tc.elapsed, got, tc.want)
		}
	}
}
