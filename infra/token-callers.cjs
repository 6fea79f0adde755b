// The `token` function's resource policy (docs/operations.md "Who may call token"): one lambda:InvokeFunction
// permission per role ARN in the stage param tokenCallerRoleArns (comma-separated; empty = none). A role in
// another account can invoke only through these; inside this account IAM also admits any principal whose own
// policy allows the invoke, which a resource policy cannot take away (see the docs for the guard rail).
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

module.exports = async ({ resolveVariable }) => {
  const raw = String((await resolveVariable('param:tokenCallerRoleArns')) ?? '');
  const arns = raw
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean);
  const bad = arns.filter((arn) => !ROLE_ARN.test(arn));
  if (bad.length > 0) throw new Error(`tokenCallerRoleArns must be IAM role ARNs (arn:aws:iam::<account>:role/<name>): ${bad.join(', ')}`);
  const Resources = {};
  arns.forEach((arn, i) => {
    Resources[`TokenCallerPermission${i + 1}`] = {
      Type: 'AWS::Lambda::Permission',
      Properties: { FunctionName: { 'Fn::GetAtt': ['TokenLambdaFunction', 'Arn'] }, Action: 'lambda:InvokeFunction', Principal: arn },
    };
  });
  return { Resources };
};
