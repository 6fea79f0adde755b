// The two parts of the Lambda SDK the worker starts use (self-invoke.ts), imported by name so that the refresh
// bundle keeps only those: a dynamic import('@aws-sdk/client-lambda') takes the package's whole namespace, which
// esbuild cannot tree-shake and V8 compiles at every cold start (as with ssm-sdk.ts).
export { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
