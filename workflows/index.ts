export { tenantSyncWorkflow } from './tenant-sync.js';
export { tenantRepairWorkflow } from './tenant-repair.js';
