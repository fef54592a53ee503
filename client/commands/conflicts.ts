import { InvalidArgumentError, type Command } from 'commander';
import { OperatorError } from '../../common/errors.js';
import type { TenantContext } from '../tenant-control.js';
import { tenantArg } from './args.js';
import { withContext } from './tenant.js';

// `qbsync conflicts <tenant>`, `qbsync conflicts resolve <id> --take qbo|crm` and
// `qbsync settings <tenant>`: the two-way sync's support commands (R7, R17). Database access goes
// through db/repositories; pg and Temporal load inside the actions.

const log = (line: string) => process.stdout.write(`${line}\n`);

export class ConflictNotOpenError extends OperatorError {
  override readonly name = 'ConflictNotOpenError';
}

const sides = { qbo: 'qbo', crm: 'crm' } as const;

function sideArg(value: string): 'qbo' | 'crm' {
  const side = sides[value.trim().toLowerCase() as keyof typeof sides];
  if (!side)
    throw new InvalidArgumentError(`"${value}" is not a side: use qbo (QuickBooks's value) or crm (the CRM's)`);
  return side;
}

function conflictIdArg(value: string): number {
  if (!/^\d{1,15}$/.test(value.trim())) {
    throw new InvalidArgumentError(`"${value}" is not a conflict id: use the number qbsync conflicts prints`);
  }
  return Number(value.trim());
}

function onOffArg(value: string): boolean {
  const on = ['on', 'true', 'yes'].includes(value.toLowerCase());
  if (!on && !['off', 'false', 'no'].includes(value.toLowerCase())) {
    throw new InvalidArgumentError(`"${value}" is neither on nor off`);
  }
  return on;
}

function policyArg(value: string): 'qbo_wins' | 'crm_wins' {
  return sideArg(value.replace(/[-_]?wins$/i, '')) === 'qbo' ? 'qbo_wins' : 'crm_wins';
}

/** Shows a stored value: a string, a list of address lines, or empty. */
function shown(value: unknown): string {
  if (value === null || value === undefined || value === '') return '(empty)';
  if (Array.isArray(value)) return value.length === 0 ? '(empty)' : JSON.stringify(value.join(', '));
  return JSON.stringify(value);
}

/** Asks the tenant's workflow for a pass now, so a choice applies without waiting for the poll. */
async function askForPass(context: TenantContext, tenantId: string): Promise<string> {
  const { findRunningWorkflow } = await import('../tenant-control.js');
  const { syncNowSignal } = await import('../../workflows/definitions.js');
  let found: Awaited<ReturnType<typeof findRunningWorkflow>>;
  try {
    found = await findRunningWorkflow(await context.temporal(), tenantId);
  } catch {
    return 'The next pass applies it (Temporal could not be reached to ask for one now).';
  }
  if ('notRunning' in found) return `The next pass applies it (${found.notRunning}).`;
  await found.handle.signal(syncNowSignal, { reason: 'conflict resolved' });
  return 'A pass was asked for now; it applies the choice.';
}

