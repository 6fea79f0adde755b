// The two parts of the SSM SDK the secrets fetch uses, imported by name so that a bundle keeps only those. A dynamic
// import('@aws-sdk/client-ssm') takes the package's whole namespace (every command, error and schema), which esbuild
// cannot tree-shake and V8 compiles at every cold start, although it runs only on the first secrets fetch.
export { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
