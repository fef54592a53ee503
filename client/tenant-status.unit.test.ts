import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { syncedEntities, type EntityProgress, type SyncedEntity, type TenantStatus } from '../common/sync-types.js';
import {
  describeFailures,
  describeRepairOutcome,
  describeSyncNow,
  formatDuration,
  formatInterval,
  formatStatus,
  formatStatusLine,
  formatVerifyReport,
  mergeArg,
  modeArg,
  pollIntervalArg,
  reconcileDaysArg,
  renderBackfillProgress,
  verifyJson,
} from './tenant-status.js';
import type { VerifyReport } from './verify.js';

function status(entities: Partial<Record<SyncedEntity, Partial<EntityProgress>>>, more: Partial<TenantStatus> = {}) {
  return {
    tenantId: 'acme',
    realmId: '9130355',
    phase: 'backfill',
    mode: 'two_way',
    paused: false,
    pausedReason: null,
    entities: Object.fromEntries(
      syncedEntities.map((e) => [e, { cursor: null, done: 0, total: null, failed: 0, ...entities[e] }]),
    ) as TenantStatus['entities'],
    lastPass: null,
    openErrors: 0,
    pendingRepairs: [],
    run: 1,
    lastError: null,
    pollIntervalSeconds: 900,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    ...more,
  } satisfies TenantStatus;
}

describe('qbsync watch rendering (R24)', () => {
  const start = Date.parse('2025-01-01T00:00:00Z');

  it('draws a bar per entity with counts, and ETAs from the rate since the backfill began', () => {
    const s = status({
      Item: { done: 100, total: 100 },
      Customer: { done: 300, total: 1000, failed: 2 },
      Estimate: { done: 0, total: 600 },
    });
    // 400 records in 40 s: 10 records/s.
    const lines = renderBackfillProgress(s, { sinceMs: start, doneAtStart: 0 }, start + 40_000, 10);
    expect(lines).toEqual([
      'Item         [##########] 100%  100/100  done',
      'Customer     [###.......]  30%  300/1000, 2 failed  ETA 70 s',
      'Estimate     [..........]   0%  0/600  ETA 2 min 10 s',
      'Invoice      [..........]   0%  0 of ?  waiting',
      'CreditMemo   [..........]   0%  0 of ?  waiting',
      'SalesReceipt [..........]   0%  0 of ?  waiting',
      'Backfill: 400/1700 records, 10.0 records/s, elapsed 40 s',
    ]);
  });

  it('measures the rate from a baseline taken when watching began', () => {
    const s = status({ Item: { done: 50, total: 100 } }, { paused: true, pausedReason: 'support' });
    const lines = renderBackfillProgress(s, { sinceMs: start, doneAtStart: 40 }, start + 5_000, 10);
    expect(lines[0]).toBe('Item         [#####.....]  50%  50/100  ETA 25 s');
    expect(lines.at(-1)).toBe('Backfill: 50/100 records, 2.0 records/s, elapsed 5.0 s  PAUSED: support');
  });

  it('shows an unknown ETA before any progress, and an empty entity as done', () => {
    const s = status({ Item: { done: 0, total: 0 }, Customer: { done: 0, total: 10 } });
    const lines = renderBackfillProgress(s, { sinceMs: start, doneAtStart: 0 }, start, 4);
    expect(lines[0]).toBe('Item         [####] 100%  0/0  done');
    expect(lines[1]).toBe('Customer     [....]   0%  0/10  ETA ?');
    expect(lines.at(-1)).toContain('rate ?');
  });

  it('formats durations for people', () => {
    expect([formatDuration(1_234), formatDuration(65_000), formatDuration(3_725_000), formatDuration(9e6)]).toEqual([
      '1.2 s',
      '65 s',
      '62 min 5 s',
      '2 h 30 min',
    ]);
  });
});

