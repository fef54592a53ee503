import { proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import { nonRetryableFailureTypes } from '../common/failure-types.js';
import type { PushActivities } from '../activities/push/push.activities.js';
import type { SyncActivities } from '../activities/sync/sync.activities.js';

/**
 * Timeouts and retries of every activity, chosen in one place.
 *
 * - Temporal is the one retry owner: the QBO client never retries. Failures arrive classified
 *   (common/failure-types.ts); the types that would fail the same way again are non-retryable.
 *   A throttled call carries QBO's wait as nextRetryDelay, which overrides the backoff below.
 * - Page activities read at most a few QBO requests and write one transaction: 5 minutes is ample
 *   (QBO itself gives up on a request at 120 s). They heartbeat every 3 s while they work, so a
 *   worker that dies mid-page is noticed within 10 s and the page is retried elsewhere; the page
 *   and its cursor commit together, so the retry starts where the last commit left off.
 * - Backoff 1 s doubling to 1 minute, 100 attempts (about an hour and a half of a QBO outage, and
 *   a worker killed several times in a row on the same page is back within a minute). After that
 *   the failure reaches the workflow, which counts a failed pass and waits before the next one.
 * - The incremental pass is a local activity: an idle pass is then one marker in history instead
 *   of three activity events and a workflow task, so a sleeping tenant's history (and its Temporal
 *   actions) barely grows. It makes one QBO request and one short transaction; a few attempts are
 *   enough, since the pass as a whole is retried by the workflow's own backoff.
 * - Applying a mode change never gives up (no attempt limit, nothing non-retryable): an update
 *   handler awaits it, and a handler that could fail would fail the whole execution.
 */
const retry: ActivityOptions['retry'] = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 100,
  nonRetryableErrorTypes: [...nonRetryableFailureTypes],
};

export const pageActivityOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry,
};

export const bookkeepingActivityOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry,
};

export const pageActivities = proxyActivities<SyncActivities>(pageActivityOptions);
export const bookkeeping = proxyActivities<SyncActivities>(bookkeepingActivityOptions);
/** CRM → QBO pushes: QBO requests like a page, heartbeating while they wait on the realm's budget. */
export const pushActivities = proxyActivities<PushActivities>(pageActivityOptions);

export const incrementalPassActivity = proxyLocalActivities<SyncActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...retry, maximumAttempts: 5 },
}).incrementalPass;

export const applyTenantModeActivity = proxyActivities<SyncActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
}).applyTenantMode;
