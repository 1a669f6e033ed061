import { Binding } from './recorded-calls';

/**
 * What the names the Python tests use stand for in the synthesized app. The tests' moto bucket
 * `docai-intake` plays the intake bucket, and so on (see lambda/tests/pipeline_worker.py,
 * lambda/tests/test_ingestion.py, lambda/tests/test_migrations_handler.py, lambda/tests/test_bootstrap_handler.py, lambda/tests/query_env.py, lambda/tests/gateway_env.py). Every construct path
 * must exist in the assembly: a binding that points nowhere fails the contract.
 */
export const TEST_BINDINGS: readonly Binding[] = [
  { testValue: 'docai-intake', stack: '-data', path: 'Intake/Bucket', type: 'AWS::S3::Bucket' },
  { testValue: 'docai-work', stack: '-data', path: 'Work/Bucket', type: 'AWS::S3::Bucket' },
  { testValue: 'arn:aws:states:us-east-1:123456789012:stateMachine:pipeline', stack: '-app', path: 'Pipeline/StateMachine', type: 'AWS::StepFunctions::StateMachine' },
  { testValue: 'docai-test-embed', stack: '-inference', path: 'Embedding/Endpoint', type: 'AWS::SageMaker::Endpoint' },
  // The question endpoint: the pilot's serverless one, production's GPU one (questionEmbedding.path).
  { testValue: 'docai-test-question-embed', stack: '-inference', path: 'the endpoint the query function\'s EMBEDDING_ENDPOINT names', type: 'AWS::SageMaker::Endpoint',
    namedBy: { handler: 'query_handler.handler', variable: 'EMBEDDING_ENDPOINT' } },
  { testValue: 'docai-test-db.cluster.local', stack: '-data', path: 'VectorDb/Cluster', type: 'AWS::RDS::DBCluster' },
  // The Data API's cluster ARN and the cluster's RDS-managed master secret (an attribute of the cluster:
  // MasterUserSecret), lambda/tests/test_bootstrap_handler.py.
  { testValue: 'arn:aws:rds:us-east-1:123456789012:cluster:docai-test-db', stack: '-data', path: 'VectorDb/Cluster', type: 'AWS::RDS::DBCluster' },
  { testValue: 'rds!cluster-docai-test-db', stack: '-data', path: 'VectorDb/Cluster', type: 'AWS::RDS::DBCluster' },
  { testValue: 'docai-test-gateway', stack: '-data', path: 'Gateway/Table', type: 'AWS::DynamoDB::Table' },
  { testValue: '/docai/test/prompts/answer', stack: '-data', path: 'Gateway/PromptAnswer', type: 'AWS::SSM::Parameter' },
  { testValue: 'gr0test1', stack: '-data', path: 'Gateway/Guardrail', type: 'AWS::Bedrock::Guardrail' },
  { testValue: 'docai-test-audit', stack: '-data', path: 'Audit/Bucket', type: 'AWS::S3::Bucket' },
  { testValue: 'docai-test-retrieve', stack: '-app', path: 'Query/Retrieve', type: 'AWS::Lambda::Function' },
];
