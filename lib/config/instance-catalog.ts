/**
 * The instance types this project knows, per service, with the facts that shape the design
 * (GPU or not, NVMe instance storage that refuses a KMS volume key) and their list price.
 *
 * Validation and the cost estimate read the same table, so an instance type the config accepts
 * always has a price, and an unknown one is an error in both places, never a silent zero.
 *
 * Prices: us-east-1 on-demand list prices collected 2026-11 (see docs/prices.md). Prices change;
 * every figure derived from them is an estimate.
 */

export type PriceConfidence = 'good' | 'weak';

export interface SageMakerInstanceType {
  /** e.g. `ml.g5.xlarge` */
  readonly name: string;
  /** Number of NVIDIA GPUs (0 for CPU and Inferentia instances). */
  readonly gpus: number;
  /** GPU memory per instance, GiB (0 when there is no GPU). */
  readonly gpuMemoryGiB: number;
  /**
   * Instance-store (NVMe) volumes only: SageMaker rejects `KmsKeyId` in the endpoint config
   * for these, because there is no EBS volume to encrypt with it (instance storage is
   * encrypted at the hardware level by AWS).
   */
  readonly nvmeInstanceStorage: boolean;
  /** Hosting price, USD per instance-hour. */
  readonly usdPerHour: number;
  readonly priceConfidence: PriceConfidence;
}

export interface RdsInstanceClass {
  /** e.g. `db.t4g.micro` */
  readonly name: string;
  /** Single-AZ price, USD per hour. */
  readonly usdPerHourSingleAz: number;
  /** Multi-AZ (one standby) price, USD per hour. */
  readonly usdPerHourMultiAz: number;
  readonly priceConfidence: PriceConfidence;
  /** Burstable classes (t*) accumulate CPU credits: alarms watch credit balance too. */
  readonly burstable: boolean;
}

export const SAGEMAKER_INSTANCE_TYPES: Record<string, SageMakerInstanceType> = Object.fromEntries(
  (
    [
      // name, gpus, gpuMemoryGiB, nvme, usd/h, confidence
      ['ml.g5.xlarge', 1, 24, true, 1.408, 'good'],
      ['ml.g5.2xlarge', 1, 24, true, 1.515, 'good'],
      ['ml.g6.xlarge', 1, 24, true, 1.1267, 'weak'],
      ['ml.g6e.xlarge', 1, 48, true, 2.61, 'weak'],
      ['ml.inf2.xlarge', 0, 0, false, 0.76, 'weak'],
      ['ml.c7i.xlarge', 0, 0, false, 0.21, 'weak'],
    ] as const
  ).map(([name, gpus, gpuMemoryGiB, nvmeInstanceStorage, usdPerHour, priceConfidence]) => [
    name,
    { name, gpus, gpuMemoryGiB, nvmeInstanceStorage, usdPerHour, priceConfidence },
  ]),
);

export const RDS_INSTANCE_CLASSES: Record<string, RdsInstanceClass> = Object.fromEntries(
  (
    [
      ['db.t4g.micro', 0.016, 0.032, 'good', true],
      ['db.t4g.medium', 0.065, 0.13, 'good', true],
      ['db.r6g.large', 0.225, 0.45, 'good', false],
    ] as const
  ).map(([name, usdPerHourSingleAz, usdPerHourMultiAz, priceConfidence, burstable]) => [
    name,
    { name, usdPerHourSingleAz, usdPerHourMultiAz, priceConfidence, burstable },
  ]),
);
