import { StageConfig } from './stage-config';

/** An interface VPC endpoint the stage needs: the service's short name (`com.amazonaws.<region>.<service>`) and who calls it. */
export interface InterfaceEndpointUse {
  readonly service: string;
  readonly usedBy: string;
}

/**
 * The stage's interface endpoints, with who needs each: the data stack creates them and the cost
 * estimate counts them, so both read this one list. None by default: the functions in the VPC call
 * no AWS API (the migrations sign an IAM database token locally; RDS rotates the managed master
 * secret without a function of ours; the bootstrap reads it from outside the VPC for the Data API).
 * `privateLinkForAwsApis` keeps Secrets Manager for teams that want every AWS call on PrivateLink.
 */
export function interfaceEndpointsOf(c: StageConfig): InterfaceEndpointUse[] {
  return c.network.privateLinkForAwsApis
    ? [
        { service: 'secretsmanager', usedBy: 'AWS API calls kept on PrivateLink (no function of the stage needs it)' },
        { service: 'states', usedBy: 'ingestion' },
        { service: 'sagemaker.runtime', usedBy: 'Embed' },
      ]
    : [];
}
