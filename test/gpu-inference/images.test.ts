import { App, Stack } from 'aws-cdk-lib';
import { imageFor, InferenceFramework, PUBLISHED_IMAGES, resolveImage, supportedRegions } from '../../lib/gpu-inference';
import { configFor } from '../helpers';

/**
 * The published tables, restated independently: the image URI `sagemaker.image_uris.retrieve` returns
 * for each framework in a few regions, written out by hand from the SDK's JSON files. A registry
 * copied wrongly into lib/gpu-inference/images.ts fails here.
 */
const PUBLISHED_URIS: Array<[InferenceFramework, string, string]> = [
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, 'us-east-1', '683313688378.dkr.ecr.us-east-1.amazonaws.com/tei:2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04'],
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, 'eu-west-1', '141502667606.dkr.ecr.eu-west-1.amazonaws.com/tei:2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04'],
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, 'us-west-2', '246618743249.dkr.ecr.us-west-2.amazonaws.com/tei:2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04'],
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, 'eu-central-2', '680994064768.dkr.ecr.eu-central-2.amazonaws.com/tei:2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04'],
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, 'ap-northeast-1', '354813040037.dkr.ecr.ap-northeast-1.amazonaws.com/tei:2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04'],
  // TEI CPU, from the Deep Learning Containers TEI page's image table and its registry accounts.
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU, 'us-east-1', '683313688378.dkr.ecr.us-east-1.amazonaws.com/tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04'],
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU, 'eu-west-1', '141502667606.dkr.ecr.eu-west-1.amazonaws.com/tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04'],
  [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU, 'ap-southeast-2', '783357654285.dkr.ecr.ap-southeast-2.amazonaws.com/tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04'],
  [InferenceFramework.LARGE_MODEL_INFERENCE, 'us-east-1', '763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.33.0-lmi15.0.0-cu128'],
  [InferenceFramework.LARGE_MODEL_INFERENCE, 'ap-northeast-3', '364406365360.dkr.ecr.ap-northeast-3.amazonaws.com/djl-inference:0.33.0-lmi15.0.0-cu128'],
  [InferenceFramework.LARGE_MODEL_INFERENCE, 'il-central-1', '780543022126.dkr.ecr.il-central-1.amazonaws.com/djl-inference:0.33.0-lmi15.0.0-cu128'],
];

describe('inference images come from the tables AWS publishes', () => {
  test.each(PUBLISHED_URIS)('%s in %s is the published URI', (framework, region, uri) => {
    expect(imageFor(framework, region).imageUri).toBe(uri);
  });

  test.each(Object.values(InferenceFramework))('every region of the %s table yields <registry>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>, at synth and through the deploy-time mapping', (framework) => {
    const img = PUBLISHED_IMAGES[framework];
    expect(img.source).toMatch(/sagemaker-python-sdk/);
    expect(Object.keys(img.registries).length).toBeGreaterThan(20);
    for (const [region, account] of Object.entries(img.registries)) {
      expect(account).toMatch(/^\d{12}$/);
      const expected = `${account}.dkr.ecr.${region}.amazonaws.com/${img.repository}:${img.tag}`;
      expect(imageFor(framework, region).imageUri).toBe(expected);
      // pinned stack: a literal
      const pinned = new Stack(new App(), 'S', { env: { account: '111122223333', region } });
      expect(pinned.resolve(resolveImage(pinned, framework).imageUri)).toBe(expected);
    }
    // agnostic stack: a mapping with exactly the published registries, and a rule naming the supported regions
    const agnostic = new Stack(new App(), 'A');
    resolveImage(agnostic, framework);
    const t = JSON.parse(JSON.stringify(agnostic.resolve((agnostic as any)._toCloudFormation())));
    const mapping = Object.values(t.Mappings as Record<string, Record<string, { account: string }>>)[0];
    expect(Object.fromEntries(Object.entries(mapping).map(([r, v]) => [r, v.account]))).toEqual(img.registries);
    const rule = Object.values(t.Rules as Record<string, any>)[0];
    expect(rule.Assertions[0].AssertDescription).toContain(supportedRegions([framework]).join(', '));
  });

  test('TEI is not in the Deep Learning Containers account 763104351884 in any region', () => {
    expect(Object.values(PUBLISHED_IMAGES[InferenceFramework.TEXT_EMBEDDINGS_INFERENCE].registries)).not.toContain('763104351884');
  });

  test('a region without a published image is a synth error naming the supported regions', () => {
    expect(() => imageFor(InferenceFramework.LARGE_MODEL_INFERENCE, 'eu-central-2')).toThrow(/No published LMI image for region eu-central-2\. Supported regions: .*us-east-1/);
    const pinned = new Stack(new App(), 'S', { env: { account: '111122223333', region: 'mx-central-1' } });
    expect(() => resolveImage(pinned, InferenceFramework.TEXT_EMBEDDINGS_INFERENCE)).toThrow(/Supported regions: af-south-1, /);
  });

  test('config validation rejects a region without the stage\'s images before any construct is made', () => {
    expect(() => configFor('pilot', { region: 'mx-central-1' })).toThrow(/region: received "mx-central-1"; AWS does not offer there what this stage uses: .*TEI container image.*Regions that have everything: .*eu-west-1.*Fix: -c region=us-east-1/);
    // Zurich has TEI but not Serverless Inference: the pilot (questions on a serverless endpoint) is told so, production is not.
    const missing = (stage: string) => { try { configFor(stage, { region: 'eu-central-2' }); return ''; } catch (e) { return String((e as Error).message); } };
    expect(missing('pilot')).toMatch(/SageMaker Serverless Inference \(questionEmbedding\.path serverless\)/);
    expect(missing('production')).not.toMatch(/Serverless Inference|TEI container image/);
    expect(() => configFor('production', { region: 'eu-central-2', generationEnabled: true })).toThrow(/AWS does not offer there what this stage uses: .*LMI container image/);
  });
});
