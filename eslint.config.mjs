// The repo's lint rules: ESLint's and typescript-eslint's recommended sets, with formatting left
// to Prettier (eslint-config-prettier turns off the rules that would fight it). `npm run lint`
// runs this, `prettier --check` and the spec type-check; CI runs `npm run lint`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'coverage/**',
      'tmp/**',
      '.nx/**',
      'bench/results/**',
      'test/fixtures/**/node_modules/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed parameters and caught errors are deliberately unused (interfaces, fakes).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The code says why it leaves a line out; a comment in an empty block is enough.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts', '**/testing/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
    rules: {
      // Tests read JSON bodies loosely and load modules afresh with require() (jest.isolateModules).
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
      // Terminal colour codes are what the tests strip.
      'no-control-regex': 'off',
    },
  },
  prettier,
);
