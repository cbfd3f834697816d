// The storefront as production serves it: the static build at `/`, client routes
// falling back to index.html, and `/graphql` on the same origin proxied to the
// router (what Kong does in front of the real deployment), with the security
// headers of nginx.conf, the storefront's production server, so the browser
// tests run the app under its real Content-Security-Policy.
import { createReadStream, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

/** The headers nginx.conf adds to pages (its `location /` block). */
function pageHeaders() {
  const conf = readFileSync(new URL('../../nginx.conf', import.meta.url), 'utf8');
  const block = conf.slice(conf.indexOf('location / {'));
  const headers = {};
  for (const [, name, quoted, bare] of block.matchAll(/add_header\s+([\w-]+)\s+(?:"([^"]*)"|([^\s;]+))[^;]*;/g)) {
    if (name.toLowerCase() !== 'cache-control') headers[name.toLowerCase()] = quoted ?? bare;
  }
  return headers;
}

async function fileIn(root, urlPath) {
  const resolved = path.resolve(root, `.${decodeURIComponent(urlPath)}`);
  if (!resolved.startsWith(root + path.sep)) return null;
  const info = await stat(resolved).catch(() => null);
  return info?.isFile() ? resolved : null;
}

function proxy(req, res, routerUrl) {
  const target = new URL(req.url, routerUrl);
  const upstream = http.request(
    target,
    { method: req.method, headers: { ...req.headers, host: target.host }, timeout: 30_000 },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('router timed out')));
  upstream.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`router unreachable: ${error.message}`);
  });
  req.pipe(upstream);
}

/** Starts the server on a free port of 127.0.0.1; resolves to { url, close }. */
export async function serveStorefront({ distDir, routerUrl }) {
  const root = path.resolve(distDir);
  const index = path.join(root, 'index.html');
  const security = pageHeaders();
  if (!security['content-security-policy']) throw new Error('nginx.conf sets no Content-Security-Policy');
  const server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === '/graphql') return proxy(req, res, routerUrl);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    const file = (await fileIn(root, pathname)) ?? index;
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    const cache = file === index ? 'no-cache' : 'public, max-age=31536000, immutable';
    res.writeHead(200, { ...security, 'content-type': type, 'cache-control': cache });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
