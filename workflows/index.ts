export { tenantSyncWorkflow } from './tenant-sync.js';
