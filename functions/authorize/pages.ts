// The HTML the `authorize` function serves: the start page with the two authorization links, the landing
// page after an account owner authorized, and the error page. Pure functions; every interpolated value is
// escaped. No page ever shows a token or an authorization code.
import { BadRequestError } from '../../lib/kernel/errors.ts';
import type { AuthorizerInfo } from '../../lib/wechat/responses.ts';
import { WeChatApiError, WeChatNetworkError, WeChatProtocolError } from '../../lib/wechat/errors.ts';
import { AuthorizationCodeError, CodeBusyError, IncompleteAuthorizationError } from '../../lib/authorization/exchange.ts';
import { LinkRefusedError } from '../../lib/authorization/links.ts';
import { MissingTicketError, TicketInvalidError } from '../../lib/tokens/errors.ts';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double-quoted attributes. */
export const escapeHtml = (value: string | number): string => String(value).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);

/** funcscope_category ids → names (docs/protocol.md §1.7; WeChat's permission-set pages for accounts and mini programs). */
export const PERMISSION_NAMES: Readonly<Record<number, string>> = {
  1: '消息管理 Message management',
  2: '用户管理 User management',
  3: '帐号服务 Account service',
  4: '网页服务 Web services',
  5: '微信小店 WeChat store',
  6: '多客服 Customer service',
  7: '群发与通知 Broadcasts and notifications',
  8: '卡券 Cards and coupons',
  9: '扫一扫 Scan',
  10: '微信连WiFi WeChat WiFi',
  11: '素材管理 Material management',
  12: '摇一摇周边 Shake nearby',
  13: '门店 Stores',
  15: '自定义菜单 Custom menus',
  17: '小程序帐号管理 Mini program account management',
  18: '小程序开发管理与数据分析 Mini program development and analytics',
  19: '小程序客服消息 Mini program customer messages',
  22: '城市服务 City services',
  23: '广告管理 Advertising',
  24: '开放平台帐号管理 Open Platform account management',
  25: '开放平台帐号管理 Open Platform account management',
  26: '微信电子发票 Electronic invoices',
  27: '快速注册小程序 Fast mini program registration',
  30: '小程序基本信息设置 Mini program basic settings',
  31: '小程序认证 Mini program verification',
  33: '小程序管理 Mini program management',
  37: '附近地点 Nearby places',
  40: '插件管理 Plugin management',
};

export const permissionName = (id: number): string => PERMISSION_NAMES[id] ?? `权限集 Permission set ${id}`;

const SERVICE_TYPES: Readonly<Record<number, string>> = {
  0: '订阅号 Subscription account',
  1: '订阅号 Subscription account (upgraded)',
  2: '服务号 Service account',
};
const VERIFY_TYPES: Readonly<Record<number, string>> = {
  [-1]: '未认证 Not verified',
  0: '微信认证 WeChat verified',
  1: '新浪微博认证 Sina Weibo verified',
  2: '腾讯微博认证 Tencent Weibo verified',
  3: '资质认证 Qualification verified (name pending)',
  4: '资质认证 Qualification verified (Sina Weibo pending)',
  5: '资质认证 Qualification verified (Tencent Weibo pending)',
};

/** 'Mini program' or 'Official account · 服务号 Service account'. */
export const accountTypeLabel = (info: Pick<AuthorizerInfo, 'isMiniProgram' | 'serviceTypeId'>): string => {
  if (info.isMiniProgram) return '小程序 Mini program';
  const service = info.serviceTypeId === undefined ? undefined : (SERVICE_TYPES[info.serviceTypeId] ?? `type ${info.serviceTypeId}`);
  return service ? `公众号 Official account · ${service}` : '公众号 Official account';
};

export const verifyTypeLabel = (verifyTypeId: number | undefined): string =>
  verifyTypeId === undefined ? 'unknown' : (VERIFY_TYPES[verifyTypeId] ?? `type ${verifyTypeId}`);

const STYLE = `body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f6f7;color:#1f2329}
main{max-width:720px;margin:48px auto;background:#fff;border-radius:12px;padding:32px 40px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 8px}p{line-height:1.6}.muted{color:#646a73;font-size:14px}
.links{display:flex;gap:16px;flex-wrap:wrap;margin:24px 0}
a.button{display:inline-block;padding:14px 22px;border-radius:8px;background:#07c160;color:#fff;text-decoration:none;font-weight:600}
a.button.secondary{background:#fff;color:#07c160;border:1px solid #07c160}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 24px}dt{color:#646a73}dd{margin:0}
ul{padding-left:20px}li{margin:4px 0}.error h1{color:#d83931}code{background:#f2f3f5;padding:1px 4px;border-radius:4px}`;

const page = (title: string, body: string, className = ''): string => `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="origin">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main class="${className}">${body}</main></body></html>
`;

export interface StartPageInput {
  readonly pcUrl: string;
  readonly mobileUrl: string;
  readonly authTypeLabel: string;
  readonly bizAppid?: string;
  readonly expiresInS: number;
}

/** The start page: two links, opened from our domain so WeChat sees the Referer it expects (docs/protocol.md §1.8). */
export const renderStartPage = (input: StartPageInput): string =>
  page(
    '授权公众号或小程序 Authorize an account',
    `<h1>授权公众号或小程序 · Authorize your account</h1>
<p>Authorize this platform to manage your WeChat ${escapeHtml(input.authTypeLabel)}${
      input.bizAppid ? ` (only <code>${escapeHtml(input.bizAppid)}</code>)` : ''
    }. An administrator of the account confirms on WeChat's page.</p>
<div class="links">
<a class="button" id="pc-link" href="${escapeHtml(input.pcUrl)}">电脑端扫码授权 · Authorize on a computer (scan QR code)</a>
<a class="button secondary" id="mobile-link" href="${escapeHtml(input.mobileUrl)}">微信内授权 · Authorize in WeChat on a phone</a>
</div>
<p class="muted">The links are valid for about ${escapeHtml(Math.floor(input.expiresInS / 60))} minutes; reload this page later for new ones.
Open the second link inside WeChat on your phone.</p>`,
  );

