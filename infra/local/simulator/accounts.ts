// Accounts that authorize the component, the codes their owners' authorizations produce, and the
// JSON WeChat returns about them (api_query_auth, api_get_authorizer_info).
import {
  AUTH_CODE_TTL_S,
  fail,
  nowS,
  opaque,
  PRE_AUTH_CODE_TTL_S,
  randomAppid,
  randomUserName,
  type Account,
  type AccountKind,
  type SimState,
} from './state.ts';

export interface AccountInput {
  authorizerAppid?: string;
  kind?: AccountKind;
  funcInfo?: number[];
  nickName?: string;
  userName?: string;
}

/** 消息管理, 用户管理, 帐号服务, 网页服务, 微信小店, 多客服, 群发与通知, 卡券, 素材, 菜单 … (docs/protocol.md §1.7). */
const OFFICIAL_FUNCS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 22, 23, 24, 26, 33];
/** 小程序帐号管理, 开发管理, 客服消息, 开放平台帐号管理 … */
const MINIPROGRAM_FUNCS = [17, 18, 19, 25, 30, 31, 36, 37, 40, 41];

const DEFAULT_OPTIONS = { location_report: '0', voice_recognize: '0', customer_service: '0' };

/** Creates the account, or marks an existing one authorized again; either way with a new refresh token. */
export const authorizeAccount = (state: SimState, input: AccountInput): Account => {
  const appid = input.authorizerAppid ?? randomAppid();
  const existing = state.accounts.get(appid);
  const kind = input.kind ?? existing?.kind ?? 'official';
  const account: Account = existing ?? {
    appid,
    kind,
    userName: input.userName ?? randomUserName(),
    nickName: input.nickName ?? `Simulated ${kind === 'official' ? 'account' : 'mini program'} ${state.accounts.size + 1}`,
    funcInfo: input.funcInfo ?? (kind === 'official' ? OFFICIAL_FUNCS : MINIPROGRAM_FUNCS),
    status: 'authorized',
    refreshToken: undefined,
    authTime: 0,
    options: { ...DEFAULT_OPTIONS },
    accessTokens: new Map(),
  };
  if (input.funcInfo) account.funcInfo = [...input.funcInfo];
  if (input.nickName) account.nickName = input.nickName;
  if (input.userName) account.userName = input.userName;
  account.status = 'authorized';
  account.refreshToken = opaque('refreshtoken@@@', 32);
  account.authTime = nowS(state);
  state.accounts.set(appid, account);
  return account;
};

/** A single-use authorization code, valid AUTH_CODE_TTL_S, as the authorization page and the push carry. */
export const issueAuthCode = (state: SimState, account: Account): string => {
  const code = opaque('queryauthcode@@@', 60);
  state.authCodes.set(code, { appid: account.appid, expiresAt: state.clock() + AUTH_CODE_TTL_S * 1000, used: false });
  return code;
};

/** Spends a code: 61009 unknown or already used, 61010 expired, 61003 when the account left since. */
export const redeemAuthCode = (state: SimState, code: string): Account => {
  const entry = state.authCodes.get(code);
  if (!entry || entry.used) return fail(61009);
  if (entry.expiresAt <= state.clock()) return fail(61010);
  entry.used = true;
  const account = state.accounts.get(entry.appid);
  if (account?.status !== 'authorized') return fail(61003);
  return account;
};

export const issuePreAuthCode = (state: SimState): string => {
  const code = opaque('preauthcode@@@', 48);
  state.preAuthCodes.set(code, state.clock() + PRE_AUTH_CODE_TTL_S * 1000);
  return code;
};

/** The pre-auth code an owner's authorization was started with: the newest live one the platform made, else a new one. */
export const takePreAuthCode = (state: SimState): string => {
  const now = state.clock();
  const live = [...state.preAuthCodes].filter(([, expiresAt]) => expiresAt > now);
  const code = live.at(-1)?.[0] ?? issuePreAuthCode(state);
  state.preAuthCodes.delete(code);
  return code;
};

/** The authorized account for appid, or 61003 as WeChat answers for accounts that are not (or no longer) authorized. */
export const authorizedAccount = (state: SimState, appid: unknown): Account => {
  const account = typeof appid === 'string' ? state.accounts.get(appid) : undefined;
  if (account?.status !== 'authorized') return fail(61003);
  return account;
};

export const funcInfoJson = (account: Account) =>
  account.funcInfo.map((id) => ({ funcscope_category: { id }, confirm_info: { need_confirm: 0, already_confirm: 0, can_confirm: 0 } }));

const miniProgramInfo = () => ({
  network: {
    RequestDomain: ['https://api.example.test'],
    WsRequestDomain: [],
    UploadDomain: [],
    DownloadDomain: [],
    BizDomain: [],
    UDPDomain: [],
  },
  categories: [{ first: '工具', second: '效率' }],
  visit_status: 0,
});

/** authorizer_info as api_get_authorizer_info returns it (docs/protocol.md §1.7). */
export const authorizerInfoJson = (account: Account) => {
  const official = account.kind === 'official';
  return {
    nick_name: account.nickName,
    head_img: `http://wx.qlogo.cn/mmopen/${account.userName}/0`,
    service_type_info: { id: official ? 2 : 0 },
    verify_type_info: { id: 0 },
    user_name: account.userName,
    principal_name: 'Simulated Company Ltd.',
    alias: official ? `sim_${account.userName.slice(3, 9)}` : '',
    qrcode_url: `http://mmbiz.qpic.cn/mmbiz_jpg/${account.userName}/0`,
    business_info: { open_pay: 0, open_shake: 0, open_scan: 0, open_card: 0, open_store: 0 },
    account_status: 1,
    idc: 1,
    signature: official ? 'A simulated official account' : 'A simulated mini program',
    ...(official ? {} : { MiniProgramInfo: miniProgramInfo() }),
  };
};
