/**
 * What a benchmark can read about a process from Linux's `/proc`, without
 * asking the process: its CPU time (`/proc/<pid>/stat`, utime + stime) and
 * resident memory (`/proc/<pid>/status`, VmRSS), and the whole machine's busy
 * time (`/proc/stat`), so that a figure can say how much of the cores other
 * work took.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"

/** Clock ticks per second of the stat files' times (`getconf CLK_TCK`, 100 on Linux). */
const clockTicks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** The process's CPU time so far (user + system), in seconds. */
export const cpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // Fields 14 (utime) and 15 (stime) of proc(5); the rest starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks
}

/** The process's resident set size (VmRSS), in bytes. */
export const rssBytes = (pid: number): number => {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  if (match === null) throw new Error(`no VmRSS for process ${pid}`)
  return Number(match[1]) * 1024
}

/** The machine's CPU time so far, in seconds summed over all cores: busy (not idle, not waiting on I/O) and total. */
export const machineCpuSeconds = (): { readonly busy: number; readonly total: number } => {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
  const busy = total - (ticks[3] ?? 0) - (ticks[4] ?? 0)
  return { busy: busy / clockTicks, total: total / clockTicks }
}

/**
 * CPU use between two moments, in % of one core (100% = one core busy the
 * whole time): `start()` now, `percent()` from then until now.
 */
export const cpuMeter = (read: () => number) => {
  let cpu = read()
  let at = performance.now()
  return {
    start: () => {
      cpu = read()
      at = performance.now()
    },
    percent: () => (100 * (read() - cpu)) / ((performance.now() - at) / 1000)
  }
}
