import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../worker/config.js';
import { startWorker, type WorkerHandle } from '../worker/main.js';
import type { stackCheckWorkflow } from '../workflows/stack-check.js';
import { createTestDatabase, type TestDatabase } from './database.js';

describe('stack check workflow (real Temporal dev server, real PostgreSQL)', () => {
  let database: TestDatabase;
  let worker: WorkerHandle;
  let client: Client;
  const taskQueue = `stack-check-${Date.now()}`;

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue });
    worker = await startWorker({ config, db: database.db });
    client = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.connection.close();
    await database?.drop();
  });

  it('runs a named activity that writes a row through Kysely', async () => {
    const workflowId = `stack-check-test-${Date.now()}`;
    const result = await client.workflow.execute<typeof stackCheckWorkflow>('stackCheckWorkflow', {
      taskQueue,
      workflowId,
      args: [{ message: 'hello from the test' }],
    });
    const row = await database.db
      .selectFrom('stack_checks')
      .selectAll()
      .where('id', '=', result.rowId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ workflow_id: workflowId, message: 'hello from the test' });

    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const activityTypes = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter((name): name is string => typeof name === 'string');
    expect(activityTypes).toEqual(['recordStackCheck']);
  });
});
