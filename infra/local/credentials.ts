// The local platform's own component credentials: what the WeChat simulator expects and what `npm start`
// hands the functions when WECHAT_API_BASE_URL is unset. Test values only; they open nothing real.
export const SIMULATOR_COMPONENT = {
  appId: 'wx5ce1ab0c0ffee000',
  appSecret: 'local-simulator-app-secret-0123456789',
  token: 'localSimToken2026',
  encodingAesKey: 'LocalSimulatorEncodingAesKey0123456789abcde',
} as const;

/** The same credentials as the COMPONENT_* environment variables the functions read. */
export const simulatorEnv = (): Record<string, string> => ({
  COMPONENT_APPID: SIMULATOR_COMPONENT.appId,
  COMPONENT_APPSECRET: SIMULATOR_COMPONENT.appSecret,
  COMPONENT_TOKEN: SIMULATOR_COMPONENT.token,
  COMPONENT_ENCODING_AES_KEY: SIMULATOR_COMPONENT.encodingAesKey,
});
