import { FailureType } from '../../common/failure-types.js';
import type { CursorState } from '../../db/repositories/sync-cursors.js';
import { QboError } from '../qbo/qbo-errors.js';
import { overlapMs } from './paging-planner.js';

/**
 * When an incremental pass may use CDC, one request for every entity, instead of windowed queries.
 * CDC looks back 30 days at most and silently stops at 1,000 objects.
 */

/** Past 29 days the sync uses windowed queries instead (as Nango does): a day's margin for clocks. */
export const cdcMaxAgeMs = 29 * 24 * 3600 * 1000;
/** CDC returns at most this many objects, with no sign that it stopped. */
export const cdcObjectCap = 1000;

/**
 * Why CDC cannot serve a pass whose QBO clock reads `qboNow` (ms), or null when it can: every
 * entity has been read to a settled cursor, the oldest within CDC's reach.
 */
export function cdcBlocker(
  cursors: ReadonlyMap<string, CursorState>,
  entities: readonly string[],
  qboNow: number,
): string | null {
  const states = entities.map((entity) => cursors.get(entity));
  if (states.some((state) => state === undefined)) return 'an entity has never been read';
  if (states.some((state) => state?.burst)) return 'an entity is mid-burst';
  if (qboNow - oldestCursor(cursors, entities) > cdcMaxAgeMs) return 'a cursor is older than 29 days';
  return null;
}

/** The CDC `changedSince`: the oldest cursor, less the overlap that makes replays cover gaps. */
export function cdcChangedSince(cursors: ReadonlyMap<string, CursorState>, entities: readonly string[]): Date {
  return new Date(oldestCursor(cursors, entities) - overlapMs);
}

/** Why a CDC answer may be cut at its cap, or null when it is whole. */
export function cdcCutReason(changes: Readonly<Record<string, readonly unknown[]>>): string | null {
  const total = Object.values(changes).reduce((sum, list) => sum + list.length, 0);
  return total >= cdcObjectCap ? `CDC returned ${total} objects: maybe cut at its cap` : null;
}

/**
 * QBO refusing a changedSince beyond CDC's look-back (ValidationFault 2010: CDC's only variable
 * property is changedSince). It happens when QBO's clock is further ahead than estimated.
 */
export function isCdcLookBackRefusal(error: unknown): boolean {
  return error instanceof QboError && error.type === FailureType.QboValidation && error.details.code === '2010';
}

function oldestCursor(cursors: ReadonlyMap<string, CursorState>, entities: readonly string[]): number {
  return Math.min(...entities.map((entity) => Date.parse(cursors.get(entity)?.from ?? '')));
}

/** The newest cursor: the previous pass's end, on QBO's clock. */
export function newestCursor(cursors: ReadonlyMap<string, CursorState>): number {
  return Math.max(...[...cursors.values()].map((state) => Date.parse(state.from)));
}
