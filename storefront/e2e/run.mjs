#!/usr/bin/env node
// Browser tests of the storefront: serves storefront/dist on a free port with
// /graphql proxied to the router (same origin, like Kong), drives Chromium
// through playwright-core, checks every page with axe-core and screenshots it.
//
// Env: SHOP_ROUTER_URL (default http://127.0.0.1:4000), SHOP_ADMIN_EMAIL
// (default admin@shop.local), SHOP_ADMIN_PASSWORD (default: ../.dev/admin-password),
// SHOP_ARTIFACTS_DIR (default storefront/test-results), VITE_TRUSTED_DOCUMENTS
// (how dist was built; default true), SHOP_E2E_TIMEOUT_MS (default 300000),
// CHROMIUM_PATH (default /usr/bin/chromium).
// Prints one PASS/FAIL line per scenario and "N passed, N failed"; exits 1 on any failure.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Admin } from './lib/admin.mjs';
import { PAGE_KINDS, seriousViolations } from './lib/axe.mjs';
import { serveStorefront } from './lib/server.mjs';
import { scenarios } from './scenarios.mjs';
import { AssertionError, withTimeout } from './lib/util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const storefront = path.resolve(here, '..');
const env = process.env;

const config = {
  routerUrl: env.SHOP_ROUTER_URL || 'http://127.0.0.1:4000',
  adminEmail: env.SHOP_ADMIN_EMAIL || 'admin@shop.local',
  adminPassword: env.SHOP_ADMIN_PASSWORD || readDevAdminPassword(),
  artifacts: path.resolve(env.SHOP_ARTIFACTS_DIR || path.join(storefront, 'test-results')),
  trusted: (env.VITE_TRUSTED_DOCUMENTS ?? 'true') === 'true',
  totalTimeoutMs: Number(env.SHOP_E2E_TIMEOUT_MS || 300_000),
  chromium: env.CHROMIUM_PATH || '/usr/bin/chromium',
};
const SCENARIO_TIMEOUT_MS = 90_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function readDevAdminPassword() {
  const file = path.resolve(storefront, '..', '.dev', 'admin-password');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
}

function line(status, name, detail = '') {
  console.log(`${status} ${name}${detail ? `: ${detail}` : ''}`);
}

/** Never hang: whatever is still running when the budget is spent, the process ends. */
const watchdog = setTimeout(() => {
  line('FAIL', 'browser tests', `did not finish within ${config.totalTimeoutMs} ms`);
  process.exit(1);
}, config.totalTimeoutMs);

