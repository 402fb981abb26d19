// Package schedule interprets the rotation schedules of AuthPolicies: five
// cron fields, a descriptor such as @daily, or @every <duration>, always in
// UTC. Besides the next and the previous slot it knows the shortest and the
// longest gap between two slots, which rotation needs: the grace period must
// fit in the shortest (Keycloak keeps one previous secret), and a secret
// must outlive the longest (Keycloak never rotates on its own).
//
// Parsing is robfig/cron's. Gaps and previous slots are computed here, since
// robfig/cron only looks forward; @every is aligned here to multiples of its
// duration since the Unix epoch, so that its slots do not depend on when the
// operator started (robfig/cron counts from the time it is asked).
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/utils/lru"
)

// Schedule is a parsed rotation schedule.
type Schedule struct {
	expr  string
	every time.Duration
	spec  *cron.SpecSchedule
	// first and last are the earliest and latest slot of a day that has
	// slots (cron schedules only): every matching day has the same times.
	first, last time.Duration
	// MinGap and MaxGap are the shortest and the longest time between two
	// consecutive slots.
	MinGap, MaxGap time.Duration
}

// String returns the expression the schedule was parsed from.
func (s *Schedule) String() string { return s.expr }

// cache holds recent results (expression → result): a schedule's gaps take
// up to a few milliseconds to compute, and the same few expressions are
// parsed on every reconcile. An LRU, so that the webhook fed many distinct
// expressions cannot crowd out the ones in use.
var cache = lru.New(256)

type result struct {
	s   *Schedule
	err error
}

// Parse parses a schedule.
func Parse(expr string) (*Schedule, error) {
	if v, ok := cache.Get(expr); ok {
		r := v.(result)
		return r.s, r.err
	}
	s, err := parse(expr)
	cache.Add(expr, result{s, err})
	return s, err
}

// window is how far ahead gaps are measured: 28 years is a full cycle of
// weekdays and leap years (within 1901-2099), so every gap a schedule has
// shows up in it.
var (
	windowStart = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	windowEnd   = windowStart.AddDate(28, 0, 0)
)

func parse(expr string) (*Schedule, error) {
	if rest, ok := strings.CutPrefix(expr, "@every "); ok {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return nil, fmt.Errorf("schedule %q: %w", expr, err)
		}
		d = d.Round(time.Second)
		if d < time.Second {
			return nil, fmt.Errorf("schedule %q: the interval must be at least a second", expr)
		}
		return &Schedule{expr: expr, every: d, MinGap: d, MaxGap: d}, nil
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, fmt.Errorf("schedule %q: time zones are not supported; schedules are in UTC", expr)
	}
	parsed, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", expr, err)
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("schedule %q is not supported", expr)
	}
	spec.Location = time.UTC
	s := &Schedule{expr: expr, spec: spec}
	var times []time.Duration
	for h := 0; h < 24; h++ {
		for m := 0; m < 60; m++ {
			if spec.Hour&(1<<uint(h)) != 0 && spec.Minute&(1<<uint(m)) != 0 {
				times = append(times, time.Duration(h)*time.Hour+time.Duration(m)*time.Minute)
			}
		}
	}
	if len(times) == 0 {
		return nil, fmt.Errorf("schedule %q never fires", expr)
	}
	s.first, s.last = times[0], times[len(times)-1]
	for i := 1; i < len(times); i++ {
		g := times[i] - times[i-1]
		if s.MinGap == 0 || g < s.MinGap {
			s.MinGap = g
		}
		s.MaxGap = max(s.MaxGap, g)
	}
	// Between days: from the last slot of one matching day to the first of
	// the next. robfig/cron finds the next matching day (looking up to five
	// years ahead).
	prevDay := time.Time{}
	for t := spec.Next(windowStart.Add(-time.Second)); ; {
		if t.IsZero() {
			if prevDay.IsZero() {
				return nil, fmt.Errorf("schedule %q never fires (no such date)", expr)
			}
			// No slot within five years of the last one.
			return nil, fmt.Errorf("schedule %q has more than five years between two slots", expr)
		}
		day := t.Truncate(24 * time.Hour)
		if !prevDay.IsZero() {
			g := day.Add(s.first).Sub(prevDay.Add(s.last))
			if s.MinGap == 0 || g < s.MinGap {
				s.MinGap = g
			}
			s.MaxGap = max(s.MaxGap, g)
		}
		if day.After(windowEnd) {
			break
		}
		prevDay = day
		t = spec.Next(day.Add(s.last))
	}
	return s, nil
}

// Next returns the first slot after t.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	if s.every > 0 {
		return s.Prev(t).Add(s.every)
	}
	return s.spec.Next(t)
}

// Prev returns the last slot at or before t.
func (s *Schedule) Prev(t time.Time) time.Time {
	t = t.UTC()
	if s.every > 0 {
		n := t.Unix() / int64(s.every/time.Second)
		return time.Unix(n*int64(s.every/time.Second), 0).UTC()
	}
	// The last slot lies within MaxGap before t. Whole days before t's are
	// jumped over: their last slot is known.
	var prev time.Time
	today := t.Truncate(24 * time.Hour)
	for c := s.spec.Next(t.Add(-s.MaxGap - time.Minute)); !c.IsZero() && !c.After(t); {
		if day := c.Truncate(24 * time.Hour); day.Before(today) {
			prev = day.Add(s.last)
		} else {
			prev = c
		}
		c = s.spec.Next(prev)
	}
	return prev
}
