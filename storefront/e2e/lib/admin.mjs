// The admin side of the tests: GraphQL calls to the router that create the
// products the scenarios buy, with known stock, and read stock back.

const TIMEOUT_MS = 15_000;

export class Admin {
  #endpoint;
  #token = null;

  constructor(routerUrl) {
    this.#endpoint = new URL('/graphql', routerUrl).toString();
  }

  async call(query, variables = {}) {
    const headers = { 'content-type': 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const response = await fetch(this.#endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const body = await response.json().catch(() => null);
    if (!body || body.errors?.length || !body.data) {
      const detail = body?.errors?.map((e) => `${e.message} (${e.extensions?.code ?? 'no code'})`).join('; ');
      throw new Error(`admin call failed (HTTP ${response.status}): ${detail ?? 'no GraphQL body'}`);
    }
    return body.data;
  }

  async signIn(email, password) {
    const data = await this.call(
      'mutation AdminLogin($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken user { role } } }',
      { email, password },
    );
    if (data.login.user.role !== 'ADMIN') throw new Error(`${email} is not an administrator`);
    this.#token = data.login.accessToken;
  }

  async createCategory(name, slug) {
    const data = await this.call(
      'mutation E2ECategory($input: CreateCategoryInput!) { createCategory(input: $input) { id name } }',
      { input: { name, slug, description: 'Created by the storefront browser tests' } },
    );
    return data.createCategory;
  }

  /** Creates a product; resolves to { id, name, sku, price } */
  async createProduct({ sku, name, price, categoryId, stock }) {
    const data = await this.call(
      `mutation E2EProduct($input: CreateProductInput!) {
         createProduct(input: $input) { id name sku price { amount currency } }
       }`,
      {
        input: {
          sku,
          name,
          description: `${name}, created by the storefront browser tests.`,
          price: { amount: price, currency: 'EUR' },
          categoryId,
          stockOnHand: stock,
        },
      },
    );
    return data.createProduct;
  }

  async adjustStock(productId, delta) {
    const data = await this.call(
      'mutation E2EAdjust($id: ID!, $delta: Int!) { adjustStock(productId: $id, delta: $delta) { availableQuantity } }',
      { id: productId, delta },
    );
    return data.adjustStock.availableQuantity;
  }

  async archiveProduct(productId) {
    await this.call('mutation E2EArchive($id: ID!) { archiveProduct(id: $id) { id } }', { id: productId });
  }

  async available(productId) {
    const data = await this.call('query E2EStock($id: ID!) { product(id: $id) { availableQuantity } }', { id: productId });
    return data.product.availableQuantity;
  }

  /** Waits (bounded) until the product's available quantity is `expected`. */
  async waitForAvailable(productId, expected, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      last = await this.available(productId);
      if (last === expected) return;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(`available quantity stayed ${last}, expected ${expected}`);
  }
}
