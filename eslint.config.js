// ESLint: typescript-eslint's type-aware recommended rules over src/, test/, bench/ and scripts/ (`npm run lint`,
// run by .ci/run). A rule is turned off only with the reason next to it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import stylistic from '@stylistic/eslint-plugin';

// The no-unsafe-* rules, off together where values of no known type are read on purpose (see each use).
const UNSAFE_VALUES_ALLOWED = Object.fromEntries(
  ['member-access', 'argument', 'assignment', 'call', 'return'].map((r) => [`@typescript-eslint/no-unsafe-${r}`, 'off']),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'models/', '.tmp/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `async` marks functions that fulfil a promise-returning contract (the Encoder, route handlers, callbacks
      // awaited by their callers) even when their body awaits nothing: without it a throw would escape synchronously.
      '@typescript-eslint/require-await': 'off',
      // A caught error is passed on as it came (reject(err) after catch (err: unknown)), not wrapped.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // node:test's test(), describe() and it() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }],
      }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read answers parsed from JSON (inject().json(), JSON.parse, fetch's json()) and assert on their
      // fields: the assertion is the type check there, and a cast per read would add no safety.
      ...UNSAFE_VALUES_ALLOWED,
      // The OpenAPI document a contract test walks is such JSON too (Record<string, any>).
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Test servers and benchmark children hand async handlers to node's emitters (createServer, on('message')):
      // a rejection there is an unhandled rejection that fails the run loudly, which is what a test wants.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    // @huggingface/tokenizers 0.2 declares its types through extensionless re-exports that NodeNext resolution
    // cannot follow, so its Tokenizer has no type here: these files are where it is used (the encoder's tokenizer and
    // the chunker's token counts), and they state the types of what they read (ids: number[]).
    files: ['src/encoder/text-tokenizer.ts', 'src/encoder/chunker.ts'],
    rules: {
      ...UNSAFE_VALUES_ALLOWED,
    },
  },
  {
    // Lines of at most 140 characters, the house width: a maintainer reads a file side by side with a diff.
    files: ['{src,test,bench,scripts}/**/*.{ts,js,mjs}'],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }],
    },
  },
  {
    // The few JavaScript files (bin/, the worker's development entry, this config) are outside the TypeScript project.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', URL: 'readonly', console: 'readonly' },
    },
  },
);
