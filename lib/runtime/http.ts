// The edge of the HTTP functions: the only place errors become status codes (docs/style.md §16).
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BadRequestError, RejectedRequestError } from '../kernel/errors.ts';
import type { Edge } from './lambda.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** The one body every rejected push gets: nothing that tells signature, padding or appid failures apart. */
export const REJECTED_BODY = 'invalid request';
export const REJECTED_STATUS = 400;

export const text = (statusCode: number, body: string, contentType = 'text/plain; charset=utf-8'): HttpResult => ({
  statusCode,
  headers: { 'content-type': contentType, 'cache-control': 'no-store' },
  body,
});

/**
 * Maps errors to responses: rejected input → one uniform 400, a bad request → 400 with its message, anything
 * else → 500 with a generic body. A signature failure may mean rotated secrets: it tells the container so.
 */
export const httpErrorBoundary: Edge<HttpEvent, HttpResult> = ({ logger, secretsStale }) => ({
  onError: (request) => {
    const error = request.error;
    const path = request.event?.rawPath;
    if (error instanceof RejectedRequestError) {
      logger().warn('request.rejected', { path, reason: error.reason, requestId: request.context?.awsRequestId }, error.cause);
      if (error.reason.startsWith('signature')) secretsStale();
      request.response = text(REJECTED_STATUS, REJECTED_BODY);
      return;
    }
    if (error instanceof BadRequestError) {
      logger().warn('request.bad', { path }, error);
      request.response = text(400, error.message);
      return;
    }
    logger().error('request.failed', { path, requestId: request.context?.awsRequestId }, error);
    request.response = text(500, 'internal error');
  },
});

/** Reads the raw body as UTF-8 bytes, whatever API Gateway did with it. */
export const rawBody = (event: Pick<HttpEvent, 'body' | 'isBase64Encoded'>): Buffer =>
  event.body === undefined || event.body === null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
