import { RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AlarmTopic } from '../alarm-topic';
import { tagWorkload } from '../app/tags';
import { StageConfig } from '../config';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
}

/**
 * The stateful side of a stage: keys, buckets, queues that hold undelivered events, the database,
 * and the alarm topic (its e-mail subscriptions must be confirmed by a person, so it is not
 * recreated casually). Everything else can be destroyed and redeployed freely.
 */
export class DataStack extends Stack {
  public readonly alarms: AlarmTopic;
  /** RETAIN in stages that keep data, DESTROY in stages that do not. */
  public readonly dataRemovalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: props.config.terminationProtection });
    const c = props.config;
    this.dataRemovalPolicy = c.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    tagWorkload(this, 'platform');

    this.alarms = new AlarmTopic(this, 'Alarms', { email: c.alarmEmail, removalPolicy: this.dataRemovalPolicy });
    tagWorkload(this.alarms, 'observability');
  }
}
