/**
 * The published inference container images and where SageMaker Serverless Inference runs: data the
 * config validates a stage against (region availability, serverless memory sizes) and
 * lib/gpu-inference resolves image URIs from. Kept here, under the config, so reading a config loads
 * no construct.
 */
/**
 * Inference container images, resolved in one place (lib/gpu-inference/images.ts) from the registry tables AWS publishes.
 *
 * Each framework's images live in a different ECR registry account per region, and the accounts of
 * one framework are not those of another (TEI is not in the Deep Learning Containers account
 * 763104351884). The tables below are copied from the SageMaker Python SDK's image URI config, which
 * is what `sagemaker.image_uris.retrieve` uses:
 * - TEI: `src/sagemaker/image_uri_config/huggingface-tei.json`, version 1.8.2
 *   (https://github.com/aws/sagemaker-python-sdk/blob/master/src/sagemaker/image_uri_config/huggingface-tei.json)
 * - LMI: `src/sagemaker/image_uri_config/djl-lmi.json` (the registries, identical for every LMI
 *   version there), with the LMI 15 tag from the Deep Learning Containers release table
 *   (https://github.com/aws/deep-learning-containers/blob/master/available_images.md, "DJL LMI").
 * - TEI CPU (questions on SageMaker Serverless Inference, which has no GPU): repository `tei-cpu`, tag
 *   and per-region registries from the Deep Learning Containers TEI page
 *   (https://github.com/aws/deep-learning-containers/blob/master/docs/tei/index.md, "Images": TEI 1.8.2
 *   CPU `tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04`, "the per-region registry account IDs"); the
 *   SDK's `src/sagemaker/image_uri_config/huggingface-tei-cpu.json` lists the same registries for its
 *   versions up to 1.7.0. Copied on 2026-12-02.
 * Copied on 2026-11-22. Only the `aws` partition's regions are listed; China, GovCloud and ISO
 * regions use other partitions and are not supported by this project.
 * To update: take the new version's `registries` and tag from those files, and keep this header's date.
 */
export enum InferenceFramework {
  /** Hugging Face Text Embeddings Inference, GPU build (serves embedding models, `/embed`). */
  TEXT_EMBEDDINGS_INFERENCE = 'tei',
  /** Hugging Face Text Embeddings Inference, CPU build (the same TEI release as the GPU build, float32). */
  TEXT_EMBEDDINGS_INFERENCE_CPU = 'tei-cpu',
  /** Large Model Inference (DJL Serving with vLLM), for generation models. */
  LARGE_MODEL_INFERENCE = 'lmi',
}

export interface PublishedImage {
  readonly repository: string;
  readonly tag: string;
  readonly gpu: boolean;
  /** Region -> ECR registry account, as published. */
  readonly registries: Readonly<Record<string, string>>;
  readonly source: string;
  readonly retrieved: string;
}

const TEI_REGISTRIES: Readonly<Record<string, string>> = {
  'af-south-1': '510948584623', 'ap-east-1': '651117190479', 'ap-northeast-1': '354813040037', 'ap-northeast-2': '366743142698',
  'ap-northeast-3': '867004704886', 'ap-south-1': '720646828776', 'ap-south-2': '628508329040', 'ap-southeast-1': '121021644041',
  'ap-southeast-2': '783357654285', 'ap-southeast-3': '951798379941', 'ap-southeast-4': '106583098589', 'ca-central-1': '341280168497',
  'ca-west-1': '190319476487', 'eu-central-1': '492215442770', 'eu-central-2': '680994064768', 'eu-north-1': '662702820516',
  'eu-south-1': '978288397137', 'eu-south-2': '104374241257', 'eu-west-1': '141502667606', 'eu-west-2': '764974769150',
  'eu-west-3': '659782779980', 'il-central-1': '898809789911', 'me-central-1': '272398656194', 'me-south-1': '801668240914',
  'sa-east-1': '737474898029', 'us-east-1': '683313688378', 'us-east-2': '257758044811', 'us-west-1': '746614075791',
  'us-west-2': '246618743249',
};

