//! The seed, written straight into the services' databases after they have
//! migrated them (through the services' APIs it would take minutes: every
//! sign-up hashes a password, every order runs the saga): a catalogue of
//! products in categories, customers, and each customer's order history (PAID
//! orders with their lines and status history in orders, one SUCCEEDED card
//! payment per order in payments), consistent across the databases as the saga
//! would have left them.

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

/// A product as the order history and the scenarios need it.
#[derive(Debug, Clone)]
pub struct SeedProduct {
    /// Its id.
    pub id: Uuid,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Price in cents (EUR).
    pub price: i64,
}

const ADJECTIVES: [&str; 16] = [
    "Nordic", "Classic", "Urban", "Vintage", "Minimal", "Cosy", "Bold", "Compact", "Deluxe",
    "Rustic", "Modern", "Sturdy", "Slim", "Bright", "Quiet", "Royal",
];
const MATERIALS: [&str; 12] = [
    "Oak", "Walnut", "Steel", "Linen", "Ceramic", "Copper", "Bamboo", "Slate", "Wool", "Glass",
    "Cotton", "Brass",
];
const NOUNS: [&str; 20] = [
    "Lamp",
    "Chair",
    "Table",
    "Mug",
    "Backpack",
    "Headphones",
    "Notebook",
    "Planter",
    "Shelf",
    "Rug",
    "Vase",
    "Clock",
    "Mirror",
    "Cushion",
    "Stool",
    "Kettle",
    "Bowl",
    "Blanket",
    "Desk",
    "Speaker",
];
const COLLECTIONS: [&str; 8] = [
    "harbour", "meadow", "canyon", "glacier", "orchard", "summit", "lagoon", "prairie",
];

/// Units in stock of each saga product: more than any run sells.
const SAGA_STOCK: i32 = 10_000_000;

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

/// Seeds `products` products (the first `saga` of them with plenty of stock)
/// in 20 categories.
pub async fn catalogue(
    db: &PgPool,
    products: usize,
    saga: usize,
) -> anyhow::Result<(Vec<SeedProduct>, Vec<Uuid>)> {
    let mut rng = StdRng::seed_from_u64(42);
    let categories: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
    let names: Vec<String> = (0..20).map(|i| format!("Bench category {i:02}")).collect();
    let slugs: Vec<String> = (0..20).map(|i| format!("bench-{i:02}")).collect();
    sqlx::query(
        "INSERT INTO categories (id, name, slug, description, created_at)
         SELECT id, name, slug, 'Seeded by the load tool.', now()
         FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS t(id, name, slug)",
    )
    .bind(&categories)
    .bind(&names)
    .bind(&slugs)
    .execute(db)
    .await?;

    let mut all = Vec::with_capacity(products);
    let mut saga_ids = Vec::new();
    for chunk_start in (0..products).step_by(2_000) {
        let n = (products - chunk_start).min(2_000);
        let (mut ids, mut skus, mut pnames, mut descs, mut prices, mut cats, mut stocks, mut ats) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for i in chunk_start..chunk_start + n {
            let id = Uuid::now_v7();
            let adjective = ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())];
            let material = MATERIALS[rng.gen_range(0..MATERIALS.len())];
            let noun = NOUNS[rng.gen_range(0..NOUNS.len())];
            let collection = COLLECTIONS[rng.gen_range(0..COLLECTIONS.len())];
            let name = format!("{adjective} {material} {noun} {}", i % 997);
            let price = rng.gen_range(4..1_500i64) * 100 + 99;
            let stock = if i < saga {
                SAGA_STOCK
            } else {
                rng.gen_range(0..100)
            };
            ids.push(id);
            skus.push(format!("BENCH-{i:06}"));
            descs.push(format!(
                "A {} {} {} from the {collection} collection, made to last.",
                adjective.to_lowercase(),
                material.to_lowercase(),
                noun.to_lowercase()
            ));
            prices.push(price);
            cats.push(categories[i % categories.len()]);
            stocks.push(stock);
            ats.push(epoch() + Duration::minutes(i as i64));
            all.push(SeedProduct {
                id,
                sku: format!("BENCH-{i:06}"),
                name: name.clone(),
                price,
            });
            pnames.push(name);
            if i < saga {
                saga_ids.push(id);
            }
        }
        sqlx::query(
            "INSERT INTO products (id, sku, name, description, price_amount, price_currency,
                                   category_id, stock_on_hand, created_at, updated_at)
             SELECT id, sku, name, description, price, 'EUR', category, stock, at, at
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int8[],
                         $6::uuid[], $7::int4[], $8::timestamptz[])
                  AS t(id, sku, name, description, price, category, stock, at)",
        )
        .bind(&ids)
        .bind(&skus)
        .bind(&pnames)
        .bind(&descs)
        .bind(&prices)
        .bind(&cats)
        .bind(&stocks)
        .bind(&ats)
        .execute(db)
        .await?;
    }
    Ok((all, saga_ids))
}

