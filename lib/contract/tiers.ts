/**
 * The access tiers, lowest first: a caller of one tier reads documents of that tier and below. The
 * database knows them too (lambda/migrations/sql/0001_extension_and_tiers.sql, one reader role per
 * tier in 0004): a migration cannot read this file, so test/contract checks the SQL against it.
 */
export const ACCESS_TIERS = ['public', 'internal', 'confidential', 'restricted'] as const;
export type AccessTier = (typeof ACCESS_TIERS)[number];

/** Where a document gets its tier when nothing says otherwise: the tier most documents belong to. */
export const DEFAULT_ACCESS_TIER: AccessTier = 'internal';
