package schedule

import (
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGaps(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		expr     string
		min, max time.Duration
	}{
		{"@every 20s", 20 * time.Second, 20 * time.Second},
		{"@every 1h30m", 90 * time.Minute, 90 * time.Minute},
		{"0 0 * * *", day, day},
		{"@daily", day, day},
		{"@hourly", time.Hour, time.Hour},
		{"@weekly", 7 * day, 7 * day},
		{"@monthly", 28 * day, 31 * day},
		{"@yearly", 365 * day, 366 * day},
		{"*/15 * * * *", 15 * time.Minute, 15 * time.Minute},
		{"0 9,17 * * *", 8 * time.Hour, 16 * time.Hour},
		{"0 0 * * 1-5", day, 3 * day},
		// Dense in the first half of the year, silent in the second: a
		// bounded walk over slots would miss the long gap.
		{"* * * 1-6 *", time.Minute, (31+31+30+31+30+31)*day + time.Minute},
		// February 29th only: four years apart (eight across 2100, which is
		// outside the window and not a leap year).
		{"0 0 29 2 *", 4*365*day + day, 4*365*day + day},
		// Day of month OR day of week when both are restricted (cron rule).
		{"0 0 1 * 0", day, 7 * day},
	} {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if s.MinGap != tc.min || s.MaxGap != tc.max {
			t.Errorf("%s: gaps %s..%s, want %s..%s", tc.expr, s.MinGap, s.MaxGap, tc.min, tc.max)
		}
	}
}

func TestNeverFiresIsAnError(t *testing.T) {
	for _, expr := range []string{"0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *", "TZ=Europe/Berlin 0 0 * * *", "not a schedule", "@every 0s"} {
		_, err := Parse(expr)
		if err == nil {
			t.Errorf("%q parsed", expr)
			continue
		}
		if !strings.Contains(err.Error(), expr) {
			t.Errorf("%q: error %q does not quote the schedule", expr, err)
		}
	}
}

func TestPrevAndNext(t *testing.T) {
	for _, tc := range []struct {
		expr, now, prev, next string
	}{
		{"@every 20s", "2026-11-27T03:00:47Z", "2026-11-27T03:00:40Z", "2026-11-27T03:01:00Z"},
		{"@every 20s", "2026-11-27T03:00:40Z", "2026-11-27T03:00:40Z", "2026-11-27T03:01:00Z"},
		{"0 0 * * *", "2026-11-27T03:00:00Z", "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"},
		{"0 0 * * *", "2026-11-27T00:00:00Z", "2026-11-27T00:00:00Z", "2026-11-28T00:00:00Z"},
		{"0 9,17 * * 1-5", "2026-11-29T12:00:00Z", "2026-11-27T17:00:00Z", "2026-11-30T09:00:00Z"}, // Sunday
		{"*/15 * * * *", "2026-11-27T03:44:59Z", "2026-11-27T03:30:00Z", "2026-11-27T03:45:00Z"},
		{"* * * 1-6 *", "2026-11-27T03:00:00Z", "2026-06-30T23:59:00Z", "2027-01-01T00:00:00Z"},
		{"0 0 29 2 *", "2026-11-27T03:00:00Z", "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"},
	} {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		now := at(tc.now)
		if got := s.Prev(now); !got.Equal(at(tc.prev)) {
			t.Errorf("%s: Prev(%s) = %s, want %s", tc.expr, tc.now, got, tc.prev)
		}
		if got := s.Next(now); !got.Equal(at(tc.next)) {
			t.Errorf("%s: Next(%s) = %s, want %s", tc.expr, tc.now, got, tc.next)
		}
	}
}

func BenchmarkParseUncached(b *testing.B) {
	for _, expr := range []string{"0 0 * * *", "* * * 1-6 *", "0 0 29 2 *"} {
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				if _, err := parse(expr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
