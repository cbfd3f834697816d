// Accessibility checks with axe-core, injected into the page under test.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// Evaluated through the DevTools protocol, not as a <script> tag: the page's
// Content-Security-Policy (script-src 'self') would refuse an injected tag.
const AXE_SOURCE = readFileSync(require.resolve('axe-core'), 'utf8');
const BLOCKING = new Set(['serious', 'critical']);

/** Every page kind the suite must have checked. */
export const PAGE_KINDS = ['catalogue', 'product', 'cart', 'sign-in', 'sign-up', 'checkout', 'order', 'order-history'];

/** Runs axe on the page; resolves to the serious and critical violations, described. */
export async function seriousViolations(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  return violations
    .filter((v) => BLOCKING.has(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`);
}
