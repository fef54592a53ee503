import type { Command } from 'commander';
import { OperatorError } from '../../common/errors.js';
import { UsageError } from '../cli-errors.js';

/**
 * `qbsync map FILE [--language fr|en]`: a dry run for support. Reads a recorded QBO API response
 * and prints, as JSON on stdout, what the sync would write; touches no database. The output is the
 * contract of docs/map-contract.md. Remarks for humans go to stderr. Exit 0 when every record maps,
 * 1 when the output lists errors, 2 for a file that cannot be read or is not JSON.
 */
export function registerMapCommand(program: Command): void {
  program
    .command('map')
    .description('print, as JSON, what the sync would write for a recorded QBO response (no database)')
    .argument('<file>', 'a QBO API response: query, single entity, CDC, batch or webhook, as JSON')
    .option('--language <language>', 'sync language for stage labels: fr or en', 'fr')
    .action(async (file: string, options: { language: string }) => {
      const language = options.language;
      if (language !== 'fr' && language !== 'en')
        throw new UsageError(`--language must be fr or en, not "${language}"`);
      const { readFile } = await import('node:fs/promises');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        throw new UsageError(`cannot read ${file}${typeof code === 'string' ? ` (${code})` : ''}`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        throw new UsageError(`${file} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      }
      const { mapQboResponse } = await import('../../activities/mapping/response.js');
      const { output, notes } = mapQboResponse(json, { language });
      for (const note of notes) process.stderr.write(`note: ${note}\n`);
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
      // Thrown rather than set as process.exitCode: the CLI's entry point sets the exit code from
      // main()'s result, which would overwrite it with 0. An OperatorError prints one line and exits 1.
      if (output.errors.length > 0)
        throw new OperatorError(`${output.errors.length} record(s) did not map; see "errors"`);
    });
}
