/**
 * What AWS publishes to CloudWatch per namespace and resource kind: the metric names an alarm or a
 * dashboard of this project may watch, and the dimension sets each is published under. A metric
 * with another dimension set is a different metric, which nothing emits. Each row cites its page.
 */
export interface PublishedMetrics {
  readonly namespace: string;
  /** The resource kind the row is about (an endpoint with a model variant and one with inference components publish differently). */
  readonly kind: string;
  readonly metrics: readonly string[];
  /** Each set exactly as published (a metric is identified by its namespace, name and all its dimensions). */
  readonly dimensionSets: ReadonlyArray<readonly string[]>;
  readonly doc: string;
}

const SAGEMAKER_INVOCATIONS = ['Invocations', 'Invocation4XXErrors', 'Invocation5XXErrors', 'InvocationModelErrors', 'ModelLatency', 'OverheadLatency', 'InvocationsPerInstance', 'ModelSetupTime'];

export const SAGEMAKER_KIND = { modelVariant: 'endpoint with a model variant', inferenceComponents: 'endpoint with inference components' } as const;

export const PUBLISHED_METRICS: readonly PublishedMetrics[] = [
  {
    namespace: 'AWS/SageMaker', kind: SAGEMAKER_KIND.modelVariant, metrics: SAGEMAKER_INVOCATIONS, dimensionSets: [['EndpointName', 'VariantName']],
    doc: 'https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html (Endpoint invocation metrics: EndpointName, VariantName)',
  },
  {
    // The same page lists InferenceComponentName as its own dimension set for endpoints that host
    // inference components; a probe against such an endpoint saw no EndpointName on them (issue 21).
    namespace: 'AWS/SageMaker', kind: SAGEMAKER_KIND.inferenceComponents,
    metrics: [...SAGEMAKER_INVOCATIONS.filter((m) => m !== 'InvocationsPerInstance'), 'InvocationsPerCopy', 'NoCapacityInvocationFailures'],
    dimensionSets: [['InferenceComponentName']],
    doc: 'https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html (InferenceComponentName); NoCapacityInvocationFailures: https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html',
  },
  {
    namespace: '/aws/sagemaker/Endpoints', kind: 'endpoint instances', metrics: ['CPUUtilization', 'MemoryUtilization', 'DiskUtilization', 'GPUUtilization', 'GPUMemoryUtilization'],
    dimensionSets: [['EndpointName', 'VariantName']],
    doc: 'https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html (Endpoint instance metrics, namespace /aws/sagemaker/Endpoints: EndpointName, VariantName)',
  },
  {
    namespace: 'AWS/States', kind: 'state machine (execution metrics)',
    metrics: ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsAborted', 'ExecutionsTimedOut', 'ExecutionThrottled', 'ExecutionTime', 'ExecutionsRedriven'],
    dimensionSets: [['StateMachineArn']],
    doc: 'https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html (Execution metrics: StateMachineArn)',
  },
  {
    namespace: 'AWS/SQS', kind: 'queue',
    metrics: ['ApproximateAgeOfOldestMessage', 'ApproximateNumberOfMessagesDelayed', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible', 'NumberOfEmptyReceives', 'NumberOfMessagesDeleted', 'NumberOfMessagesReceived', 'NumberOfMessagesSent', 'SentMessageSize'],
    dimensionSets: [['QueueName']],
    doc: 'https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html (the only dimension is QueueName)',
  },
  {
    namespace: 'AWS/RDS', kind: 'DB instance',
    metrics: ['CPUUtilization', 'DatabaseConnections', 'FreeStorageSpace', 'FreeableMemory', 'ReadLatency', 'WriteLatency', 'ReadIOPS', 'WriteIOPS', 'ReadThroughput', 'WriteThroughput', 'DiskQueueDepth', 'SwapUsage', 'ReplicaLag', 'BurstBalance', 'CPUCreditBalance', 'CPUCreditUsage'],
    dimensionSets: [['DBInstanceIdentifier']],
    doc: 'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html and dimensions.html (DBInstanceIdentifier)',
  },
  {
    // Aurora: instance metrics aggregated per cluster, and the cluster's own (VolumeBytesUsed); Serverless v2 capacity.
    namespace: 'AWS/RDS', kind: 'Aurora DB cluster',
    metrics: ['CPUUtilization', 'DatabaseConnections', 'FreeableMemory', 'ReadLatency', 'WriteLatency', 'CommitLatency', 'CommitThroughput', 'Deadlocks', 'ServerlessDatabaseCapacity', 'ACUUtilization', 'VolumeBytesUsed', 'VolumeReadIOPs', 'VolumeWriteIOPs'],
    dimensionSets: [['DBClusterIdentifier']],
    doc: 'https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html (cluster-level and instance-level metrics, DBClusterIdentifier) and aurora-serverless-v2.setting-capacity.html (ServerlessDatabaseCapacity, ACUUtilization)',
  },
  {
    namespace: 'AWS/ApiGateway', kind: 'REST API',
    metrics: ['4XXError', '5XXError', 'CacheHitCount', 'CacheMissCount', 'Count', 'IntegrationLatency', 'Latency'],
    dimensionSets: [['ApiName'], ['ApiName', 'Stage'], ['ApiName', 'Method', 'Resource', 'Stage']],
    doc: 'https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html (ApiName; ApiName, Stage; ApiName, Method, Resource, Stage)',
  },
  {
    namespace: 'AWS/Lambda', kind: 'function',
    metrics: ['Invocations', 'Errors', 'Throttles', 'Duration', 'ConcurrentExecutions', 'DeadLetterErrors', 'DestinationDeliveryFailures', 'AsyncEventAge', 'AsyncEventsDropped', 'IteratorAge'],
    dimensionSets: [['FunctionName'], ['FunctionName', 'Resource'], ['FunctionName', 'ExecutedVersion']],
    doc: 'https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html (dimensions FunctionName, Resource, ExecutedVersion)',
  },
  {
    namespace: 'AWS/Bedrock', kind: 'model invocation',
    metrics: ['Invocations', 'InvocationLatency', 'InvocationClientErrors', 'InvocationServerErrors', 'InvocationThrottles', 'InputTokenCount', 'OutputTokenCount'],
    dimensionSets: [['ModelId']],
    doc: 'https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring.html (runtime metrics, dimension ModelId)',
  },
  {
    namespace: 'AWS/WAFV2', kind: 'web ACL', metrics: ['AllowedRequests', 'BlockedRequests', 'CountedRequests', 'PassedRequests'],
    dimensionSets: [['Region', 'Rule', 'WebACL']],
    doc: 'https://docs.aws.amazon.com/waf/latest/developerguide/waf-metrics.html (Region, Rule, WebACL)',
  },
];
