import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**', 'bench-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      // A function a reader takes in at once (issue 14): split it where it does two things.
      'max-lines-per-function': ['error', { max: 60, IIFEs: true }],
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/test/**', '../../test/*', '**/scripts/**'], message: 'src/ must not import test/ or scripts/.' },
      ] }],
    },
  },
  {
    files: ['src/planner/**/*.ts'],
    // The plan file format sits next to the plan; it alone reads and writes files.
    ignores: ['src/planner/plan-file.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:*'], message: 'The planner is pure: no node:* imports.' },
        { group: ['**/executor/**', '../executor/*'], message: 'The planner does not import the executor.' },
      ] }],
    },
  },
);
