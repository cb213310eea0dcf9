package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux this runs on.
const clockTicks = 100

// cpuTime is a process's user+system CPU time so far, or -1 when unknown.
// pid 0 means this process.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return -1
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+st) * time.Second / clockTicks
}

// syscalls is a process's read and write system calls so far (from
// /proc/<pid>/io), or -1 when unknown. pid 0 means this process.
func syscalls(pid int) (reads, writes int64) {
	p := "/proc/self/io"
	if pid != 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/io"
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return -1, -1
	}
	reads, writes = -1, -1
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

// machineBusy is the CPU time all processes have used so far, summed over
// all CPUs (user, nice, system, irq, softirq, steal from /proc/stat), or -1.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks
}

// cpuMeter measures how busy the server(s) and this load generator were over
// the measured window, in cores. With several server pids (replicas) their
// figures are summed; aux pids (e.g. redis-server) are measured apart, so
// they do not count as "other processes".
type cpuMeter struct {
	serverPids             []int
	auxPids                []int
	server0, self0, aux0   time.Duration
	serverShare, selfShare float64
	auxShare               float64
	machine0               time.Duration
	// Cores used by every process on the machine over the window, or -1.
	machineShare float64
	at0          time.Time
	// Server read/write syscalls over the window; -1 when unknown.
	srvR0, srvW0, srvReads, srvWrites int64
}

// sumCPU is the CPU time of all pids, or -1 if one cannot be read.
func sumCPU(pids []int) time.Duration {
	var t time.Duration
	for _, pid := range pids {
		c := cpuTime(pid)
		if c < 0 {
			return -1
		}
		t += c
	}
	return t
}

// sumSyscalls is the read and write syscalls of all pids, or -1, -1.
func sumSyscalls(pids []int) (int64, int64) {
	var r, w int64
	for _, pid := range pids {
		a, b := syscalls(pid)
		if a < 0 || b < 0 {
			return -1, -1
		}
		r, w = r+a, w+b
	}
	return r, w
}

func (m *cpuMeter) begin() {
	m.at0 = time.Now()
	m.self0 = cpuTime(0)
	m.machine0 = machineBusy()
	m.srvReads, m.srvWrites = -1, -1
	if len(m.serverPids) > 0 {
		m.server0 = sumCPU(m.serverPids)
		m.srvR0, m.srvW0 = sumSyscalls(m.serverPids)
	}
	if len(m.auxPids) > 0 {
		m.aux0 = sumCPU(m.auxPids)
	}
}

func (m *cpuMeter) end() {
	wall := time.Since(m.at0)
	if wall <= 0 {
		return
	}
	m.machineShare = -1
	if b := machineBusy(); b >= 0 && m.machine0 >= 0 {
		m.machineShare = round3(float64(b-m.machine0) / float64(wall))
	}
	if s := cpuTime(0); s >= 0 && m.self0 >= 0 {
		m.selfShare = round3(float64(s-m.self0) / float64(wall))
	}
	if len(m.serverPids) > 0 {
		if s := sumCPU(m.serverPids); s >= 0 && m.server0 >= 0 {
			m.serverShare = round3(float64(s-m.server0) / float64(wall))
		}
		if r, w := sumSyscalls(m.serverPids); r >= 0 && m.srvR0 >= 0 {
			m.srvReads, m.srvWrites = r-m.srvR0, w-m.srvW0
		}
	}
	if len(m.auxPids) > 0 {
		if s := sumCPU(m.auxPids); s >= 0 && m.aux0 >= 0 {
			m.auxShare = round3(float64(s-m.aux0) / float64(wall))
		}
	}
}