export interface AuthorizedPageInput {
  readonly authorizerAppid: string;
  readonly info?: AuthorizerInfo;
  readonly funcInfo: readonly number[];
}

/** The landing page after authorization: who authorized, what kind of account, which permissions. */
export const renderAuthorizedPage = (input: AuthorizedPageInput): string => {
  const { info } = input;
  const rows: [string, string][] = [
    ['名称 Name', info?.nickName ?? '(not available yet)'],
    ['AppID', input.authorizerAppid],
    ...(info
      ? ([
          ['类型 Type', accountTypeLabel(info)],
          ['认证 Verification', verifyTypeLabel(info.verifyTypeId)],
        ] as [string, string][])
      : []),
    ...(info?.principalName ? ([['主体 Owner', info.principalName]] as [string, string][]) : []),
  ];
  const permissions = input.funcInfo.map((id) => `<li>${escapeHtml(permissionName(id))} <span class="muted">(${escapeHtml(id)})</span></li>`);
  return page(
    '授权成功 Authorized',
    `<h1>授权成功 · Authorization complete</h1>
<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
<h2>已授权的权限 · Granted permissions (${input.funcInfo.length})</h2>
<ul id="permissions">${permissions.join('\n') || '<li>none</li>'}</ul>
<p class="muted">You can close this page. The platform keeps the account's credentials up to date from now on.</p>`,
  );
};

/** The landing page reached without a valid state: nothing is exchanged here; WeChat's push completes it. */
export const renderPushCompletesPage = (): string =>
  page(
    '授权处理中 Authorization received',
    `<h1>授权处理中 · Authorization received</h1>
<p>If you have just confirmed the authorization on WeChat's page, the platform completes it from WeChat's notification
within a minute; nothing else is needed here.</p>
<p class="muted">You can close this page.</p>`,
  );

export interface ErrorPageInput {
  readonly title: string;
  readonly message: string;
}

/** A clear error page; the message is shown as text, never as markup. */
export const renderErrorPage = (input: ErrorPageInput): string =>
  page(input.title, `<h1>${escapeHtml(input.title)}</h1><p>${escapeHtml(input.message)}</p>`, 'error');

export interface PageFailure extends ErrorPageInput {
  readonly status: number;
}

const AGAIN = 'Please open the authorization link you were given again.';

/**
 * The one place an error becomes a page (status, title, message) for the authorize function; undefined for an
 * error it does not expect (the edge answers 500). Nothing here says why a link was refused.
 */
export const describeFailure = (error: unknown): PageFailure | undefined => {
  if (error instanceof LinkRefusedError) {
    return {
      status: 403,
      title: '授权链接无效 · Authorization link not valid',
      message: 'This page opens only through a current authorization link from the platform. Please ask the platform for a new link.',
    };
  }
  if (error instanceof BadRequestError) return { status: 400, title: '请求无效 · Invalid request', message: error.message };
  if (error instanceof AuthorizationCodeError && error.errcode === 61003) {
    return { status: 400, title: '授权已取消 · Authorization withdrawn', message: `The account no longer authorizes this platform. ${AGAIN}` };
  }
  if (error instanceof AuthorizationCodeError) {
    const expired = error.errcode === 61010;
    return {
      status: 400,
      title: expired ? '授权码已过期 · Authorization code expired' : '授权码无效 · Authorization code invalid',
      message: expired
        ? `The authorization code has expired (codes are valid for one hour). ${AGAIN}`
        : `WeChat does not accept this authorization code (it is invalid or was already used). ${AGAIN}`,
    };
  }
  if (error instanceof CodeBusyError) {
    return {
      status: 503,
      title: '正在完成授权 · Completing the authorization',
      message: 'The authorization is still being completed. Reload this page in a few seconds.',
    };
  }
  if (error instanceof MissingTicketError || error instanceof TicketInvalidError) {
    return {
      status: 503,
      title: '平台暂不可用 · Platform not ready',
      message: 'The platform has no valid component_verify_ticket from WeChat yet (WeChat pushes one every 10 minutes). Please try again later.',
    };
  }
  if (isQuotaExhausted(error)) {
    return {
      status: 503,
      title: '今日授权次数已用完 · Authorizations paused for today',
      message: "WeChat's daily quota for this platform is used up. Please try again tomorrow; the platform has been alerted.",
    };
  }
  if (error instanceof WeChatApiError) {
    return {
      status: 502,
      title: '微信返回错误 · WeChat returned an error',
      message: `WeChat answered ${error.api} with error ${error.errcode}. Please try again later.`,
    };
  }
  if (error instanceof WeChatNetworkError || error instanceof WeChatProtocolError || error instanceof IncompleteAuthorizationError) {
    return {
      status: 502,
      title: '无法连接微信 · WeChat unavailable',
      message: 'WeChat did not answer as expected. Please try again later.',
    };
  }
  return undefined;
};

/** 45009: the daily quota of a WeChat API is spent (docs/protocol.md §1.9); the pages count it (docs/operations.md). */
export const isQuotaExhausted = (error: unknown): error is WeChatApiError => error instanceof WeChatApiError && error.errcode === 45009;
