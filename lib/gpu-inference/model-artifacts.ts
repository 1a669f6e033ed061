import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
// `import = require`: a default import of JSON needs esModuleInterop, which consumers and jsii may not set.
import TABLE = require('./model-artifacts.json');

/** One model of lib/gpu-inference/model-artifacts.json: the Hub commit its files come from and their SHA-256 (null until recorded). */
export interface PinnedModelFile {
  readonly path: string;
  /** @default - not recorded yet (stage_model.py --record) */
  readonly sha256?: string;
}

export interface PinnedModel {
  readonly revision: string;
  readonly files: PinnedModelFile[];
}

/** An archive in S3. */
export interface StagedModelLocation {
  readonly bucket: s3.IBucket;
  readonly key: string;
}

/** Where an endpoint loads a pinned model from: this account's bucket, staged by scripts/stage_model.py. */
export interface StagedModel {
  readonly bucket: s3.IBucket;
  /** Key of the archive (`models/<model id>/<revision>/model.tar.gz`). */
  readonly key: string;
  readonly revision: string;
}

/**
 * Model artifacts in this account's bucket instead of a download from the Hugging Face Hub at start:
 * the endpoint then runs with network isolation (no inbound or outbound network access for the
 * container; SageMaker copies the archive into /opt/ml/model before it starts). The bucket
 * `docai-models-<account>-<region>` is created and filled by scripts/stage_model.py from the pinned
 * revision, checked against the table's checksums; the deploy preflight refuses a deploy without it.
 */
export class ModelArtifacts {
  /** The table's entry for `modelId`, or undefined. */
  public static pinned(modelId: string): PinnedModel | undefined {
    return (TABLE.models as unknown as Record<string, PinnedModel>)[modelId];
  }

  /** The staged archive of `modelId` for the stack's account and region; throws, naming the table, for a model it does not pin. */
  public static staged(scope: Construct, id: string, modelId: string): StagedModel {
    const entry = ModelArtifacts.pinned(modelId);
    if (!entry) {
      throw new Error(`ModelArtifacts: model "${modelId}" is not in lib/gpu-inference/model-artifacts.json, so its endpoint has no pinned revision or checksums. Pinned models: ` +
        `${Object.keys(TABLE.models).join(', ')}. Fix: add the model with the Hub commit to pin, then python3 scripts/stage_model.py --model ${modelId} --record (see the table's comment)`);
    }
    const stack = Stack.of(scope);
    const bucket = s3.Bucket.fromBucketName(scope, id, `docai-models-${stack.account}-${stack.region}`);
    return { bucket, key: `models/${modelId}/${entry.revision}/model.tar.gz`, revision: entry.revision };
  }

  /**
   * What an execution role needs to load a staged archive: GetObject on that one key, and ListBucket on
   * its bucket for that key only (SageMaker CreateModel execution role permissions:
   * https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms).
   */
  public static readStatements(model: StagedModelLocation): iam.PolicyStatement[] {
    return [
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [model.bucket.arnForObjects(model.key)] }),
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [model.bucket.bucketArn], conditions: { StringEquals: { 's3:prefix': model.key } } }),
    ];
  }
}
