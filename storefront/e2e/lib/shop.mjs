// What a shopper does in the storefront, as Playwright steps. Every wait is
// bounded by the page's default timeout or an explicit one.
import { assert, waitUntil } from './util.mjs';

export const PASSWORD = 'correct horse 42 battery';

let shoppers = 0;

/**
 * Loads a page; with a stored session, waits until it is restored. (Refresh
 * tokens work once: leaving a page while its refresh is in flight would make
 * the next page present a spent token and end the session.)
 */
export async function visit(page, path) {
  await page.goto(path);
  const signedIn = await page.evaluate(() => localStorage.getItem('shop.refreshToken') !== null);
  if (signedIn) await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Signs up a new customer through the sign-up page; resolves to { name, email }. */
export async function signUp(page, runId, next = '/') {
  shoppers += 1;
  const name = `Shopper ${shoppers}`;
  const email = `shopper-${runId}-${shoppers}@example.com`;
  await page.goto(`/sign-up?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { name, email };
}

export async function openProduct(page, product) {
  await visit(page, `/products/${product.id}`);
  await page.getByRole('heading', { level: 1, name: product.name }).waitFor();
}

/** Adds `quantity` of the product from its page. */
export async function addToCart(page, product, quantity) {
  await openProduct(page, product);
  await page.getByLabel('Quantity').fill(String(quantity));
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.getByText(`Added ${product.name} to your cart`).waitFor();
}

/** Fills the checkout form, picks the card and places the order (it stays on the page). */
export async function placeOrder(page, cardLabel) {
  if (new URL(page.url()).pathname !== '/checkout') await visit(page, '/checkout');
  await page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
  await page.getByLabel('Full name').fill('Test Shopper');
  await page.getByLabel('Address', { exact: true }).fill('1 Test Street');
  await page.getByLabel('City').fill('Berlin');
  await page.getByLabel('Postal code').fill('10115');
  await page.getByLabel(cardLabel).check();
  await page.getByRole('button', { name: 'Place order' }).click();
}

/** Waits until the order page shows it was placed; resolves to its id. */
export async function arriveOnOrderPage(page) {
  await page.waitForURL(/\/orders\/[^/]+$/);
  await page.getByRole('heading', { level: 1, name: /^Order / }).waitFor();
  return new URL(page.url()).pathname.split('/').pop();
}

/** The status the element shows (its `data-status`). */
export async function shownStatus(locator) {
  return locator.locator('[data-status]').first().getAttribute('data-status', { timeout: 5_000 });
}

/** Waits until `locator` shows `status`, without reloading the page. */
export async function waitForStatus(page, locator, status, timeoutMs = 30_000) {
  const marker = `e2e-${Math.random()}`;
  await page.evaluate((m) => {
    window.__e2eMarker = m;
  }, marker);
  let last;
  await waitUntil(
    async () => {
      last = await shownStatus(locator);
      return last === status;
    },
    `status ${status} (last seen ${last})`,
    timeoutMs,
  );
  const survived = await page.evaluate(() => window.__e2eMarker);
  assert(survived === marker, 'the page was reloaded while waiting for the status');
}

/** True when nothing on the page is wider than the viewport. */
export async function fitsViewport(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}
