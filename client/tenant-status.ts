import { InvalidArgumentError } from 'commander';
import { describeRepair, maxFullReconcileDays, type MergePair, type RepairOutcome } from '../common/repair-types.js';
import { describePassRecords, syncedEntities, type SyncMode, type TenantStatus } from '../common/sync-types.js';
import type { SyncNowResult } from '../workflows/definitions.js';
import type { VerifyReport } from './verify.js';

/**
 * Pure formatting and argument parsing for the tenant commands (`qbsync status|pause|resume|mode|
 * sync-now|repair|watch|verify`): no I/O, so they are unit-tested and `qbsync --help` stays fast.
 */

/**
 * `one-way` | `two-way`, the spelling of the CLI, its help and the README; scripts written against the
 * workflow's own `one_way` | `two_way` keep working, so those are accepted too.
 */
export function parseSyncMode(value: string): SyncMode | undefined {
  const mode = value.trim().toLowerCase().replace('-', '_');
  return mode === 'one_way' || mode === 'two_way' ? mode : undefined;
}

export function describeModeProblem(value: string): string {
  return `mode must be one-way or two-way, not ${JSON.stringify(value)}`;
}

export function modeArg(value: string): SyncMode {
  const mode = parseSyncMode(value);
  if (mode === undefined) throw new InvalidArgumentError(describeModeProblem(value));
  return mode;
}

/** `qbsync poll-interval`: `90s`, `15m`, `1h` or plain seconds; the workflow checks the range. */
export function pollIntervalArg(value: string): number {
  const match = /^(\d{1,6})\s*(s|m|h)?$/.exec(value.trim().toLowerCase());
  const seconds = match ? Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 's' | 'm' | 'h'] : 0;
  if (!match || seconds <= 0) {
    throw new InvalidArgumentError(
      `must be a duration like 90s, 15m, 1h or a number of seconds, not ${JSON.stringify(value)}`,
    );
  }
  return seconds;
}

/** A poll interval as a person says it: `15 min`, `1 h`, `1 h 30 min`, `90 s`. */
export function formatInterval(seconds: number): string {
  if (seconds % 60 !== 0 || seconds < 60) return `${seconds} s`;
  const minutes = seconds / 60;
  if (minutes < 60) return `${minutes} min`;
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** "3 failed passes in a row; next try at 14:05:00 UTC (in 4 min 10 s)", or undefined while none failed. */
export function describeFailures(status: TenantStatus, now: Date): string | undefined {
  if (status.consecutiveFailures <= 0) return undefined;
  const count = `${status.consecutiveFailures} failed ${status.consecutiveFailures === 1 ? 'pass' : 'passes'} in a row`;
  if (!status.nextAttemptAt) return count;
  const at = new Date(status.nextAttemptAt);
  const wait = at.getTime() - now.getTime();
  return `${count}; next try at ${at.toISOString().slice(11, 19)} UTC (${wait > 0 ? `in ${formatDuration(wait)}` : 'due now'})`;
}

/** `qbsync repair --merge SURVIVOR:MERGED`: the customer that survived a QBO merge and the one merged into it. */
export function mergeArg(value: string): MergePair {
  const match = /^(\d{1,20}):(\d{1,20})$/.exec(value.trim());
  if (!match) {
    throw new InvalidArgumentError(
      `must be SURVIVOR:MERGED, the surviving and the merged-away QuickBooks customer ids (digits) joined by a colon, not ${JSON.stringify(value)}`,
    );
  }
  const [, survivorQboId, mergedQboId] = match as unknown as [string, string, string];
  if (survivorQboId === mergedQboId)
    throw new InvalidArgumentError(`customer ${survivorQboId} cannot be merged into itself`);
  return { survivorQboId, mergedQboId };
}

/** `qbsync reconcile-every <tenant> <days>`: whole days from 0 (never) to 365. */
export function reconcileDaysArg(value: string): number {
  const days = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(days) || days > maxFullReconcileDays) {
    throw new InvalidArgumentError(
      `must be a whole number of days from 0 (no scheduled full reconcile) to ${maxFullReconcileDays}, not ${JSON.stringify(value)}`,
    );
  }
  return days;
}

