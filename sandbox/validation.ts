/**
 * What a write must satisfy before anything is stored, in one place: the shape bounds that keep
 * one request from breaking the simulator (body size, nesting depth), and Intuit's Customer field
 * rules. Every refusal is a QboFault with HTTP 400, so nothing half-checked reaches the store.
 */
import { faults } from './faults.js';

/**
 * Largest request body read. Intuit publishes no figure for single-entity writes (UNCONFIRMED);
 * 5 MB is far above any Customer (its longest fields total a few kB) and keeps memory bounded.
 */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * Deepest JSON nesting accepted in a write. No QBO entity nests deeper than about six levels
 * (Invoice → Line[] → SalesItemLineDetail → ItemRef → value), so 32 refuses nothing valid, and
 * stops bodies so deep that rendering them again would exhaust the stack.
 */
export const MAX_JSON_DEPTH = 32;

/** Throws a 400 fault when `value` nests objects or arrays deeper than `limit` (checked without recursion). */
export function checkDepth(value: unknown, limit = MAX_JSON_DEPTH): void {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const { value: current, depth } = pending.pop() as { value: unknown; depth: number };
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) throw faults.badRequest(`Request body nests objects or arrays deeper than ${limit} levels`);
    for (const child of Object.values(current)) pending.push({ value: child, depth: depth + 1 });
  }
}
