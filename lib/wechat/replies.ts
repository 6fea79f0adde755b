// Passive replies on the message URL: the standard MP reply XML (docs/protocol.md §1.3), encrypted and signed with
// the component's keys, so WeChat delivers it to the user as the account. Text is what the release checks need;
// the other reply kinds share the same envelope and differ only in their body element.
import { randomInt } from 'node:crypto';
import { envelopeXml, sealEnvelope, type MessageKeys } from './crypto.ts';

export interface NewsArticle {
  readonly title: string;
  readonly description?: string;
  readonly picUrl?: string;
  readonly url?: string;
}

export type ReplyBody =
  | { readonly msgType: 'text'; readonly content: string }
  | { readonly msgType: 'image'; readonly mediaId: string }
  | { readonly msgType: 'voice'; readonly mediaId: string }
  | { readonly msgType: 'video'; readonly mediaId: string; readonly title?: string; readonly description?: string }
  | { readonly msgType: 'news'; readonly articles: readonly NewsArticle[] };

export interface ReplyAddress {
  /** The user's openid: FromUserName of the message being answered. */
  readonly toUser: string;
  /** The account's gh_ id: ToUserName of the message being answered. */
  readonly fromUser: string;
  /** Epoch seconds. */
  readonly createTime: number;
}

/** WeChat shows at most 8 articles in one news reply. */
const MAX_NEWS_ARTICLES = 8;

/** A CDATA section holding any text: `]]>` cannot appear inside one, so it is split across two sections. */
export const cdata = (value: string): string => `<![CDATA[${value.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

const element = (name: string, value: string | undefined): string => (value === undefined ? '' : `<${name}>${cdata(value)}</${name}>`);

const bodyXml = (body: ReplyBody): string => {
  switch (body.msgType) {
    case 'text':
      return element('Content', body.content);
    case 'image':
      return `<Image>${element('MediaId', body.mediaId)}</Image>`;
    case 'voice':
      return `<Voice>${element('MediaId', body.mediaId)}</Voice>`;
    case 'video':
      return `<Video>${element('MediaId', body.mediaId)}${element('Title', body.title)}${element('Description', body.description)}</Video>`;
    case 'news': {
      if (body.articles.length < 1 || body.articles.length > MAX_NEWS_ARTICLES) {
        throw new RangeError(`a news reply carries 1 to ${MAX_NEWS_ARTICLES} articles`);
      }
      const items = body.articles.map(
        (a) =>
          `<item>${element('Title', a.title)}${element('Description', a.description)}${element('PicUrl', a.picUrl)}${element('Url', a.url)}</item>`,
      );
      return `<ArticleCount>${body.articles.length}</ArticleCount><Articles>${items.join('')}</Articles>`;
    }
  }
};

/**
 * The plain reply XML for any reply kind.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
 */
export const buildReplyXml = (address: ReplyAddress, body: ReplyBody): string => {
  if (!Number.isInteger(address.createTime) || address.createTime < 0) throw new RangeError('createTime must be epoch seconds');
  return (
    `<xml>${element('ToUserName', address.toUser)}${element('FromUserName', address.fromUser)}` +
    `<CreateTime>${address.createTime}</CreateTime>${element('MsgType', body.msgType)}${bodyXml(body)}</xml>`
  );
};

/**
 * Encrypts and signs a reply as the envelope WeChat expects on the message URL. A fresh nonce and the given
 * timestamp are used (the request's own may be reused; WeChat only checks the signature over the reply's).
 */
export const sealReply = (keys: MessageKeys, replyXml: string, options: { timestamp: number; nonce?: string; random?: Buffer }): string =>
  envelopeXml(
    sealEnvelope(keys, replyXml, {
      timestamp: String(options.timestamp),
      nonce: options.nonce ?? String(randomInt(100_000_000, 2_000_000_000)),
      random: options.random,
    }),
  );
