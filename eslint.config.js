import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'fixtures/', 'coverage/', '.fc-local/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The language agents are plain CommonJS that must run on old runtimes too.
    files: ['runtimes/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    // catch (e) bindings stay: optional catch binding is too new for the oldest runtimes.
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-var': 'off', '@typescript-eslint/no-unused-vars': ['error', { caughtErrors: 'none' }] },
  },
  {
    // Template code is users' function code: CommonJS, FC's handler signatures (unused args too).
    files: ['templates/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/no-unused-vars': 'off' },
  },
  {
    files: ['bin/**/*.js', 'bench/**/*.js', 'scripts/**/*.js', 'scripts/**/*.mjs', 'templates/**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
  {
    // The workbench page runs in the browser.
    files: ['web/**/*.js'],
    languageOptions: { globals: globals.browser },
  },
);
