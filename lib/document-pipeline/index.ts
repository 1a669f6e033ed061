export * from './document-pipeline';
export * from './work-bucket';