/** Fails fast when the router will not run the storefront's documents the way dist sends them. */
async function checkRouterAcceptsDocuments() {
  const manifest = JSON.parse(readFileSync(path.join(storefront, 'src/gql/persisted-documents.json'), 'utf8'));
  const entry = Object.entries(manifest).find(([, text]) => /query Categories\b/.test(text));
  if (!entry) throw new Error('the manifest has no Categories query; run npm run codegen');
  const [documentId, query] = entry;
  const body = config.trusted
    ? { documentId, operationName: 'Categories' }
    : { query, operationName: 'Categories' };
  const response = await fetch(new URL('/graphql', config.routerUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = await response.json().catch(() => null);
  if (!answer?.data?.categories) {
    const why = answer?.errors?.map((e) => e.message).join('; ') ?? `HTTP ${response.status}`;
    const hint = config.trusted
      ? 'the router must load storefront/src/gql/persisted-documents.json as its persisted-documents manifest, or build with VITE_TRUSTED_DOCUMENTS=false'
      : 'is the router up?';
    throw new Error(`the router refused the storefront's Categories query (${why}); ${hint}`);
  }
}

async function main() {
  mkdirSync(config.artifacts, { recursive: true });
  if (!config.adminPassword) throw new Error('SHOP_ADMIN_PASSWORD is not set');
  const distDir = path.join(storefront, 'dist');
  if (!existsSync(path.join(distDir, 'index.html'))) throw new Error('storefront/dist is missing; run npm run build');

  await checkRouterAcceptsDocuments();
  const admin = new Admin(config.routerUrl);
  await admin.signIn(config.adminEmail, config.adminPassword);

  const server = await serveStorefront({ distDir, routerUrl: config.routerUrl });
  const browser = await chromium.launch({ executablePath: config.chromium, args: CHROMIUM_ARGS, timeout: 30_000 });
  const audited = new Map();
  let passed = 0;
  let failed = 0;
  let fixtures;
  try {
    fixtures = await scenarios.setUp(admin);
    for (const scenario of scenarios.list) {
      const context = await browser.newContext({ baseURL: server.url, ...scenario.context });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      page.setDefaultNavigationTimeout(20_000);
      const problems = [];
      // What the page asked for live (subscriptions over Server-Sent Events).
      const traffic = { eventStreams: 0 };
      page.on('pageerror', (error) => problems.push(`uncaught error in the page: ${error.message}`));
      page.on('console', (message) => {
        if (message.text().includes('Content Security Policy')) problems.push(`CSP: ${message.text()}`);
      });
      page.on('request', (request) => {
        if ((request.headers().accept ?? '').includes('text/event-stream')) traffic.eventStreams += 1;
        if (new URL(request.url()).pathname !== '/graphql' || request.method() !== 'POST') return;
        const body = request.postDataJSON();
        if (config.trusted && (!body?.documentId || 'query' in body)) {
          problems.push(`a request was not a persisted document: ${request.postData()?.slice(0, 80)}`);
        }
      });
      /** Checks the page with axe-core and screenshots it as `<kind>.png`. */
      const audit = async (kind) => {
        await page.screenshot({ path: path.join(config.artifacts, `${kind}.png`), fullPage: true });
        const violations = await seriousViolations(page);
        audited.set(kind, violations);
        if (violations.length) throw new AssertionError(`axe-core on ${kind}: ${violations.join(' | ')}`);
      };
      try {
        await withTimeout(scenario.run({ page, context, admin, audit, fixtures, traffic }), SCENARIO_TIMEOUT_MS, scenario.name);
        if (problems.length) throw new AssertionError(problems.join('; '));
        line('PASS', scenario.name);
        passed += 1;
      } catch (error) {
        line('FAIL', scenario.name, error instanceof AssertionError ? error.message : String(error?.stack ?? error));
        failed += 1;
        await page
          .screenshot({ path: path.join(config.artifacts, `failure-${scenario.slug}.png`), fullPage: true })
          .catch(() => undefined);
      } finally {
        await context.close().catch(() => undefined);
      }
    }
    const missing = PAGE_KINDS.filter((kind) => !audited.has(kind));
    const dirty = [...audited].filter(([, v]) => v.length).map(([kind]) => kind);
    if (missing.length || dirty.length) {
      const why = [missing.length && `not checked: ${missing.join(', ')}`, dirty.length && `violations on: ${dirty.join(', ')}`];
      line('FAIL', 'axe-core on every page', why.filter(Boolean).join('; '));
      failed += 1;
    } else {
      line('PASS', 'axe-core on every page', `no serious or critical violation on ${[...audited.keys()].join(', ')}`);
      passed += 1;
    }
  } finally {
    await browser.close().catch(() => undefined);
    await server.close();
    if (fixtures) {
      await scenarios.tearDown(admin, fixtures).catch((error) => console.log(`note: cleaning up failed: ${error.message}`));
    }
  }
  console.log(`screenshots: ${config.artifacts}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0;
}

main()
  .then((ok) => {
    clearTimeout(watchdog);
    process.exit(ok ? 0 : 1);
  })
  .catch((error) => {
    line('FAIL', 'browser tests', error?.message ?? String(error));
    console.log('0 passed, 1 failed');
    process.exit(1);
  });
