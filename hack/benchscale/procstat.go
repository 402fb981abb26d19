package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Process figures read from /proc: Linux only, like the test bed. The
// benchmark reads them itself rather than through the operator's
// process_* metrics because it also reads Keycloak, which exports none.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (the kernel ABI fixes it).
const clockTicks = 100

// cpuSeconds is the user plus system CPU time the process has used.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: fields count after its ')'.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// memory returns a process's current and peak resident memory (KiB).
func memory(pid int) (cur, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v
		case "VmHWM:":
			peak = v
		}
	}
	return cur, peak
}

// treeRSS is the current resident memory (KiB) of pid and its descendants:
// Keycloak's recorded pid is its kc.sh, the JVM is a child.
func treeRSS(pid int) int64 {
	cur, _ := memory(pid)
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, c := range strings.Fields(string(data)) {
			if child, err := strconv.Atoi(c); err == nil {
				cur += treeRSS(child)
			}
		}
	}
	return cur
}

// keycloakPID is the pid hack/keycloak.sh recorded for the instance.
func (b *bed) keycloakPID() int {
	data, err := os.ReadFile(filepath.Join(b.kc.StateDir, "pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// keycloakRSS is Keycloak's current resident memory (KiB), 0 if unknown.
func (b *bed) keycloakRSS() int64 {
	if pid := b.keycloakPID(); pid > 0 {
		return treeRSS(pid)
	}
	return 0
}

// mib formats KiB as MiB.
func mib(kib int64) string {
	if kib <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d MiB", kib/1024)
}

// components are the processes of the test bed whose CPU a create run is
// split into, by /proc/<pid>/comm (cut at 15 characters by the kernel).
var components = []struct{ name, comm string }{
	{"API server", "kube-apiserver"},
	{"etcd", "etcd"},
	{"Keycloak", "java"},
	{"operator", "nauthera"},
}

// cpuSplit is the CPU seconds used so far by each component, and by this
// benchmark (its clients and watches).
func cpuSplit() map[string]float64 {
	out := map[string]float64{"benchmark": cpuSeconds(os.Getpid())}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		for _, c := range components {
			if strings.TrimSpace(string(comm)) == c.comm {
				out[c.name] += cpuSeconds(pid)
			}
		}
	}
	return out
}

// cpuSince formats the CPU seconds each component used since before.
func cpuSince(before map[string]float64) string {
	now := cpuSplit()
	var parts []string
	total := 0.0
	for _, name := range []string{"Keycloak", "API server", "etcd", "operator", "benchmark"} {
		d := now[name] - before[name]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.1f s", name, d))
	}
	return fmt.Sprintf("%s (total %.1f CPU s)", strings.Join(parts, ", "), total)
}
