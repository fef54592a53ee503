import { OperatorError } from '../../common/errors.js';
import type { SyncMode } from '../../common/sync-types.js';
import { describeModeProblem, parseSyncMode } from '../tenant-status.js';

/**
 * The onboarding inputs' checks (R2–R4), shared by the page, the service and the CLI's argument
 * parsers. Nothing heavy is imported here: a CLI command that only parses its arguments (or
 * rejects them) loads no Temporal client and no database driver.
 */

export type Language = 'fr' | 'en';

export class OnboardingInputError extends OperatorError {
  override readonly name: string = 'OnboardingInputError';
}

const tenantIdPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** A value quoted in an error message, cut short: messages go back to whoever sent the value. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

export function parseTenantId(value: string): string {
  const id = value.trim();
  if (!tenantIdPattern.test(id)) {
    throw new OnboardingInputError(
      `tenant id ${quote(value)} must be 1 to 63 lowercase letters, digits, - or _, starting with a letter or digit`,
    );
  }
  return id;
}

/** Today's date, YYYY-MM-DD, in UTC. */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** R2: a real calendar date, YYYY-MM-DD, from 2000 on and not in the future. */
export function parseStartDate(value: string, now: Date): string {
  const text = value.trim();
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : undefined;
  if (!date || Number.isNaN(date.getTime()) || isoDay(date) !== text) {
    throw new OnboardingInputError(`start date ${quote(value)} is not a date written YYYY-MM-DD`);
  }
  if (text > isoDay(now)) {
    throw new OnboardingInputError(
      `start date ${text} is in the future; pick today (${isoDay(now)}) or an earlier day`,
    );
  }
  if (text < '2000-01-01') throw new OnboardingInputError(`start date ${text} is before 2000-01-01`);
  return text;
}

export function parseLanguage(value: string, what: string): Language {
  if (value === 'fr' || value === 'en') return value;
  throw new OnboardingInputError(`${what} ${quote(value)} must be fr or en`);
}

/** one-way | two-way, as the CLI spells them everywhere; the page's one_way | two_way too. */
export function parseMode(value: string): SyncMode {
  const mode = parseSyncMode(value);
  if (mode === undefined) throw new OnboardingInputError(describeModeProblem(value));
  return mode;
}
