import { CfnMapping, CfnRule, Fn, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';

import { InferenceFramework, PUBLISHED_IMAGES, supportedRegions } from '../config/image-catalog';

// The image tables are config data (the config checks regions against them): kept in lib/config.
export { InferenceFramework, PUBLISHED_IMAGES, SERVERLESS_INFERENCE_REGIONS, SERVERLESS_MEMORY_SIZES_MB, supportedRegions } from '../config/image-catalog';
export type { PublishedImage } from '../config/image-catalog';

export interface ResolvedImage {
  readonly imageUri: string;
  /** ARN of the ECR repository, for a least-privilege pull policy. */
  readonly repositoryArn: string;
}

/** The published image for a concrete region. Throws, naming the supported regions, for any other. */
export function imageFor(framework: InferenceFramework, region: string): ResolvedImage {
  const img = PUBLISHED_IMAGES[framework];
  const account = img.registries[region];
  if (!account) {
    throw new Error(`No published ${framework.toUpperCase()} image for region ${region}. Supported regions: ${supportedRegions([framework]).join(', ')} (${img.source})`);
  }
  return {
    imageUri: `${account}.dkr.ecr.${region}.amazonaws.com/${img.repository}:${img.tag}`,
    repositoryArn: `arn:aws:ecr:${region}:${account}:repository/${img.repository}`,
  };
}

/**
 * The image URI for the stack's region: a literal when the region is known at synth time, otherwise
 * a CloudFormation mapping looked up with AWS::Region at deploy time, guarded by a template rule that
 * stops the deploy in an unsupported region before anything is created, naming the supported ones.
 */
export function resolveImage(scope: Construct, framework: InferenceFramework): ResolvedImage {
  const stack = Stack.of(scope);
  const img = PUBLISHED_IMAGES[framework];
  if (!Token.isUnresolved(stack.region)) return imageFor(framework, stack.region);

  const id = `${framework.toUpperCase()}Registries`;
  const mapping = (stack.node.tryFindChild(id) as CfnMapping) ?? new CfnMapping(stack, id, { mapping: Object.fromEntries(Object.entries(img.registries).map(([r, a]) => [r, { account: a }])) });
  const ruleId = `${framework.toUpperCase()}Region`;
  if (!stack.node.tryFindChild(ruleId)) {
    const regions = supportedRegions([framework]);
    new CfnRule(stack, ruleId, {
      assertions: [{
        assert: Fn.conditionContains(regions, stack.region),
        assertDescription: `No published ${framework.toUpperCase()} container image in this region. Supported regions: ${regions.join(', ')}`,
      }],
    });
  }
  const account = mapping.findInMap(stack.region, 'account');
  return {
    imageUri: Fn.join('', [account, '.dkr.ecr.', stack.region, '.', stack.urlSuffix, `/${img.repository}:${img.tag}`]),
    repositoryArn: Fn.join('', ['arn:', stack.partition, ':ecr:', stack.region, ':', account, `:repository/${img.repository}`]),
  };
}
