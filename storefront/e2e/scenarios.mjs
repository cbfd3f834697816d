// The shopper scenarios. Each runs in a fresh browser context with a new
// customer; the products they buy are created for this run with known stock.
import { addToCart, arriveOnOrderPage, fitsViewport, openProduct, placeOrder, signUp, visit, waitForStatus } from './lib/shop.mjs';
import { assert, waitUntil } from './lib/util.mjs';

const PAGE_SIZE = 12;
const BROWSE_PRODUCTS = 14;

/** A token only this run's product names contain (letters only, so search matches it whole). */
function runToken() {
  const letters = 'bcdfghjklmnpqrstvwxz';
  return Array.from({ length: 8 }, () => letters[Math.floor(Math.random() * letters.length)]).join('');
}

async function setUp(admin) {
  const token = runToken();
  const category = await admin.createCategory(`Browser test ${token}`, `e2e-${token}`);
  const specs = [
    { key: 'paid', name: `Paid lamp ${token}`, stock: 5 },
    { key: 'declined', name: `Declined lamp ${token}`, stock: 3 },
    { key: 'scarce', name: `Scarce lamp ${token}`, stock: 2 },
    { key: 'refund', name: `Refund lamp ${token}`, stock: 5 },
    ...Array.from({ length: BROWSE_PRODUCTS }, (_, i) => ({
      key: `browse${i}`,
      name: `Browse lamp ${token} ${String(i + 1).padStart(2, '0')}`,
      stock: 50,
    })),
  ];
  const products = {};
  const all = [];
  for (const [i, spec] of specs.entries()) {
    // Distinct prices in an order unlike the creation order, so sorting shows.
    const price = 500 + ((i * 7) % specs.length) * 100;
    const sku = `E2E-${token.toUpperCase()}-${String(i + 1).padStart(2, '0')}`;
    const product = await admin.createProduct({ sku, name: spec.name, price, categoryId: category.id, stock: spec.stock });
    products[spec.key] = product;
    all.push(product);
  }
  return { token, category, products, all };
}

/** Takes this run's products off sale, so runs against a shared stack do not pile up in its catalogue. */
async function tearDown(admin, fixtures) {
  for (const product of fixtures.all) await admin.archiveProduct(product.id);
}

async function cardTitles(page) {
  return page.locator('.product-card .card-title').allTextContents();
}

async function waitForTitles(page, expected, what) {
  let seen;
  await waitUntil(
    async () => {
      seen = await cardTitles(page);
      return JSON.stringify(seen) === JSON.stringify(expected);
    },
    `${what}: expected ${expected.length} products [${expected.slice(0, 3).join(', ')}…], saw ${seen?.length} [${seen?.slice(0, 3).join(', ')}…]`,
  );
}

