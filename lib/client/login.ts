// A typed client for the operator's own services (docs/on-behalf.md): the JS-SDK requests of the `token`
// function and the `login` function, by direct Lambda invoke. The caller builds the LambdaClient (its own
// credentials and region) and grants itself lambda:InvokeFunction on both functions (outputs TokenFunctionArn,
// LoginFunctionArn). Expected failures arrive as OnBehalfServiceError with the function's `type`; a function
// that failed outright is OnBehalfInvokeError.
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { JsapiConfig } from '../on-behalf/jsapi.ts';
import type { UserToken } from '../on-behalf/oauth.ts';
import type { MiniProgramSession, OAuthUserInfo } from '../wechat/on-behalf-client.ts';

export interface OnBehalfClientOptions {
  readonly lambda: Pick<LambdaClient, 'send'>;
  /** Name or ARN of the `token` function (output TokenFunctionArn). */
  readonly tokenFunction: string;
  /** Name or ARN of the `login` function (output LoginFunctionArn). */
  readonly loginFunction: string;
}

/** The function answered `{"error":{"type","message","errcode"?}}`: e.g. invalid_code, quota_exceeded, not_found, bad_request. */
export class OnBehalfServiceError extends Error {
  readonly type: string;
  readonly errcode: number | undefined;
  constructor(type: string, message: string, errcode?: number) {
    super(`${type}: ${message}`);
    this.name = 'OnBehalfServiceError';
    this.type = type;
    this.errcode = errcode;
  }
}

/** The invoke itself failed (the function threw, timed out, or answered something that is not JSON). */
export class OnBehalfInvokeError extends Error {
  readonly functionName: string;
  constructor(functionName: string, message: string) {
    super(`${functionName}: ${message}`);
    this.name = 'OnBehalfInvokeError';
    this.functionName = functionName;
  }
}

export interface OnBehalfClient {
  /** `{ticket, expiresAt}` of an official account's jsapi_ticket (cached centrally; never fetch one per page view). */
  jsapiTicket(authorizerAppid: string): Promise<{ ticket: string; expiresAt: number }>;
  /** What the page at `url` (location.href; the fragment is dropped) passes to wx.config, with its jsApiList. */
  jsapiConfig(authorizerAppid: string, url: string): Promise<JsapiConfig>;
  /** The mini-program user behind a wx.login() code. Keep the session key server-side. */
  miniProgramLogin(authorizerAppid: string, jsCode: string): Promise<MiniProgramSession>;
  /** The web-OAuth user behind the code WeChat appended to redirect_uri. */
  oauthLogin(authorizerAppid: string, oauthCode: string): Promise<UserToken>;
  oauthRefresh(authorizerAppid: string, oauthRefreshToken: string): Promise<UserToken>;
  oauthUserinfo(authorizerAppid: string, user: { accessToken: string; openid: string }): Promise<OAuthUserInfo>;
}

const decode = (functionName: string, payload: Uint8Array | undefined): unknown => {
  const text = payload ? new TextDecoder().decode(payload) : '';
  try {
    return JSON.parse(text);
  } catch {
    throw new OnBehalfInvokeError(functionName, 'the answer is not JSON');
  }
};

export const createOnBehalfClient = (options: OnBehalfClientOptions): OnBehalfClient => {
  const invoke = async <T>(functionName: string, payload: object): Promise<T> => {
    const out = await options.lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
    );
    const answer = decode(functionName, out.Payload);
    if (out.FunctionError) {
      const message = (answer as { errorMessage?: unknown } | null)?.errorMessage;
      throw new OnBehalfInvokeError(functionName, `${out.FunctionError}: ${typeof message === 'string' ? message : 'function error'}`);
    }
    const error = (answer as { error?: { type?: unknown; message?: unknown; errcode?: unknown } } | null)?.error;
    if (error) {
      throw new OnBehalfServiceError(String(error.type), String(error.message), typeof error.errcode === 'number' ? error.errcode : undefined);
    }
    return answer as T;
  };
  const token = <T>(payload: object) => invoke<T>(options.tokenFunction, payload);
  const login = <T>(payload: object) => invoke<T>(options.loginFunction, payload);
  return {
    jsapiTicket: (authorizerAppid) => token({ authorizerAppid, ticket: 'jsapi' }),
    jsapiConfig: (authorizerAppid, url) => token({ authorizerAppid, jsapiSignature: { url } }),
    miniProgramLogin: (authorizerAppid, jsCode) => login({ authorizerAppid, jsCode }),
    oauthLogin: (authorizerAppid, oauthCode) => login({ authorizerAppid, oauthCode }),
    oauthRefresh: (authorizerAppid, oauthRefreshToken) => login({ authorizerAppid, oauthRefreshToken }),
    oauthUserinfo: (authorizerAppid, user) => login({ authorizerAppid, userinfo: { accessToken: user.accessToken, openid: user.openid } }),
  };
};
