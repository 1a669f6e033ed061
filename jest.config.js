/** Jest runs TypeScript through ts-jest without type-checking (isolatedModules); `tsc --noEmit` type-checks. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }],
  },
  // marked is published as ESM only (its exports map); Jest's CommonJS runtime loads its UMD build.
  moduleNameMapper: { '^marked$': '<rootDir>/node_modules/marked/lib/marked.umd.js' },
  testTimeout: 120000,
};
