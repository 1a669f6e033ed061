import { StageConfig } from './stage-config';

/** An interface VPC endpoint the stage needs: the service's short name (`com.amazonaws.<region>.<service>`) and who calls it. */
export interface InterfaceEndpointUse {
  readonly service: string;
  readonly usedBy: string;
}

/**
 * The stage's interface endpoints, with who needs each: the data stack creates them and the cost
 * estimate counts them, so both read this one list.
 */
export function interfaceEndpointsOf(c: StageConfig): InterfaceEndpointUse[] {
  return [
    { service: 'secretsmanager', usedBy: 'migrations, secret rotation' },
    ...(c.network.privateLinkForAwsApis
      ? [
          { service: 'states', usedBy: 'ingestion' },
          { service: 'sagemaker.runtime', usedBy: 'Embed' },
        ]
      : []),
  ];
}
