// Client options for a local stand-in of an AWS service (DynamoDB Local, `npm start`'s event bus, a local Lambda
// endpoint): its endpoint, a region, and placeholder credentials when the environment holds none (the stand-ins
// accept any key, and newcomers are spared a credentials step). Nothing at all when no endpoint is set: in AWS
// the SDK takes region and credentials from the Lambda environment.
export const localEndpointOptions = (endpoint: string | undefined, region: string | undefined, credentialsInEnv: boolean) =>
  endpoint === undefined
    ? {}
    : { endpoint, region: region ?? 'local', ...(credentialsInEnv ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }) };