export function registerConflictCommands(program: Command): void {
  const conflicts = program
    .command('conflicts')
    .description("list a tenant's open two-way conflicts and sync errors (resolve one with: conflicts resolve)")
    .argument('<tenant>', 'tenant id', tenantArg)
    .action(async (tenantId: string) => {
      await withContext(async (context) => {
        const { requireTenant } = await import('../tenant-control.js');
        const { listOpenConflicts } = await import('../../db/repositories/sync-conflicts.js');
        const { listOpenSyncErrors } = await import('../../db/repositories/sync-errors.js');
        const tenant = await requireTenant(context, tenantId);
        const open = await listOpenConflicts(context.database.db, tenantId);
        const errors = await listOpenSyncErrors(context.database.db, tenantId);
        log(
          `Tenant ${tenantId}: ${open.length} open conflict(s), ${errors.length} open sync error(s); ` +
            `a field both sides changed goes to ${tenant.conflict_policy === 'qbo_wins' ? 'QuickBooks' : 'the CRM'} unless resolved otherwise.`,
        );
        for (const conflict of open) {
          const where = `account ${conflict.account_id} "${conflict.company_name}"${conflict.qbo_id ? `, QuickBooks customer ${conflict.qbo_id}` : ''}`;
          if (conflict.kind === 'field') {
            log(
              `  #${conflict.id} field ${conflict.field} of ${where}: CRM ${shown(conflict.crm_value)}, ` +
                `QuickBooks ${shown(conflict.qbo_value)} (was ${shown(conflict.base_value)}); ` +
                `${conflict.applied === 'qbo' ? 'QuickBooks' : 'CRM'} value applied`,
            );
          } else {
            log(`  #${conflict.id} ${conflict.kind.replace('_', ' ')} on ${where}: ${conflict.message}`);
          }
        }
        for (const error of errors) {
          log(
            `  error ${error.entity_type} ${error.qbo_id}: ${error.error_type}${error.field ? ` at ${error.field}` : ''}: ${error.message}` +
              (error.occurrences > 1 ? ` (${error.occurrences} times)` : ''),
          );
        }
        if (open.length > 0) log('Resolve one with: qbsync conflicts resolve <id> --take qbo|crm');
      });
    });

  conflicts
    .command('resolve')
    .description("settle a conflict with QuickBooks's value (qbo) or the CRM's (crm); the next pass applies it")
    .argument('<id>', 'the conflict number qbsync conflicts prints', conflictIdArg)
    .requiredOption('--take <side>', 'qbo or crm', sideArg)
    .action(async (id: number, options: { take: 'qbo' | 'crm' }) => {
      await withContext(async (context) => {
        const { findConflict, resolveConflict } = await import('../../db/repositories/sync-conflicts.js');
        const conflict = await findConflict(context.database.db, id);
        if (!conflict) throw new ConflictNotOpenError(`there is no conflict #${id}`);
        const user = process.env['USER'] ?? process.env['LOGNAME'];
        const resolved = await resolveConflict(
          context.database.db,
          id,
          options.take,
          `qbsync CLI${user ? ` (${user})` : ''}`,
          new Date(),
        );
        if (!resolved) {
          throw new ConflictNotOpenError(
            `conflict #${id} was already resolved (${conflict.resolution ?? 'unknown'} taken)`,
          );
        }
        const what =
          conflict.kind === 'field'
            ? `${conflict.field} takes the ${options.take === 'qbo' ? 'QuickBooks' : 'CRM'} value on both sides`
            : options.take === 'crm'
              ? 'the push is sent again as the CRM holds it'
              : "the CRM's change is dropped and the account takes QuickBooks's values";
        log(`Conflict #${id} resolved: ${what}. ${await askForPass(context, conflict.tenant_id)}`);
      });
    });

  program
    .command('settings')
    .description(
      "show or change a tenant's two-way settings: CRM editing of QuickBooks records (R17) and the conflict policy",
    )
    .argument('<tenant>', 'tenant id', tenantArg)
    .option(
      '--allow-crm-edits <on|off>',
      'let CRM users edit accounts and contacts of the QuickBooks list (R17)',
      onOffArg,
    )
    .option('--conflict-policy <qbo|crm>', 'which side wins a field both sides changed', policyArg)
    .action(
      async (tenantId: string, options: { allowCrmEdits?: boolean; conflictPolicy?: 'qbo_wins' | 'crm_wins' }) => {
        await withContext(async (context) => {
          const { requireTenant } = await import('../tenant-control.js');
          const { saveTwoWaySettings } = await import('../../db/repositories/tenants.js');
          await requireTenant(context, tenantId);
          await saveTwoWaySettings(context.database.db, tenantId, {
            ...(options.allowCrmEdits !== undefined ? { allowCrmEdits: options.allowCrmEdits } : {}),
            ...(options.conflictPolicy !== undefined ? { conflictPolicy: options.conflictPolicy } : {}),
          });
          const tenant = await requireTenant(context, tenantId);
          log(
            `Tenant ${tenantId}: ${tenant.sync_mode === 'two_way' ? 'two-way' : 'one-way'}; CRM users ${
              tenant.allow_crm_edits ? 'may' : 'may not'
            } edit QuickBooks-list records; a field both sides changed goes to ${
              tenant.conflict_policy === 'qbo_wins' ? 'QuickBooks' : 'the CRM'
            }.`,
          );
        });
      },
    );
}
