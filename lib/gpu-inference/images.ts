import { CfnMapping, Fn, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * Inference container images, resolved in one place. AWS Deep Learning Containers are published per
 * region from a regional ECR registry; the account differs in a few regions. Update tags here.
 */
export enum InferenceFramework {
  /** Hugging Face Text Embeddings Inference, GPU build (serves embedding models, `/embed`). */
  TEXT_EMBEDDINGS_INFERENCE = 'tei',
  /** Large Model Inference (DJL Serving with vLLM), for generation models. */
  LARGE_MODEL_INFERENCE = 'lmi',
}

export const IMAGE_REPOSITORIES: Record<InferenceFramework, { repository: string; tag: string; gpu: boolean; port?: number }> = {
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE]: { repository: 'tei', tag: '2.0.1-tei1.4.0-gpu-py310-cu122-ubuntu22.04', gpu: true },
  [InferenceFramework.LARGE_MODEL_INFERENCE]: { repository: 'djl-inference', tag: '0.33.0-lmi15.0.0-cu128', gpu: true },
};

/** Deep Learning Containers registry account per region (most regions use 763104351884). */
export const DLC_ACCOUNTS: Record<string, string> = {
  'us-east-1': '763104351884', 'us-east-2': '763104351884', 'us-west-1': '763104351884', 'us-west-2': '763104351884',
  'ca-central-1': '763104351884', 'eu-west-1': '763104351884', 'eu-west-2': '763104351884', 'eu-west-3': '763104351884',
  'eu-central-1': '763104351884', 'eu-north-1': '763104351884', 'ap-south-1': '763104351884', 'ap-northeast-1': '763104351884',
  'ap-northeast-2': '763104351884', 'ap-northeast-3': '763104351884', 'ap-southeast-1': '763104351884', 'ap-southeast-2': '763104351884',
  'sa-east-1': '763104351884', 'ap-east-1': '871362719292', 'me-south-1': '217643126080', 'af-south-1': '626614931356',
  'eu-south-1': '692866216735',
};

export interface ResolvedImage {
  readonly imageUri: string;
  /** ARN of the ECR repository, for a least-privilege pull policy. */
  readonly repositoryArn: string;
}

/**
 * The image URI for the stack's region: a literal when the region is known at synth time, otherwise
 * a CloudFormation mapping looked up with AWS::Region at deploy time.
 */
export function resolveImage(scope: Construct, framework: InferenceFramework): ResolvedImage {
  const stack = Stack.of(scope);
  const { repository, tag } = IMAGE_REPOSITORIES[framework];
  let account: string;
  if (!Token.isUnresolved(stack.region)) {
    account = DLC_ACCOUNTS[stack.region];
    if (!account) throw new Error(`No Deep Learning Container registry known for region ${stack.region}; add it to DLC_ACCOUNTS in lib/gpu-inference/images.ts`);
  } else {
    const id = 'DlcRegistryAccounts';
    const mapping = (stack.node.tryFindChild(id) as CfnMapping) ?? new CfnMapping(stack, id, { mapping: Object.fromEntries(Object.entries(DLC_ACCOUNTS).map(([r, a]) => [r, { account: a }])) });
    account = mapping.findInMap(stack.region, 'account');
  }
  return {
    imageUri: Fn.join('', [account, '.dkr.ecr.', stack.region, '.', stack.urlSuffix, `/${repository}:${tag}`]),
    repositoryArn: Fn.join('', ['arn:', stack.partition, ':ecr:', stack.region, ':', account, `:repository/${repository}`]),
  };
}
