//! The demo catalogue: a deterministic set of categories and products generated
//! from word lists, so every replica (and every run) produces exactly the same
//! ids, SKUs, prices and stock. Seeding inserts what is missing and skips what
//! exists, so it is idempotent and safe when several replicas start at once.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use platform::{Currency, Money, Result};
use uuid::Uuid;

use crate::domain::{Attribute, Category, Product};
use crate::store::{CatalogStore, SeedOutcome};

/// Products generated per category.
pub const PRODUCTS_PER_CATEGORY: usize = 30;

struct CategorySpec {
    slug: &'static str,
    name: &'static str,
    description: &'static str,
    sku_prefix: &'static str,
    nouns: [&'static str; 3],
    price_range: (i64, i64),
}

const CATEGORIES: [CategorySpec; 8] = [
    CategorySpec {
        slug: "lamps",
        name: "Lamps",
        description: "Desk, floor and pendant lamps for every corner.",
        sku_prefix: "LAMP",
        nouns: ["Desk Lamp", "Floor Lamp", "Pendant Light"],
        price_range: (1_900, 24_900),
    },
    CategorySpec {
        slug: "chairs",
        name: "Chairs",
        description: "Dining, lounge and office chairs.",
        sku_prefix: "CHAIR",
        nouns: ["Dining Chair", "Lounge Chair", "Stool"],
        price_range: (3_900, 59_900),
    },
    CategorySpec {
        slug: "tables",
        name: "Tables",
        description: "Coffee, side and dining tables.",
        sku_prefix: "TABLE",
        nouns: ["Coffee Table", "Side Table", "Dining Table"],
        price_range: (4_900, 129_900),
    },
    CategorySpec {
        slug: "mugs-and-cups",
        name: "Mugs & Cups",
        description: "Mugs, cups and tumblers for hot and cold drinks.",
        sku_prefix: "MUG",
        nouns: ["Mug", "Espresso Cup", "Tumbler"],
        price_range: (600, 3_900),
    },
    CategorySpec {
        slug: "backpacks",
        name: "Backpacks",
        description: "Backpacks and bags for the commute and the trail.",
        sku_prefix: "BAG",
        nouns: ["Backpack", "Tote Bag", "Duffel Bag"],
        price_range: (2_900, 19_900),
    },
    CategorySpec {
        slug: "headphones",
        name: "Headphones",
        description: "Wired and wireless headphones and earbuds.",
        sku_prefix: "AUDIO",
        nouns: ["Headphones", "Earbuds", "Speaker"],
        price_range: (1_900, 39_900),
    },
    CategorySpec {
        slug: "notebooks",
        name: "Notebooks",
        description: "Notebooks, journals and planners.",
        sku_prefix: "NOTE",
        nouns: ["Notebook", "Journal", "Planner"],
        price_range: (400, 4_900),
    },
    CategorySpec {
        slug: "plants",
        name: "Plants",
        description: "Indoor plants and planters.",
        sku_prefix: "PLANT",
        nouns: ["Monstera", "Fern", "Planter"],
        price_range: (900, 14_900),
    },
];

const ADJECTIVES: [&str; 10] = [
    "Nordic", "Classic", "Urban", "Vintage", "Minimal", "Cosy", "Bold", "Compact", "Deluxe",
    "Rustic",
];
const MATERIALS: [&str; 10] = [
    "Oak", "Walnut", "Steel", "Linen", "Ceramic", "Copper", "Bamboo", "Slate", "Ivory", "Sage",
];

/// A stable 64-bit mix (SplitMix64), so "random" values never change.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A UUID v7 derived from a timestamp and a seed instead of the clock and
/// randomness, so every replica computes the same id.
fn stable_id(at: DateTime<Utc>, seed: u64) -> Uuid {
    let a = mix(seed).to_be_bytes();
    let b = mix(seed ^ 0xA5A5).to_be_bytes();
    let bytes = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], b[0], b[1]];
    uuid::Builder::from_unix_timestamp_millis(at.timestamp_millis().max(0) as u64, &bytes)
        .into_uuid()
}

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default() // 2024-01-01T00:00:00Z
}

