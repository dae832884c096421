// One lint setup for every workspace: typescript-eslint's recommended rules, type-aware where a
// tsconfig covers the file, with Prettier owning formatting (`npm run lint` checks both).
// No consistent-type-imports: Nest's dependency injection needs constructor parameter types
// imported as values, for emitDecoratorMetadata.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'control-plane/src/generated/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['map/src/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/scripts/**', '**/bench/**', '**/cli/**', 'control-plane/test/**', 'agent-image/test/**'],
    rules: { 'no-console': 'off' },
  },
);
