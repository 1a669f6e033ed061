import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { tagWorkload } from '../app/tags';
import { StageConfig } from '../config';
import { DataStack } from './data-stack';

export interface AppStackProps extends StackProps {
  readonly config: StageConfig;
  readonly data: DataStack;
}

/** The stateless side: functions, the pipeline, migrations. Safe to destroy and recreate. */
export class AppStack extends Stack {
  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    tagWorkload(this, 'pipeline');
  }
}
