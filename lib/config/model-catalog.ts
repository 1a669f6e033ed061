/**
 * Every Bedrock model a preset or a config may name, as data: lifecycle, where it is served on demand
 * in-region, where it needs a cross-region inference profile (id and destination regions), and its
 * price. Config validation (load.ts), the gateway's invocation ids and IAM (model-gateway.ts), the
 * supported-region list (regions.ts) and the preflight read this one table.
 *
 * Sources, read 2026-12-02 (through the project's stored copies of AWS's pages):
 * - lifecycle: the model cards (https://docs.aws.amazon.com/bedrock/latest/userguide/model-cards.html)
 *   and "Model lifecycle" (https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle.html,
 *   models launched before 2026-09-07: model-lifecycle-legacy.html);
 * - regions: "Supported foundation models" / "Regional availability"
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/models-region-compatibility.html), the
 *   model card's "Programmatic access" (in-region id, geo inference ids) and "Supported Regions and
 *   models for inference profiles" (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html);
 *   the per-model region rows agree with "Supported Regions and models for batch inference"
 *   (batch-inference-supported.html: Nova in-region in us-east-1 only among commercial regions; profiles
 *   in us-east-1/2, us-west-2, the EU regions below and five APAC regions);
 * - prices: Amazon Bedrock pricing, on demand, standard tier, us-east-1 (https://aws.amazon.com/bedrock/pricing/).
 *   Estimates: other regions may cost more, and prices change.
 * Only what the model card lists is here: the Nova cards list US and EU geo ids and no global id, so
 * APAC regions are not served (add the APAC profile when its card lists it).
 * The preflight asks Bedrock itself (GetFoundationModel, GetFoundationModelAvailability,
 * GetInferenceProfile) before a deploy, so a table gone stale is caught in the account.
 */

export type ModelLifecycle = 'ACTIVE' | 'LEGACY' | 'EOL';

export interface InferenceProfile {
  /** System-defined cross-region inference profile id, e.g. `us.amazon.nova-lite-v1:0`. */
  readonly id: string;
  /** Regions that may call the profile. */
  readonly sourceRegions: readonly string[];
  /** Regions Bedrock may route a call to: IAM must allow the foundation model in each. */
  readonly destinationRegions: readonly string[];
}

export interface CatalogModel {
  readonly modelId: string;
  readonly name: string;
  /** The model's vendor (`Amazon`, `Anthropic`, ...). Third-party models need model access / a Marketplace agreement first. */
  readonly vendor: string;
  readonly lifecycle: ModelLifecycle;
  /** Legacy since / end of life on Bedrock (YYYY-MM-DD), where the model card gives one. */
  readonly legacySince?: string;
  readonly eolDate?: string;
  /** What replaces it (for the error message of a Legacy or EOL model). */
  readonly successor?: string;
  /** Regions where the bare model id is invokable on demand. */
  readonly inRegion: readonly string[];
  readonly profiles: readonly InferenceProfile[];
  readonly usdPerMillionInputTokens: number;
  readonly usdPerMillionOutputTokens: number;
  readonly sources: readonly string[];
  readonly read: string;
}

const US = ['us-east-1', 'us-east-2', 'us-west-2'];
const EU = ['eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-3'];
const novaProfiles = (id: string): InferenceProfile[] => [
  { id: `us.${id}`, sourceRegions: US, destinationRegions: US },
  { id: `eu.${id}`, sourceRegions: EU, destinationRegions: EU },
];
const CARD = (slug: string) => `https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-${slug}.html`;
const PROFILES = 'https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html';
const PRICING = 'https://aws.amazon.com/bedrock/pricing/';
const READ = '2026-12-02';

export const MODEL_CATALOG: Readonly<Record<string, CatalogModel>> = {
  'amazon.nova-micro-v1:0': {
    modelId: 'amazon.nova-micro-v1:0', name: 'Nova Micro', vendor: 'Amazon', lifecycle: 'ACTIVE',
    inRegion: ['us-east-1'], profiles: novaProfiles('amazon.nova-micro-v1:0'),
    usdPerMillionInputTokens: 0.035, usdPerMillionOutputTokens: 0.14,
    sources: [CARD('amazon-nova-micro'), PROFILES, PRICING], read: READ,
  },
  'amazon.nova-lite-v1:0': {
    modelId: 'amazon.nova-lite-v1:0', name: 'Nova Lite', vendor: 'Amazon', lifecycle: 'ACTIVE',
    inRegion: ['us-east-1'], profiles: novaProfiles('amazon.nova-lite-v1:0'),
    usdPerMillionInputTokens: 0.06, usdPerMillionOutputTokens: 0.24,
    sources: [CARD('amazon-nova-lite'), PROFILES, PRICING], read: READ,
  },
  'amazon.nova-pro-v1:0': {
    modelId: 'amazon.nova-pro-v1:0', name: 'Nova Pro', vendor: 'Amazon', lifecycle: 'ACTIVE',
    inRegion: ['us-east-1'], profiles: novaProfiles('amazon.nova-pro-v1:0'),
    usdPerMillionInputTokens: 0.8, usdPerMillionOutputTokens: 3.2,
    sources: [CARD('amazon-nova-pro'), PROFILES, PRICING], read: READ,
  },
  // The pilot's answer model until 2026-12: its card reports end of life on 2026-09-10 in most regions
  // ("ResourceNotFoundException: This model version has reached the end of its life").
  'anthropic.claude-3-haiku-20240307-v1:0': {
    modelId: 'anthropic.claude-3-haiku-20240307-v1:0', name: 'Claude 3 Haiku', vendor: 'Anthropic', lifecycle: 'EOL',
    eolDate: '2026-09-10', successor: 'amazon.nova-lite-v1:0',
    inRegion: [], profiles: [],
    usdPerMillionInputTokens: 0.25, usdPerMillionOutputTokens: 1.25,
    sources: [CARD('anthropic-claude-3-haiku'), 'https://docs.aws.amazon.com/bedrock/latest/userguide/model-lifecycle-legacy.html'], read: READ,
  },
};

/** How the gateway calls `modelId` from `region`: the id to pass to Converse and the ARNs IAM must allow. */
export interface ModelInvocation {
  /** The bare model id in-region, else the inference profile id. */
  readonly invocationId: string;
  readonly profile?: InferenceProfile;
  /** Regions whose foundation-model ARN the call needs (the region itself in-region; every destination through a profile). */
  readonly foundationModelRegions: readonly string[];
}

/** In-region where the model is served on demand there (the request stays in the region), else the profile whose source regions include it. */
export function invocationFor(modelId: string, region: string): ModelInvocation | undefined {
  const m = MODEL_CATALOG[modelId];
  if (!m || m.lifecycle === 'EOL') return undefined;
  if (m.inRegion.includes(region)) return { invocationId: modelId, foundationModelRegions: [region] };
  const profile = m.profiles.find((p) => p.sourceRegions.includes(region));
  return profile ? { invocationId: profile.id, profile, foundationModelRegions: profile.destinationRegions } : undefined;
}

/** Regions from which `modelId` can be called (in-region or through a profile). */
export function modelRegions(modelId: string): string[] {
  const m = MODEL_CATALOG[modelId];
  if (!m || m.lifecycle === 'EOL') return [];
  return [...new Set([...m.inRegion, ...m.profiles.flatMap((p) => p.sourceRegions)])].sort();
}