describe('qbsync status formatting (R24)', () => {
  const now = new Date('2025-01-01T00:10:00Z');
  const s = status(
    { Item: { done: 25, total: 25, cursor: '2024-12-31T23:00:00Z' } },
    {
      phase: 'incremental',
      mode: 'one_way',
      paused: true,
      pausedReason: 'support',
      lastPass: {
        kind: 'incremental',
        startedAt: '2025-01-01T00:04:58Z',
        finishedAt: '2025-01-01T00:05:00Z',
        durationMs: 2_000,
        records: 12,
        changed: 4,
        failed: 1,
      },
      openErrors: 3,
      lastError: 'QboThrottled: 429',
      pendingRepairs: [
        { requestedAt: '2025-01-01T00:01:00Z', requestedBy: 'cli', survivorQboId: '1', mergedQboId: '2' },
      ],
    },
  );

  it('summarises phase, mode, pause, entities, last pass, errors and repairs', () => {
    const text = formatStatus(s, 'tenant-sync-acme', now);
    expect(text).toContain('Phase            incremental');
    expect(text).toContain('Mode             one-way');
    expect(text).toContain('Paused           yes: support');
    expect(text).toContain('  Item          2024-12-31T23:00:00Z             25        -       0');
    expect(text).toContain('took 2.0 s, 12 records, 4 changed, 1 failed');
    expect(text).toContain('finished 2025-01-01T00:05:00Z (5 min 0 s ago)');
    expect(text).toContain('Open errors      3');
    expect(text).toContain('Last error       QboThrottled: 429');
    expect(text).toContain('merge requested 2025-01-01T00:01:00Z by cli, survivor 1, merged 2');
    expect(text).not.toContain('Last repair');
    const repaired = formatStatus(
      {
        ...s,
        nextFullReconcileAt: '2025-01-08T00:05:00.000Z',
        lastRepair: { outcome: 'failed', result: null, error: 'QboNetwork: connection reset' },
      },
      'tenant-sync-acme',
      now,
    );
    expect(repaired).toContain('Last repair      failed: QboNetwork: connection reset');
    expect(repaired).toContain('Full reconcile   next after 2025-01-08T00:05:00.000Z');
  });

  it('gives one line per tenant for --all', () => {
    expect(formatStatusLine('acme', { status: s }, now)).toBe(
      'acme                  incremental   one-way   paused (support)  25 records  last pass 5 min 0 s ago  3 open errors  last error: QboThrottled: 429',
    );
    expect(formatStatusLine('idle', { notRunning: 'tenant-sync-idle was never started' }, now)).toBe(
      'idle                  not running (tenant-sync-idle was never started)',
    );
  });
});

describe('qbsync verify output', () => {
  const report: VerifyReport = {
    failed: 0,
    missing: 1,
    extra: 0,
    different: 1,
    counts: Object.fromEntries(syncedEntities.map((e) => [e, { qbo: 2, crm: 1 }])) as VerifyReport['counts'],
    records: [
      { entity: 'Invoice', qboId: '7', kind: 'missing', fields: [] },
      { entity: 'Customer', qboId: '3', kind: 'different', fields: ['companyName', 'website'] },
    ],
  };

  it('prints totals and records with field names only', () => {
    const text = formatVerifyReport(report);
    expect(text).toContain('missing 1, extra 0, different 1');
    expect(text).toContain('different Customer 3: companyName, website');
    expect(text).toContain('missing   Invoice 7');
  });

  it('--json has exactly failed, missing, extra, different and records', () => {
    const json = JSON.parse(verifyJson(report)) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['failed', 'missing', 'extra', 'different', 'records']);
    expect(json['records']).toEqual(report.records);
  });
});

describe('qbsync verify output with failed records', () => {
  it('counts and lists a record that no longer maps, with the field at fault', () => {
    const failed: VerifyReport = {
      failed: 1,
      missing: 0,
      extra: 0,
      different: 0,
      counts: Object.fromEntries(syncedEntities.map((e) => [e, { qbo: 1, crm: 1 }])) as VerifyReport['counts'],
      records: [{ entity: 'Customer', qboId: '24', kind: 'failed', fields: ['DisplayName'] }],
    };
    expect(formatVerifyReport(failed)).toMatch(/^failed 1: /m);
    expect(formatVerifyReport(failed)).toContain('failed    Customer 24: DisplayName');
    expect(JSON.parse(verifyJson(failed))).toMatchObject({ failed: 1, records: failed.records });
  });
});

describe('tenant command arguments', () => {
  it('maps one-way/two-way and refuses anything else as a usage error', () => {
    expect(modeArg('one-way')).toBe('one_way');
    expect(modeArg('two-way')).toBe('two_way');
    // Scripts written against the workflow's spelling keep working.
    expect(modeArg('one_way')).toBe('one_way');
    expect(modeArg('two_way')).toBe('two_way');
    expect(() => modeArg('sideways')).toThrow('mode must be one-way or two-way, not "sideways"');
    expect(() => modeArg('one way')).toThrow(InvalidArgumentError);
  });

  it('reads a poll interval as 90s, 15m, 1h or plain seconds, and nothing else', () => {
    expect(pollIntervalArg('90s')).toBe(90);
    expect(pollIntervalArg('15m')).toBe(900);
    expect(pollIntervalArg('1h')).toBe(3600);
    expect(pollIntervalArg('600')).toBe(600);
    for (const bad of ['', '0', '1.5h', '15 minutes', '-5s', 'soon', '2d']) {
      expect(() => pollIntervalArg(bad)).toThrow(/^must be a duration like 90s, 15m, 1h or a number of seconds/);
    }
  });

  it('says a poll interval as a person would', () => {
    expect(formatInterval(900)).toBe('15 min');
    expect(formatInterval(90)).toBe('90 s');
    expect(formatInterval(3600)).toBe('1 h');
    expect(formatInterval(5400)).toBe('1 h 30 min');
  });
});

