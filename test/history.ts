import type { Client } from '@temporalio/client';
import protos, { type temporal } from '@temporalio/proto';

/** Size figures of a workflow's whole history, across its continue-as-new runs. */
export interface HistoryFigures {
  readonly runs: number;
  readonly maxEventsPerRun: number;
  readonly totalBytes: number;
  readonly largestPayloadBytes: number;
  /** Every payload's data, decoded, for scans (tokens, personal data, record fields). */
  readonly payloadTexts: string[];
}

export async function historyFigures(client: Client, workflowId: string): Promise<HistoryFigures> {
  const proto = protos.temporal;
  let runs = 0;
  let maxEventsPerRun = 0;
  let totalBytes = 0;
  let largestPayloadBytes = 0;
  const payloadTexts: string[] = [];
  let runId: string | undefined;
  const seen = new Set<string>();
  // Walk from the latest run back through each run's predecessor.
  let handle = client.workflow.getHandle(workflowId);
  for (;;) {
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    runs += 1;
    maxEventsPerRun = Math.max(maxEventsPerRun, events.length);
    totalBytes += proto.api.history.v1.History.encode(history as temporal.api.history.v1.IHistory).finish().length;
    visitPayloads(history, (data) => {
      largestPayloadBytes = Math.max(largestPayloadBytes, data.length);
      payloadTexts.push(Buffer.from(data).toString('utf8'));
    });
    const started = events[0]?.workflowExecutionStartedEventAttributes;
    runId = started?.continuedExecutionRunId ?? undefined;
    if (!runId || seen.has(runId)) break;
    seen.add(runId);
    handle = client.workflow.getHandle(workflowId, runId);
  }
  return { runs, maxEventsPerRun, totalBytes, largestPayloadBytes, payloadTexts };
}

function visitPayloads(value: unknown, visit: (data: Uint8Array) => void): void {
  if (value === null || typeof value !== 'object') return;
  if (value instanceof Uint8Array) return;
  const record = value as Record<string, unknown>;
  if ('metadata' in record && 'data' in record && record['data'] instanceof Uint8Array) {
    visit(record['data']);
    return;
  }
  for (const child of Object.values(record)) {
    if (Array.isArray(child)) for (const item of child) visitPayloads(item, visit);
    else visitPayloads(child, visit);
  }
}
