import { Duration } from 'aws-cdk-lib';
import { GatewayConfig, QueryConfig } from '../config';
import { GatewayGuardrailOptions, GatewayRouting, GuardrailFilterStrength, ModelProvider, PersonalDataAction } from '../model-gateway';
import { AuditLockMode } from '../query-api/audit-store';
import { QueryAuthorization } from '../query-api/query-api';

/**
 * The stage config's `gateway` section as the construct's own props (the construct never sees
 * the config). Not exported from lib/stacks: it is the app's mapping, not library API.
 */
export function gatewayRouting(g: GatewayConfig): GatewayRouting {
  const providers = { 'bedrock': ModelProvider.BEDROCK, 'sagemaker-lmi': ModelProvider.SAGEMAKER_LMI } as const;
  return {
    models: Object.fromEntries(Object.entries(g.models).map(([name, m]) => [name, { ...m, provider: providers[m.provider] }])),
    workflows: Object.fromEntries(Object.entries(g.workflows).map(([name, w]) => [name, { ...w, models: [...w.models] }])),
    timeout: Duration.seconds(g.timeoutSeconds),
    retry: { maxAttempts: g.retry.maxAttempts, baseDelay: Duration.millis(g.retry.baseDelayMs), maxDelay: Duration.millis(g.retry.maxDelayMs), notReadyWait: Duration.seconds(g.retry.notReadyWaitSeconds) },
    breaker: { failureThreshold: g.breaker.failureThreshold, openDuration: Duration.seconds(g.breaker.openSeconds) },
  };
}

export function gatewayGuardrail(g: GatewayConfig): GatewayGuardrailOptions {
  const strengths = { LOW: GuardrailFilterStrength.LOW, MEDIUM: GuardrailFilterStrength.MEDIUM, HIGH: GuardrailFilterStrength.HIGH } as const;
  const personal = { ANONYMIZE: PersonalDataAction.ANONYMIZE, BLOCK: PersonalDataAction.BLOCK } as const;
  return { promptAttackStrength: strengths[g.guardrail.promptAttackStrength], personalData: personal[g.guardrail.personalData] };
}

export function auditLockMode(mode: QueryConfig['auditLockMode']): AuditLockMode {
  return { GOVERNANCE: AuditLockMode.GOVERNANCE, COMPLIANCE: AuditLockMode.COMPLIANCE }[mode];
}

export function queryAuthorization(a: QueryConfig['authorization']): QueryAuthorization {
  return { cognito: QueryAuthorization.COGNITO, iam: QueryAuthorization.IAM }[a];
}