describe('qbsync status after failed passes', () => {
  const now = new Date('2025-01-01T00:10:00Z');
  const failing = status(
    {},
    {
      phase: 'incremental',
      consecutiveFailures: 3,
      nextAttemptAt: '2025-01-01T00:14:00Z',
      lastError: 'QboUnavailable: 503',
    },
  );

  it('shows the poll interval, and how many passes failed and when the next try comes', () => {
    const text = formatStatus(failing, 'tenant-sync-acme', now);
    expect(text).toContain('Poll interval    every 15 min');
    expect(text).toContain('Failures         3 failed passes in a row; next try at 00:14:00 UTC (in 4 min 0 s)');
    expect(formatStatusLine('acme', { status: failing }, now)).toContain(
      '3 failed passes in a row; next try at 00:14:00 UTC',
    );
    expect(formatStatus(status({}), 'tenant-sync-acme', now)).not.toContain('Failures');
    expect(describeFailures(status({}, { consecutiveFailures: 1, nextAttemptAt: null }), now)).toBe(
      '1 failed pass in a row',
    );
  });
});

describe('qbsync sync-now outcome', () => {
  const state = {
    paused: false,
    pausedReason: null,
    mode: 'two_way',
    pollIntervalSeconds: 900,
    phase: 'incremental',
  } as const;
  const pass = {
    kind: 'incremental',
    startedAt: '2025-01-01T00:00:00Z',
    finishedAt: '2025-01-01T00:00:02Z',
    durationMs: 2_000,
    records: 5,
    changed: 1,
    failed: 0,
  } as const;

  it('prints the summary of a pass that succeeded', () => {
    expect(describeSyncNow('acme', { ...state, outcome: 'succeeded', lastPass: pass, lastError: null })).toEqual({
      ok: true,
      text: 'Pass done for tenant acme: incremental, 5 records, 1 changed in 2.0 s.',
    });
  });

  it('says a pass failed with its error, never that no pass finished', () => {
    expect(
      describeSyncNow('acme', { ...state, outcome: 'failed', lastPass: pass, lastError: 'QboUnavailable: 503' }),
    ).toEqual({ ok: false, text: 'tenant acme: the pass failed: QboUnavailable: 503' });
  });

  it('says the tenant was paused before the pass ended', () => {
    const ended = describeSyncNow('acme', {
      ...state,
      paused: true,
      pausedReason: 'needs reconnect: invalid_grant',
      outcome: 'paused',
      lastPass: null,
      lastError: null,
    });
    expect(ended.ok).toBe(false);
    expect(ended.text).toContain('was paused before the pass ended (needs reconnect: invalid_grant)');
  });

  it('without --wait, says the pass was requested', () => {
    expect(describeSyncNow('acme', { ...state, outcome: 'requested', lastPass: null, lastError: null }).text).toMatch(
      /^Pass requested for tenant acme/,
    );
  });
});

describe('qbsync repair (R21)', () => {
  it('reads --merge as SURVIVOR:MERGED and says what is wrong with anything else', () => {
    expect(mergeArg('12:34')).toEqual({ survivorQboId: '12', mergedQboId: '34' });
    for (const bad of ['12', '12:', ':34', '12-34', 'a:b', '12:34:56', '']) {
      expect(() => mergeArg(bad)).toThrow(/^must be SURVIVOR:MERGED, .* joined by a colon, not /);
    }
    expect(() => mergeArg('7:7')).toThrow('customer 7 cannot be merged into itself');
  });

  it('reads the days between full reconciles from 0 to 365', () => {
    expect(reconcileDaysArg('0')).toBe(0);
    expect(reconcileDaysArg('7')).toBe(7);
    for (const bad of ['-1', '366', '1.5', 'weekly', '']) {
      expect(() => reconcileDaysArg(bad)).toThrow(/^must be a whole number of days from 0/);
    }
  });

  it('prints counts per kind, refused merges on the same line, and a failure as not done', () => {
    const result = {
      kind: 'merge' as const,
      workflowId: 'tenant-repair-acme-3',
      mergesRepaired: 1,
      opportunitiesMoved: 4,
      contactsMoved: 2,
      listMembershipsMoved: 1,
      automationsMoved: 1,
      accountsRemoved: 1,
      mergesRefused: [],
      reconcile: null,
      fullReconcileDays: 7,
    };
    expect(describeRepairOutcome('acme', { outcome: 'repaired', result, error: null })).toEqual({
      ok: true,
      text: 'Tenant acme repaired (tenant-repair-acme-3): 1 merge repaired, 4 opportunities moved, 2 contacts moved, 1 list memberships moved, 1 automations re-pointed, 1 duplicate accounts removed.',
    });
    const refused = describeRepairOutcome('acme', {
      outcome: 'repaired',
      result: {
        ...result,
        mergesRefused: [{ survivorQboId: '1', mergedQboId: '2', reason: 'survivor not in the CRM' }],
      },
      error: null,
    });
    expect(refused.ok).toBe(false);
    expect(refused.text).toMatch(/removed; merge of 2 into 1 not repaired: survivor not in the CRM\.$/);
    expect(describeRepairOutcome('acme', { outcome: 'failed', result: null, error: 'boom' })).toEqual({
      ok: false,
      text: 'The repair of tenant acme failed: boom',
    });
  });
});