const browseAndBuy = {
  name: 'a shopper browses, searches, filters, sorts, loads more, signs up, pays with tok_visa and sees PAID live',
  slug: 'browse-and-buy',
  async run({ page, audit, admin, fixtures, traffic }) {
    const { token, category, products, all } = fixtures;
    await page.goto('/');
    await page.getByRole('heading', { level: 1, name: 'Catalogue' }).waitFor();
    await page.locator('.product-card').first().waitFor();
    await audit('catalogue');

    await page.getByLabel('Search products').fill(token);
    await page.getByRole('button', { name: 'Search' }).click();
    await waitUntil(async () => {
      const titles = await cardTitles(page);
      return titles.length === PAGE_SIZE && titles.every((t) => t.includes(token));
    }, `a first page of ${PAGE_SIZE} products named with ${token}`);

    await page.getByLabel('Category').selectOption({ label: category.name });
    await page.getByLabel('Sort by').selectOption({ label: 'Price: low to high' });
    const byPrice = [...all].sort((a, b) => a.price.amount - b.price.amount).map((p) => p.name);
    await waitForTitles(page, byPrice.slice(0, PAGE_SIZE), 'the first page sorted by price');
    await page.getByRole('button', { name: 'Load more' }).click();
    await waitForTitles(page, byPrice, 'every product of the category after loading more');
    assert((await page.getByRole('button', { name: 'Load more' }).count()) === 0, '"Load more" stays after the last page');

    await page.getByRole('link', { name: products.paid.name }).click();
    await page.getByRole('heading', { level: 1, name: products.paid.name }).waitFor();
    await audit('product');

    await page.getByRole('link', { name: 'Sign in to buy' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await audit('sign-in');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Create an account' }).waitFor();
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Please correct the highlighted fields.').waitFor();
    await audit('sign-up');
    await page.getByLabel('Name').fill('Browsing Shopper');
    await page.getByLabel('Email').fill(`browser-${token}@example.com`);
    await page.getByLabel('Password').fill('short1');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('The password must be 10 to 128 characters long.').waitFor();
    await page.getByLabel('Password').fill('correct horse 42 battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    // Back on the product the shopper came from, signed in.
    await page.getByRole('heading', { level: 1, name: products.paid.name }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await page.getByLabel('Quantity').fill('2');
    await page.getByRole('button', { name: 'Add to cart' }).click();
    await page.getByText(`Added ${products.paid.name} to your cart`).waitFor();
    await page.getByRole('link', { name: /^Cart/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Your cart' }).waitFor();
    await page.getByRole('row', { name: new RegExp(products.paid.name) }).waitFor();
    await audit('cart');

    await page.getByRole('link', { name: 'Checkout' }).click();
    await page.getByRole('heading', { level: 1, name: 'Checkout' }).waitFor();
    await audit('checkout');
    await placeOrder(page, 'Visa ending 4242');
    const orderId = await arriveOnOrderPage(page);
    await waitForStatus(page, page.locator('.order-status'), 'PAID');
    await page.getByText('Payment received').waitFor();
    await waitUntil(async () => traffic.eventStreams > 0, 'the order page subscribing to its status (orderStatusChanged over SSE)');
    await audit('order');
    assert(orderId, 'no order id in the URL');
    await admin.waitForAvailable(products.paid.id, 3);
  },
};

const declinedCard = {
  name: 'a declined card (tok_chargeDeclined) shows the reason, cancels the order and restores the stock',
  slug: 'declined-card',
  async run({ page, admin, audit, fixtures }) {
    const product = fixtures.products.declined;
    await signUp(page, fixtures.token);
    await addToCart(page, product, 2);
    await placeOrder(page, 'Declined card');
    await arriveOnOrderPage(page);
    await waitForStatus(page, page.locator('.order-status'), 'CANCELLED');
    const alert = page.getByRole('alert').filter({ hasText: 'Your card was declined.' });
    await alert.waitFor();
    assert((await alert.textContent()).includes('nothing was charged'), 'the decline message does not say nothing was charged');
    await audit('order-declined');
    await admin.waitForAvailable(product.id, 3);
    await openProduct(page, product);
    await page.getByText('Only 3 left').waitFor();
  },
};

const outOfStock = {
  name: 'an out-of-stock line is named in the checkout message',
  slug: 'out-of-stock',
  async run({ page, admin, audit, fixtures }) {
    const product = fixtures.products.scarce;
    await signUp(page, fixtures.token);
    await addToCart(page, product, 2);
    // Someone else bought one meanwhile.
    assert((await admin.adjustStock(product.id, -1)) === 1, 'the stock did not drop to 1');
    await placeOrder(page, 'Visa ending 4242');
    const alert = page.getByRole('alert').filter({ hasText: 'Not enough stock' });
    await alert.waitFor();
    const text = await alert.textContent();
    assert(text.includes(product.name), `the message does not name ${product.name}: ${text}`);
    assert(text.includes('only 1 left'), `the message does not say what is left: ${text}`);
    assert(new URL(page.url()).pathname === '/checkout', 'left the checkout although the order failed');
    await audit('checkout-out-of-stock');
  },
};

const cancelAndRefund = {
  name: 'a paid order cancelled from the order history is REFUNDED and restocked',
  slug: 'cancel-refund',
  async run({ page, admin, audit, fixtures }) {
    const product = fixtures.products.refund;
    await signUp(page, fixtures.token);
    await addToCart(page, product, 1);
    await placeOrder(page, 'Visa ending 4242');
    await arriveOnOrderPage(page);
    await waitForStatus(page, page.locator('.order-status'), 'PAID');
    const number = (await page.getByRole('heading', { level: 1 }).textContent()).replace('Order ', '');
    await admin.waitForAvailable(product.id, 4);

    await page.getByRole('link', { name: 'Orders', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Your orders' }).waitFor();
    const entry = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: `Order ${number}` }) });
    await entry.waitFor();
    await audit('order-history');
    await entry.getByRole('button', { name: `Cancel and refund ${number}` }).click();
    await entry.getByRole('button', { name: 'Yes, cancel and refund' }).click();
    await waitForStatus(page, entry, 'REFUNDED');
    await audit('order-history-refunded');
    await admin.waitForAvailable(product.id, 5);
  },
};

const sessionSurvivesReload = {
  name: 'the session survives a reload, an expired access token is refreshed, sign-out ends it',
  slug: 'session',
  async run({ page, fixtures }) {
    const shopper = await signUp(page, fixtures.token);
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByText(shopper.name).waitFor();

    // The next authenticated request answers UNAUTHENTICATED once, as for an
    // expired token: the client must refresh and retry, the shopper notices nothing.
    let rejected = false;
    let refreshes = 0;
    await page.route('**/graphql', async (route) => {
      const request = route.request();
      const operation = request.postDataJSON()?.operationName;
      if (operation === 'RefreshToken') refreshes += 1;
      if (!rejected && operation !== 'RefreshToken' && request.headers().authorization) {
        rejected = true;
        return route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({ data: null, errors: [{ message: 'Unexpected error', extensions: { code: 'UNAUTHENTICATED' } }] }),
        });
      }
      return route.fallback();
    });
    await visit(page, '/orders');
    await page.getByText('You have no orders yet.').waitFor();
    assert(rejected, 'no authenticated request was made');
    assert(refreshes >= 2, `expected a refresh on load and one after UNAUTHENTICATED, saw ${refreshes}`);
    await page.unroute('**/graphql');

    // Signing out on a protected page asks to sign in again; a reload does not bring the session back.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.goto('/');
    await page.getByRole('heading', { level: 1, name: 'Catalogue' }).waitFor();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    assert((await page.getByRole('button', { name: 'Sign out' }).count()) === 0, 'still signed in after signing out and reloading');
  },
};

const phone = {
  name: 'a phone-sized viewport (390x844) renders the catalogue and the cart',
  slug: 'phone',
  context: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  async run({ page, audit, fixtures }) {
    const product = fixtures.products.browse0;
    await signUp(page, fixtures.token);
    await visit(page, `/?category=${encodeURIComponent(fixtures.category.id)}`);
    await page.locator('.product-card').first().waitFor();
    assert(await fitsViewport(page), 'the catalogue is wider than the phone screen');
    await audit('phone-catalogue');
    await addToCart(page, product, 1);
    await visit(page, '/cart');
    await page.getByRole('row', { name: new RegExp(product.name) }).waitFor();
    assert(await fitsViewport(page), 'the cart is wider than the phone screen');
    const checkout = page.getByRole('link', { name: 'Checkout' });
    await checkout.scrollIntoViewIfNeeded();
    assert(await checkout.isVisible(), 'the checkout button is not visible on a phone');
    await audit('phone-cart');
  },
};

export const scenarios = {
  setUp,
  tearDown,
  list: [browseAndBuy, declinedCard, outOfStock, cancelAndRefund, sessionSurvivesReload, phone],
};
