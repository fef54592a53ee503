import type { PageCounts } from './crm-writer.js';

/**
 * What a pass has written of one entity so far, kept in the entity's cursor and committed with each
 * page. A page activity reads several pages and commits each as it goes; when an attempt dies after
 * some of them, its retry must still report them to the workflow (which counts the pass's records
 * from the activities' results), so it finds in the cursor what the activity had written since it
 * began.
 */
export interface PassTally {
  /** The pass's end: a tally of another pass does not carry over. */
  readonly until: string;
  /** The activity (workflow, run and activity id) whose first commit set `baseline`. */
  readonly activity: string;
  /** The pass's total when that activity began. */
  readonly baseline: PageCounts;
  /** The pass's total after the last committed page. */
  readonly total: PageCounts;
}

export interface ActivityAttempt {
  /** Names one activity across its attempts (workflow id, run id, activity id). */
  readonly key: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

export interface OpenTally {
  /** The tally to commit with a page that wrote `counts`; it counts once `committed` says so. */
  after(counts: PageCounts): PassTally;
  /** The page carrying `tally` has committed. */
  committed(tally: PassTally): void;
  /** What the activity has committed since its first attempt began, pages of failed attempts included. */
  sinceActivityStart(): PageCounts;
}

const countKeys = ['written', 'unchanged', 'skipped', 'deleted', 'failed'] as const satisfies ReadonlyArray<
  keyof PageCounts
>;

const zero = (): PageCounts => ({ written: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0 });

function combine(a: PageCounts, b: PageCounts, sign: 1 | -1): PageCounts {
  const result = zero();
  for (const key of countKeys) result[key] = a[key] + sign * b[key];
  return result;
}

export function openTally(stored: PassTally | undefined, until: string, activity: ActivityAttempt): OpenTally {
  const samePass = stored?.until === until;
  let total = samePass ? stored.total : zero();
  const retried = samePass && activity.attempt > 1 && stored.activity === activity.key;
  const baseline = retried ? stored.baseline : total;
  return {
    after: (counts) => ({ until, activity: activity.key, baseline, total: combine(total, counts, 1) }),
    committed(tally) {
      total = tally.total;
    },
    sinceActivityStart: () => combine(total, baseline, -1),
  };
}