/// Seeds `n` customers (they never sign in: the tool signs their tokens, so
/// the password hash is a placeholder no password matches).
pub async fn customers(db: &PgPool, n: usize) -> anyhow::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let emails: Vec<String> = (0..n).map(|i| format!("customer{i}@bench.test")).collect();
    for (ids, emails) in ids.chunks(5_000).zip(emails.chunks(5_000)) {
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, role)
             SELECT id, email, 'Bench Customer', '$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVk$bm9wYXNzd29yZG1hdGNoZXN0aGlz', 'CUSTOMER'
             FROM UNNEST($1::uuid[], $2::text[]) AS t(id, email)",
        )
        .bind(ids)
        .bind(emails)
        .execute(db)
        .await?;
    }
    Ok(ids)
}

/// Seeds each customer's history: `min..=max` PAID orders of 1 to 3 lines,
/// with their status history, and one SUCCEEDED payment each. Returns how many.
pub async fn history(
    orders_db: &PgPool,
    payments_db: &PgPool,
    customers: &[Uuid],
    products: &[SeedProduct],
    (min, max): (usize, usize),
) -> anyhow::Result<usize> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut written = 0;
    for batch in customers.chunks(200) {
        let (mut o_id, mut o_user, mut o_total, mut o_at) = (vec![], vec![], vec![], vec![]);
        let (mut i_order, mut i_line, mut i_product, mut i_sku, mut i_name, mut i_qty, mut i_price) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for customer in batch {
            let count = rng.gen_range(min..=max);
            for k in 0..count {
                let at = Utc::now() - Duration::days(400) + Duration::hours(k as i64 * 24 + 1);
                let id = Uuid::now_v7();
                let mut total = 0i64;
                for line in 0..rng.gen_range(1..=3i32) {
                    let p = &products[rng.gen_range(0..products.len())];
                    let qty = rng.gen_range(1..=3);
                    total += p.price * qty as i64;
                    i_order.push(id);
                    i_line.push(line);
                    i_product.push(p.id);
                    i_sku.push(p.sku.clone());
                    i_name.push(p.name.clone());
                    i_qty.push(qty);
                    i_price.push(p.price);
                }
                o_id.push(id);
                o_user.push(*customer);
                o_total.push(total);
                o_at.push(at);
            }
        }
        let mut tx = orders_db.begin().await?;
        // No NOTIFY to the orders service per history row (its live-status
        // trigger): the seed is history, nobody follows it.
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO orders (id, user_id, status, currency, total_amount, shipping_address,
                                 payment_token, idempotency_key, request_hash, created_at, updated_at)
             SELECT id, uid, 'PAID', 'EUR', total,
                    '{\"name\":\"Bench\",\"line1\":\"1 Loop St\",\"line2\":null,\"city\":\"London\",\"postal_code\":\"N1\",\"country\":\"GB\"}'::jsonb,
                    'tok_visa', 'seed-' || id::text, 'seed', at, at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::timestamptz[]) AS t(id, uid, total, at)",
        )
        .bind(&o_id)
        .bind(&o_user)
        .bind(&o_total)
        .bind(&o_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_price, line_total)
             SELECT o, l, p, s, n, q, u, q * u
             FROM UNNEST($1::uuid[], $2::int4[], $3::uuid[], $4::text[], $5::text[], $6::int4[], $7::int8[])
                  AS t(o, l, p, s, n, q, u)",
        )
        .bind(&i_order)
        .bind(&i_line)
        .bind(&i_product)
        .bind(&i_sku)
        .bind(&i_name)
        .bind(&i_qty)
        .bind(&i_price)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_status_history (order_id, status, reason, at)
             SELECT id, s.status, s.reason, at + s.delay
             FROM UNNEST($1::uuid[], $2::timestamptz[]) AS t(id, at),
                  (VALUES ('PENDING', 'placed', interval '0'),
                          ('AWAITING_PAYMENT', NULL, interval '20 milliseconds'),
                          ('PAID', NULL, interval '60 milliseconds')) AS s(status, reason, delay)
             ORDER BY at, s.delay",
        )
        .bind(&o_id)
        .bind(&o_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let payment_ids: Vec<Uuid> = o_id.iter().map(|_| Uuid::now_v7()).collect();
        sqlx::query(
            "INSERT INTO payments (id, order_id, user_id, amount, currency, status, card_brand,
                                   card_last4, provider_reference, charge_attempts, created_at, updated_at)
             SELECT id, o, u, a, 'EUR', 'SUCCEEDED', 'VISA', '4242', 'ch_seed_' || o::text, 1, at, at
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[], $5::timestamptz[]) AS t(id, o, u, a, at)",
        )
        .bind(&payment_ids)
        .bind(&o_id)
        .bind(&o_user)
        .bind(&o_total)
        .bind(&o_at)
        .execute(payments_db)
        .await?;
        written += o_id.len();
    }
    Ok(written)
}

/// The words of product names and descriptions, as search terms.
pub fn words() -> Vec<&'static str> {
    ADJECTIVES
        .iter()
        .chain(MATERIALS.iter())
        .chain(NOUNS.iter())
        .chain(COLLECTIONS.iter())
        .copied()
        .collect()
}

/// Refreshes the planner's statistics after the bulk load.
pub async fn analyze(db: &PgPool) -> anyhow::Result<()> {
    sqlx::query("ANALYZE").execute(db).await?;
    Ok(())
}
