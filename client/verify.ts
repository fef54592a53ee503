/**
 * `qbsync verify`'s comparison lives with the activities, which reuse it for the full reconcile (R21);
 * the CLI, tests and benchmarks read it from here.
 */
export {
  verifyTenant,
  type VerifyDifference,
  type VerifyOptions,
  type VerifyReport,
} from '../activities/repair/verify-tenant.js';
