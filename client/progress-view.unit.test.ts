import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { syncedEntities, type EntityProgress, type SyncedEntity, type TenantStatus } from '../common/sync-types.js';
import { createProgressView } from './progress-view.js';

function status(
  entities: Partial<Record<SyncedEntity, Partial<EntityProgress>>>,
  phase: TenantStatus['phase'] = 'backfill',
) {
  return {
    tenantId: 'acme',
    realmId: '1',
    phase,
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
  } satisfies TenantStatus;
}

const start = Date.parse('2025-01-01T00:00:00Z');
const baseline = { sinceMs: start, doneAtStart: 0 };

describe('progress view of dev and watch', () => {
  it('without a terminal, prints a block of plain lines only when a bar has moved', () => {
    const lines: string[] = [];
    const view = createProgressView({
      baseline,
      tty: false,
      stream: process.stdout,
      log: (l) => lines.push(l),
      barWidth: 10,
    });
    view.show(status({ Item: { done: 10, total: 100 } }), start + 1_000);
    view.show(status({ Item: { done: 10, total: 100 } }), start + 2_000);
    expect(lines).toHaveLength(1);
    view.show(status({ Item: { done: 50, total: 100 } }), start + 3_000);
    view.show(status({ Item: { done: 100, total: 100 } }, 'incremental'), start + 4_000);
    view.stop();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^Item {9}\[#\.{9}\] {2}10% {2}10\/100 {2}ETA /m);
    expect(lines[2]).toMatch(/^Backfill finished: 100\/100 records/m);
  });

  it('on a terminal, draws one cli-progress bar per entity and the summary, redrawn in place', () => {
    let written = '';
    const stream = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          written += chunk.toString();
          done();
        },
      }),
      { isTTY: true, columns: 200 },
    );
    const view = createProgressView({ baseline, tty: true, stream, log: () => undefined, barWidth: 10 });
    view.show(status({ Item: { done: 10, total: 100 }, Customer: { total: 40 } }), start + 1_000);
    view.show(status({ Item: { done: 100, total: 100 }, Customer: { done: 20, total: 40 } }), start + 2_000);
    view.stop();
    const plain = stripVTControlCharacters(written);
    expect(plain).toContain('Item         [#.........]  10%  10/100');
    expect(plain).toContain('Item         [##########] 100%  100/100  done');
    expect(plain).toContain('Customer     [#####.....]  50%  20/40  ETA');
    expect(plain).toMatch(/Backfill: 120\/140 records, 60\.0 records\/s/);
  });
});
