export { stackCheckWorkflow } from './stack-check.js';
export { tenantSyncWorkflow } from './tenant-sync.js';