/** What `qbsync repair` prints once the repair has run. */
export function describeRepairOutcome(tenantId: string, outcome: RepairOutcome): { ok: boolean; text: string } {
  if (outcome.outcome === 'repaired' && outcome.result) {
    const refused = outcome.result.mergesRefused.map(
      (m) => `; merge of ${m.mergedQboId} into ${m.survivorQboId} not repaired: ${m.reason}`,
    );
    return {
      ok: refused.length === 0,
      text: `Tenant ${tenantId} repaired (${outcome.result.workflowId}): ${describeRepair(outcome.result)}${refused.join('')}.`,
    };
  }
  if (outcome.outcome === 'failed')
    return { ok: false, text: `The repair of tenant ${tenantId} failed: ${outcome.error}` };
  return {
    ok: false,
    text: `The repair of tenant ${tenantId} is requested but did not finish in this run of its workflow; see qbsync status.`,
  };
}

export function modeLabel(mode: SyncMode): string {
  return mode === 'two_way' ? 'two-way' : 'one-way';
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const seconds = Math.round(ms / 1000);
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function ago(iso: string, now: Date): string {
  return `${formatDuration(now.getTime() - Date.parse(iso))} ago`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function padStart(text: string, width: number): string {
  return text.length >= width ? text : ' '.repeat(width - text.length) + text;
}

/** How `qbsync sync-now` ended, in one line; ok is false when no pass succeeded. */
export function describeSyncNow(
  tenantId: string,
  result: SyncNowResult,
): { readonly ok: boolean; readonly text: string } {
  switch (result.outcome) {
    case 'requested':
      return {
        ok: true,
        text: `Pass requested for tenant ${tenantId}; "qbsync status ${tenantId}" shows when it has run.`,
      };
    case 'failed':
      return { ok: false, text: `tenant ${tenantId}: the pass failed: ${result.lastError ?? 'no reason given'}` };
    case 'paused':
      return {
        ok: false,
        text: `tenant ${tenantId} was paused before the pass ended (${result.pausedReason ?? 'no reason given'}): "qbsync resume ${tenantId}" lets it run`,
      };
    case 'succeeded': {
      const pass = result.lastPass;
      if (!pass) return { ok: true, text: `Pass done for tenant ${tenantId}.` };
      return {
        ok: true,
        text: `Pass done for tenant ${tenantId}: ${pass.kind}, ${describePassRecords(pass)}${pass.failed ? `, ${pass.failed} failed` : ''} in ${(pass.durationMs / 1000).toFixed(1)} s.`,
      };
    }
  }
}

function describeLastRepair(repair: RepairOutcome): string {
  if (repair.result) return `${repair.result.workflowId}: ${describeRepair(repair.result)}`;
  return repair.outcome === 'failed' ? `failed: ${repair.error ?? 'no reason given'}` : repair.outcome;
}

/** `qbsync status <tenant>`: the status query's result, for a person. */
export function formatStatus(status: TenantStatus, workflowId: string, now: Date): string {
  const failures = describeFailures(status, now);
  const lines = [
    `Tenant ${status.tenantId} (QuickBooks company ${status.realmId}), workflow ${workflowId}, run ${status.run}`,
    `  Phase            ${status.phase}`,
    `  Mode             ${modeLabel(status.mode)}`,
    `  Paused           ${status.paused ? `yes: ${status.pausedReason ?? 'no reason given'}` : 'no'}`,
    `  Poll interval    every ${formatInterval(status.pollIntervalSeconds)}`,
    '',
    `  ${pad('Entity', 14)}${pad('Cursor', 26)}${padStart('Done', 9)}${padStart('Total', 9)}${padStart('Failed', 8)}`,
    ...syncedEntities.map((entity) => {
      const p = status.entities[entity];
      const total = p.total === null || status.phase !== 'backfill' ? '-' : String(p.total);
      return `  ${pad(entity, 14)}${pad(p.cursor ?? 'start', 26)}${padStart(String(p.done), 9)}${padStart(total, 9)}${padStart(String(p.failed), 8)}`;
    }),
    '',
    `  Last pass        ${
      status.lastPass
        ? `${status.lastPass.kind}, finished ${status.lastPass.finishedAt} (${ago(status.lastPass.finishedAt, now)}), took ${formatDuration(status.lastPass.durationMs)}, ${describePassRecords(status.lastPass)}${status.lastPass.failed ? `, ${status.lastPass.failed} failed` : ''}`
        : 'none finished yet'
    }`,
    `  Open errors      ${status.openErrors}`,
    `  Last error       ${status.lastError ?? 'none'}`,
    ...(failures === undefined ? [] : [`  Failures         ${failures}`]),
    `  Pending repairs  ${status.pendingRepairs.length === 0 ? 'none' : status.pendingRepairs.length}`,
    ...status.pendingRepairs.map(
      (r) =>
        `    ${r.kind === 'full' ? 'full reconcile' : 'merge'} requested ${r.requestedAt} by ${r.requestedBy}, survivor ${r.survivorQboId ?? '?'}, merged ${r.mergedQboId ?? '?'}`,
    ),
    ...(status.lastRepair ? [`  Last repair      ${describeLastRepair(status.lastRepair)}`] : []),
    ...(status.nextFullReconcileAt === undefined
      ? []
      : [
          `  Full reconcile   ${status.nextFullReconcileAt === null ? 'none scheduled' : `next after ${status.nextFullReconcileAt}`}`,
        ]),
  ];
  return lines.join('\n');
}

/** One line of `qbsync status --all`. */
export function formatStatusLine(
  tenantId: string,
  view: { readonly status: TenantStatus } | { readonly notRunning: string },
  now: Date,
): string {
  if ('notRunning' in view) return `${pad(tenantId, 20)}  not running (${view.notRunning})`;
  const s = view.status;
  const done = syncedEntities.reduce((sum, e) => sum + s.entities[e].done, 0);
  const parts = [
    pad(tenantId, 20),
    pad(s.phase, 12),
    pad(modeLabel(s.mode), 8),
    s.paused ? `paused (${s.pausedReason ?? 'no reason given'})` : 'running',
    `${done} records`,
    s.lastPass ? `last pass ${ago(s.lastPass.finishedAt, now)}` : 'no pass yet',
    `${s.openErrors} open errors`,
  ];
  const failures = describeFailures(s, now);
  if (failures) parts.push(failures);
  if (s.lastError) parts.push(`last error: ${s.lastError.slice(0, 80)}`);
  return parts.join('  ');
}

/** Where a backfill stood when `watch` began, so the ETA uses the rate seen since then. */
export interface WatchBaseline {
  /** When the rate is measured from (ms): the backfill's first pass, or the first sample. */
  readonly sinceMs: number;
  /** Records done at that moment (0 when measured from the backfill's start). */
  readonly doneAtStart: number;
}

/** One entity's row of the backfill's progress, ready to draw. */
export interface ProgressRow {
  readonly entity: string;
  /** 0..1 (1 for an entity with nothing to read). */
  readonly fraction: number;
  /** `300/1000, 2 failed`, or `300 of ?` before its total is known. */
  readonly counts: string;
  /** `ETA 70 s`, `done`, `waiting`, `ETA ?`. */
  readonly eta: string;
}

/**
 * The backfill's progress: a row per entity with counts and an ETA, and a summary line. Entities run
 * one after the other, so an entity's ETA is the time to finish it and every one before it at the
 * overall rate (records done since the baseline over the time elapsed since it).
 */
export function backfillProgress(
  status: TenantStatus,
  baseline: WatchBaseline,
  nowMs: number,
): { readonly rows: ProgressRow[]; readonly summary: string } {
  const done = syncedEntities.reduce((sum, e) => sum + status.entities[e].done, 0);
  const elapsedMs = nowMs - baseline.sinceMs;
  const rate = elapsedMs > 0 ? (done - baseline.doneAtStart) / elapsedMs : 0; // records per ms
  let remainingSoFar = 0;
  let knownTotal = 0;
  const rows = syncedEntities.map((entity): ProgressRow => {
    const p = status.entities[entity];
    const total = p.total === null ? null : Math.max(p.total, p.done);
    const fraction = total === null ? 0 : total === 0 ? 1 : Math.min(1, p.done / total);
    const failed = p.failed ? `, ${p.failed} failed` : '';
    let eta: string;
    if (total === null) eta = 'waiting';
    else if (p.done >= total) eta = 'done';
    else {
      remainingSoFar += total - p.done;
      eta = rate > 0 ? `ETA ${formatDuration(remainingSoFar / rate)}` : 'ETA ?';
    }
    if (total !== null) knownTotal += total;
    return { entity, fraction, counts: `${total === null ? `${p.done} of ?` : `${p.done}/${total}`}${failed}`, eta };
  });
  const rateText = rate > 0 ? `${(rate * 1000).toFixed(1)} records/s` : 'rate ?';
  const pausedText = status.paused ? `  PAUSED: ${status.pausedReason ?? 'no reason given'}` : '';
  const errorText = status.lastError ? `  last error: ${status.lastError.slice(0, 100)}` : '';
  return {
    rows,
    summary: `${status.phase === 'backfill' ? 'Backfill' : 'Backfill finished'}: ${done}/${knownTotal || '?'} records, ${rateText}, elapsed ${formatDuration(elapsedMs)}${pausedText}${errorText}`,
  };
}

export function formatPercent(fraction: number): string {
  return padStart(String(Math.floor(fraction * 100)), 3);
}

export function padEntity(entity: string): string {
  return pad(entity, 13);
}

/** The progress as plain lines: a bar of # and . per entity, then the summary. */
export function renderBackfillProgress(
  status: TenantStatus,
  baseline: WatchBaseline,
  nowMs: number,
  barWidth = 30,
): string[] {
  const { rows, summary } = backfillProgress(status, baseline, nowMs);
  return [
    ...rows.map((row) => {
      const filled = Math.round(row.fraction * barWidth);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
      return `${padEntity(row.entity)}${bar} ${formatPercent(row.fraction)}%  ${row.counts}  ${row.eta}`;
    }),
    summary,
  ];
}

/** `qbsync verify`: counts per entity, the three totals, then each differing record (field names only). */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = syncedEntities.map(
    (entity) =>
      `  ${pad(entity, 14)}QuickBooks ${padStart(String(report.counts[entity].qbo), 7)}   CRM ${padStart(String(report.counts[entity].crm), 7)}`,
  );
  lines.push(`missing ${report.missing}, extra ${report.extra}, different ${report.different}`);
  if (report.failed > 0) {
    lines.push(
      `failed ${report.failed}: records QuickBooks holds that the sync cannot write (in the error table, or their current version does not map)`,
    );
  }
  for (const record of report.records) {
    lines.push(
      `  ${pad(record.kind, 10)}${record.entity} ${record.qboId}${record.fields.length ? `: ${record.fields.join(', ')}` : ''}`,
    );
  }
  return lines.join('\n');
}

/** `qbsync verify --json`: the totals and the records, field names only. */
export function verifyJson(report: VerifyReport): string {
  return JSON.stringify({
    failed: report.failed,
    missing: report.missing,
    extra: report.extra,
    different: report.different,
    records: report.records.map((r) => ({ entity: r.entity, qboId: r.qboId, kind: r.kind, fields: r.fields })),
  });
}
