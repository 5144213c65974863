// Lint rules. The model and expression layers must stay pure (no I/O): STYLE.md habit 1.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const IO_MODULES = [
  'fs',
  'net',
  'http',
  'https',
  'child_process',
  'pg',
  'fastify',
  'amqplib',
  'undici',
  'os',
  'worker_threads',
  'dgram',
  'dns',
  'tls',
  'cluster',
  'process',
  'sqlite',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'schema/', '.rivet/', 'coverage/', '.docs-test-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        performance: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
        btoa: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
    },
  },
  {
    files: ['src/model/**/*.ts', 'src/expr/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*'],
              message: 'src/model and src/expr are pure: no Node.js built-ins (do I/O in src/load.ts or the engine).',
            },
            ...IO_MODULES.map((m) => ({
              group: [m, `${m}/*`],
              message: 'src/model and src/expr are pure: no I/O libraries.',
            })),
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/model and src/expr are pure: take configuration as arguments.' },
        { name: 'fetch', message: 'no I/O in pure code' },
        { name: 'Buffer', message: 'use Uint8Array in pure code' },
      ],
    },
  },
);
