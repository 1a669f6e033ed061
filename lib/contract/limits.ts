/**
 * Bounds the Extract step applies to one document (lambda/pipeline/extraction.py, Limits): each is
 * checked before the work it bounds and ends in DocumentLimitExceeded naming it. The pipeline passes
 * overrides as EXTRACT_<NAME> environment variables (EXTRACT_LIMIT_ENV).
 */
export const EXTRACT_LIMITS = {
  /** Inflated size of one XML part of a DOCX (what lxml parses). */
  maxXmlPartBytes: 32 * 1024 * 1024,
  /** Inflated / compressed size of one DOCX part: zip bombs compress far beyond real documents. */
  maxCompressionRatio: 200,
  maxPdfPages: 2000,
  /** Characters extracted from one document (10M characters is ~25k chunks of 400 tokens). */
  maxExtractedChars: 10_000_000,
} as const;

export type ExtractLimitName = keyof typeof EXTRACT_LIMITS;

/** The environment variable that overrides one extract limit (maxPdfPages -> EXTRACT_MAX_PDF_PAGES). */
export const EXTRACT_LIMIT_ENV: { readonly [K in ExtractLimitName]: string } = Object.fromEntries(
  Object.keys(EXTRACT_LIMITS).map((k) => [k, `EXTRACT_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`]),
) as { [K in ExtractLimitName]: string };

/**
 * Bounds of a query request: API Gateway's request model refuses a longer question before the query
 * function runs, and the function checks it again for callers that reach it another way.
 */
export const QUERY_LIMITS = {
  maxQuestionChars: 2000,
} as const;
