#!/usr/bin/env node
import { App, Aspects } from 'aws-cdk-lib';
import { LambdaBundling } from 'docai-blueprint';
import { addRulePacks, InlinePoliciesToManaged } from 'docai-blueprint/blueprint';
import { ConsumerStack } from '../lib/consumer-stack';

// Without Docker, synth skips Lambda bundling (and deploy is refused): the switch bin/app.ts uses too.
const app = new App(LambdaBundling.appProps());
// Every rule pack the blueprint runs (cdk-nag's five, AWS Control Tower's proactive controls): the synth fails on a finding.
addRulePacks(app);
// HIPAA, NIST 800-53 and PCI DSS want managed policies: grants become customer-managed policies.
Aspects.of(app).add(new InlinePoliciesToManaged());
new ConsumerStack(app, 'DocaiConsumer');
app.synth();
