import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownVariables } from '../worker/config.js';
import { repoRoot } from './cli.js';

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');

describe('README', () => {
  it('documents every configuration variable in its table', () => {
    for (const variable of knownVariables) expect(readme).toMatch(new RegExp(`^\\| \`${variable}\` +\\|`, 'm'));
  });

  it('holds the two quick-start commands that CI runs', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
    expect(readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8')).toMatch(/npm test/);
  });
});
