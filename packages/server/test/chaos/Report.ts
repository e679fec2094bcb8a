/**
 * The line each scenario prints (requests sent, acknowledged writes checked,
 * faults injected, invariant violations, time), the notes under it (answers
 * by phase, unresolved writes, what the fault showed), and the failure
 * message: every violation, then the server's last output.
 */

export interface Report {
  readonly scenario: string
  readonly requests: number
  readonly acknowledgedChecked: number
  readonly faults: number
  readonly violations: ReadonlyArray<string>
  readonly seconds: number
  readonly notes: ReadonlyArray<string>
}

const header = ["scenario", "requests", "acked writes checked", "faults", "violations", "time"] as const

const row = (report: Report) => [
  report.scenario,
  String(report.requests),
  String(report.acknowledgedChecked),
  String(report.faults),
  String(report.violations.length),
  `${report.seconds.toFixed(1)} s`
]

/** The report as a small table, then its notes. */
export const format = (report: Report): string => {
  const cells = [header, row(report)]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) =>
    `| ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(" | ")} |`
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    line(row(report)),
    ...report.notes.map((note) => `  ${note}`)
  ].join("\n")
}

/** Why the scenario failed: the violations (at most 40) and the server's last lines. */
export const failure = (report: Report, serverOutput: string): string =>
  [
    `${report.scenario}: ${report.violations.length} invariant violation(s)`,
    ...report.violations.slice(0, 40).map((v) => `  - ${v}`),
    ...(report.violations.length > 40 ? [`  … and ${report.violations.length - 40} more`] : []),
    "--- the server's last output ---",
    serverOutput
  ].join("\n")