/// The demo catalogue: 8 categories of 30 products each (240 in all).
pub fn demo_catalogue() -> (Vec<Category>, Vec<Product>) {
    let mut categories = Vec::with_capacity(CATEGORIES.len());
    let mut products = Vec::with_capacity(CATEGORIES.len() * PRODUCTS_PER_CATEGORY);
    for (c, spec) in CATEGORIES.iter().enumerate() {
        let category_created = epoch() + Duration::hours(c as i64);
        let category = Category {
            id: stable_id(category_created, 1_000 + c as u64),
            name: spec.name.to_string(),
            slug: spec.slug.to_string(),
            description: spec.description.to_string(),
            created_at: category_created,
        };
        for i in 0..PRODUCTS_PER_CATEGORY {
            let n = (c * PRODUCTS_PER_CATEGORY + i) as u64;
            let h = mix(n);
            let adjective = ADJECTIVES[i % ADJECTIVES.len()];
            let material = MATERIALS[(i / ADJECTIVES.len() * 3 + c + i) % MATERIALS.len()];
            let noun = spec.nouns[i % spec.nouns.len()];
            let name = format!("{adjective} {material} {noun}");
            let sku = format!("{}-{:04}", spec.sku_prefix, i + 1);
            let (low, high) = spec.price_range;
            let price = (low + (h % (high - low) as u64) as i64) / 100 * 100 + 99;
            let stock = if n % 7 == 3 {
                0
            } else {
                (mix(h) % 60) as i32 + 1
            };
            let created = epoch() + Duration::days(1) + Duration::minutes(n as i64 * 37);
            products.push(Product {
                id: stable_id(created, n),
                description: format!(
                    "The {name} is a {} take on the everyday {}, finished in {}. \
                     Part of our {adjective} collection.",
                    adjective.to_lowercase(),
                    noun.to_lowercase(),
                    material.to_lowercase()
                ),
                name,
                price: Money::new(price, Currency::EUR),
                category_id: category.id,
                images: vec![
                    format!("https://picsum.photos/seed/{sku}/400"),
                    format!("https://picsum.photos/seed/{sku}-2/400"),
                ],
                attributes: vec![
                    Attribute {
                        name: "material".into(),
                        value: material.to_lowercase(),
                    },
                    Attribute {
                        name: "collection".into(),
                        value: adjective.into(),
                    },
                    Attribute {
                        name: "warranty".into(),
                        value: match h % 3 {
                            0 => "1 year".to_string(),
                            n => format!("{} years", n + 1),
                        },
                    },
                ],
                sku,
                archived: false,
                stock_on_hand: stock,
                reserved: 0,
                created_at: created,
                updated_at: created,
            });
        }
        categories.push(category);
    }
    (categories, products)
}

/// Inserts whatever of the demo catalogue is missing. A demo category whose slug
/// already exists under another id keeps the existing category, and its demo
/// products go there.
pub async fn seed_demo(store: &dyn CatalogStore) -> Result<SeedOutcome> {
    let (categories, mut products) = demo_catalogue();
    let inserted = store.insert_missing(&categories, &[]).await?;
    let by_slug: HashMap<String, Uuid> = store
        .list_categories()
        .await?
        .into_iter()
        .map(|c| (c.slug, c.id))
        .collect();
    let actual: HashMap<Uuid, Uuid> = categories
        .iter()
        .filter_map(|c| by_slug.get(&c.slug).map(|id| (c.id, *id)))
        .collect();
    for p in &mut products {
        if let Some(id) = actual.get(&p.category_id) {
            p.category_id = *id;
        }
    }
    let more = store.insert_missing(&[], &products).await?;
    Ok(SeedOutcome {
        categories: inserted.categories,
        products: more.products,
    })
}

/// Seeds the demo catalogue when the store has no products yet; returns what was
/// inserted, or `None` when the catalogue was not empty.
pub async fn seed_if_empty(store: &dyn CatalogStore) -> Result<Option<SeedOutcome>> {
    if store.count_products().await? > 0 {
        return Ok(None);
    }
    let outcome = seed_demo(store).await?;
    tracing::info!(
        categories = outcome.categories,
        products = outcome.products,
        "seeded the demo catalogue"
    );
    Ok(Some(outcome))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::{Sku, Slug};
    use std::collections::HashSet;

    #[test]
    fn the_demo_catalogue_is_large_valid_and_deterministic() {
        let (categories, products) = demo_catalogue();
        assert!(categories.len() >= 6);
        assert!(products.len() >= 200);
        let skus: HashSet<&str> = products.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(skus.len(), products.len(), "SKUs are unique");
        let ids: HashSet<Uuid> = products.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), products.len(), "ids are unique");
        for p in &products {
            assert!(Sku::parse(&p.sku).is_ok(), "{}", p.sku);
            assert!(p.price.amount >= 0);
            assert_eq!(p.id.get_version_num(), 7);
        }
        for c in &categories {
            assert!(Slug::parse(&c.slug).is_ok(), "{}", c.slug);
        }
        assert!(products.iter().any(|p| p.stock_on_hand == 0));
        let again = demo_catalogue();
        assert_eq!(
            again.1.first().map(|p| p.id),
            products.first().map(|p| p.id)
        );
        assert_eq!(again.1[0].sku, "LAMP-0001");
    }
}
