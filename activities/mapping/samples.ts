import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The real recorded QBO responses, as copied into the repository from shared/reference/qbo-samples
 * (sandbox/fixtures/qbo-samples/SOURCES.md says where each comes from), so tests need nothing
 * outside the checkout.
 */
export const samplesDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../sandbox/fixtures/qbo-samples',
);

export function sampleFiles(): string[] {
  return readdirSync(samplesDir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => path.join(samplesDir, name));
}

export function readSample(name: string): unknown {
  return JSON.parse(readFileSync(path.join(samplesDir, name), 'utf8'));
}

/** The records of an entity in a recorded query response. */
export function sampleRecords(name: string, entity: string): Record<string, unknown>[] {
  const json = readSample(name) as { QueryResponse: Record<string, Record<string, unknown>[]> };
  const records = json.QueryResponse[entity];
  if (!records) throw new Error(`${name} has no ${entity} records`);
  return records;
}
