package main

import (
	"math"
	"testing"
	"time"
)

func TestFairness(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		took []time.Duration
		want float64
	}{
		{[]time.Duration{s, s, s, s}, 1},
		{[]time.Duration{s, 0, s}, 1},                                          // a failed session is left out
		{[]time.Duration{s, 2 * s}, 2.25 / 2.5},                                // rates 1 and 0.5
		{[]time.Duration{s, 1000 * s, 1000 * s}, 1.002 * 1.002 / 3 / 1.000002}, // one got nearly everything
	} {
		got, d := fairness(tc.took)
		if math.Abs(got-tc.want) > 1e-6 || d == nil {
			t.Errorf("fairness(%v) = %v, %v; want %v", tc.took, got, d, tc.want)
		}
	}
	if f, d := fairness([]time.Duration{0, 0}); f != 0 || d != nil {
		t.Errorf("fairness of failed sessions only = %v, %v; want 0, nil", f, d)
	}
}