export const PUBLISHED_IMAGES: Record<InferenceFramework, PublishedImage> = {
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE]: {
    repository: 'tei',
    // tag = <tag_prefix>-gpu-<py_version>-<container_version.gpu> (the SDK's format for huggingface-tei)
    tag: '2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04',
    gpu: true,
    registries: TEI_REGISTRIES,
    source: 'aws/sagemaker-python-sdk src/sagemaker/image_uri_config/huggingface-tei.json, inference.versions["1.8.2"]',
    retrieved: '2026-11-22',
  },
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU]: {
    repository: 'tei-cpu',
    // tag = <tag_prefix>-cpu-<py_version>-<container_version.cpu>: the GPU build's TEI release (1.8.2), so
    // both paths tokenize, pool and normalize with the same code.
    tag: '2.0.1-tei1.8.2-cpu-py310-ubuntu22.04',
    gpu: false,
    // The DLC TEI page lists one registry account per region for both builds, the same accounts as the GPU table.
    registries: TEI_REGISTRIES,
    source: 'aws/deep-learning-containers docs/tei/index.md (TEI 1.8.2 CPU tag and per-region registries); aws/sagemaker-python-sdk src/sagemaker/image_uri_config/huggingface-tei-cpu.json (the same registries, versions to 1.7.0)',
    retrieved: '2026-12-02',
  },
  [InferenceFramework.LARGE_MODEL_INFERENCE]: {
    repository: 'djl-inference',
    tag: '0.33.0-lmi15.0.0-cu128',
    gpu: true,
    registries: {
      'af-south-1': '626614931356', 'il-central-1': '780543022126', 'ap-east-1': '871362719292', 'ap-northeast-1': '763104351884',
      'ap-northeast-2': '763104351884', 'ap-northeast-3': '364406365360', 'ap-south-1': '763104351884', 'ap-southeast-1': '763104351884',
      'ap-southeast-2': '763104351884', 'ap-southeast-3': '907027046896', 'ca-central-1': '763104351884', 'eu-central-1': '763104351884',
      'eu-north-1': '763104351884', 'eu-west-1': '763104351884', 'eu-west-2': '763104351884', 'eu-west-3': '763104351884',
      'eu-south-1': '692866216735', 'me-south-1': '217643126080', 'me-central-1': '914824155844', 'sa-east-1': '763104351884',
      'us-east-1': '763104351884', 'us-east-2': '763104351884', 'us-west-1': '763104351884', 'us-west-2': '763104351884',
      'ca-west-1': '204538143572',
    },
    source: 'aws/sagemaker-python-sdk src/sagemaker/image_uri_config/djl-lmi.json (registries); aws/deep-learning-containers available_images.md (tag, LMI 15)',
    retrieved: '2026-11-22',
  },
};

/**
 * Regions where SageMaker Serverless Inference is offered, from the Serverless Inference page
 * ("Serverless Inference is available in 21 AWS Regions",
 * https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html), copied 2026-12-02.
 * A region AWS adds later is refused until it is added here.
 */
export const SERVERLESS_INFERENCE_REGIONS: readonly string[] = [
  'af-south-1', 'ap-east-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-southeast-1', 'ap-southeast-2',
  'ca-central-1', 'eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'me-south-1', 'sa-east-1',
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
];

/** Memory sizes a serverless variant accepts (ProductionVariantServerlessConfig.MemorySizeInMB). */
export const SERVERLESS_MEMORY_SIZES_MB: readonly number[] = [1024, 2048, 3072, 4096, 5120, 6144];

/** Regions where every framework in `frameworks` has a published image. */
export function supportedRegions(frameworks: readonly InferenceFramework[]): string[] {
  return Object.keys(PUBLISHED_IMAGES[frameworks[0]].registries)
    .filter((r) => frameworks.every((f) => PUBLISHED_IMAGES[f].registries[r] !== undefined))
    .sort();
}
