export * from './document-pipeline';
export * from './work-bucket';
export * from './review-channel';
