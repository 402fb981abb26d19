// Package settle is the tests' one way to say "nothing more happens": it
// waits for a counter (Events recorded, Keycloak writes, reconciles done)
// to stay the same over several polls, instead of sleeping for a guessed
// time. It imports nothing of Nauthera's, so any test package can use it.
package settle

import (
	"testing"
	"time"
)

// Defaults: five equal reads 200ms apart (a counter unchanged over four
// intervals, 0.8 s), given up after a minute.
const (
	DefaultPolls    = 5
	DefaultInterval = 200 * time.Millisecond
	DefaultTimeout  = time.Minute
)

// Options tune Stable; zero fields take the defaults.
type Options struct {
	// Polls is how many consecutive reads must agree.
	Polls int
	// Interval is the time between reads.
	Interval time.Duration
	// Timeout fails the test if the counter is still moving after it.
	Timeout time.Duration
}

// Stable reads count until it returns the same value Polls times in a row,
// and returns that value. It fails the test if the counter keeps moving
// until the timeout.
func Stable[T comparable](t testing.TB, what string, count func() T) T {
	t.Helper()
	return StableWith(t, Options{}, what, count)
}

// StableWith is Stable with other options.
func StableWith[T comparable](t testing.TB, o Options, what string, count func() T) T {
	t.Helper()
	if o.Polls <= 0 {
		o.Polls = DefaultPolls
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	deadline := time.Now().Add(o.Timeout)
	last, same := count(), 1
	for same < o.Polls {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still changing after %s (last %v)", what, o.Timeout, last)
		}
		time.Sleep(o.Interval) // the poll interval, not a guess at when something ends
		if v := count(); v == last {
			same++
		} else {
			last, same = v, 1
		}
	}
	return last
}

// Advanced waits until count has grown by at least n from start (a number
// of reconciles or resyncs that must have happened before a negative check
// means anything), and returns its value.
func Advanced(t testing.TB, timeout time.Duration, what string, start, n float64, count func() float64) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := count()
		if v-start >= n {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: grew by %v in %s, want %v", what, v-start, timeout, n)
		}
		time.Sleep(DefaultInterval / 2)
	}
}
