// TypeScript lint (scripts/lint.sh, part of npm test). typescript-eslint's recommended set without
// type information (a type-aware run takes minutes on this code base: tsc --noEmit type-checks).
// Circles and upward imports are test/layering's job, which also sees `import type` and re-exports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out*/**', 'build/**', 'dist/**', '.jest-tmp/**', '**/*.js', '**/*.mjs', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a binding kept on purpose: a rest-sibling omission (`{ stage: _s, ...rest }`),
      // an argument an interface requires.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `==` only for the `x == null` idiom (null or undefined).
      eqeqeq: ['error', 'smart'],
      // `import x = require('./data.json')` is TypeScript's typed import of JSON without esModuleInterop
      // (which jsii and a consumer's tsconfig may not set); plain require() stays forbidden.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
    },
  },
  {
    // Code that reads CloudFormation templates, cdk-nag's resolved L1 properties or raw JSON (tests,
    // scripts, rule packs, plans and the guard's rule selection, the security review): the shape is what the code checks at run time,
    // and a type would restate every resource schema. The construct library itself stays `any`-free
    // (jsii refuses `any` in the exported API too).
    files: ['test/**', 'scripts/**', 'bench/**', 'lib/readiness/**', 'lib/review/**', 'lib/app/promotion-plan.ts', 'lib/app/destroy-plan.ts', 'lib/app/upgrade-plan.ts', 'lib/app/guard-rules.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
