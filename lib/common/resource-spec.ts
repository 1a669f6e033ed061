import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';

type SpecDatabase = ReturnType<typeof loadAwsServiceSpecSync>;
/** The fields of a resource model this project reads. */
export interface ResourceModel {
  readonly properties: Record<string, { readonly causesReplacement?: string }>;
  readonly primaryIdentifier?: string[];
  readonly tagInformation?: { readonly tagPropertyName: string; readonly variant: string };
}

let database: SpecDatabase | undefined;

/**
 * AWS's resource specification (the CloudFormation registry schemas, as `@aws-cdk/aws-service-spec`
 * ships them) for one resource type, or undefined for a type it does not know (custom resources).
 * Loaded once per process: the database is several MB.
 */
export function resourceModel(cloudFormationType: string): ResourceModel | undefined {
  database ??= loadAwsServiceSpecSync();
  return database.lookup('resource', 'cloudFormationType', 'equals', cloudFormationType)[0] as ResourceModel | undefined;
}
