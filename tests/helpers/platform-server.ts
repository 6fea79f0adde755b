// A tiny HTTP server on 127.0.0.1 that turns requests into API Gateway HTTP API (v2) events and hands them
// to in-process handlers: the platform's routes without serverless-offline, for e2e tests and the browser check.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpEvent, HttpResult } from '../../lib/runtime/http.ts';
import { context } from './context.ts';

export type Route = (event: HttpEvent, ctx: typeof context) => Promise<HttpResult>;

export interface PlatformServer {
  readonly url: string;
  close(): Promise<void>;
}

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const toEvent = (req: IncomingMessage, url: URL, body: string): HttpEvent => {
  const method = req.method ?? 'GET';
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: 'local',
      http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: `local-${Date.now()}`,
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body ? { body } : {}),
    isBase64Encoded: false,
  };
};

/** Serves `routes` ("METHOD /path" → handler) on a free port; anything else is 404. */
export const startPlatformServer = async (routes: Record<string, Route>): Promise<PlatformServer> => {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const route = routes[`${req.method} ${url.pathname}`];
      if (!route) {
        res.writeHead(404).end('not found');
        return;
      }
      const result = await route(toEvent(req, url, await readBody(req)), context);
      res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>).end(result.body ?? '');
    })().catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(`server error: ${error.message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
