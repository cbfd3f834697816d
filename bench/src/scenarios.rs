//! The requests of each scenario. Every request differs from the others in
//! flight (variables, customer, page size), so no gateway can merge them,
//! except in [`identical`] (scenario 7), which sends one query from every
//! client to show the router's deduplication.

use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;

use crate::load::{Gen, Req};

/// Scenario 1: a product listing page (one subgraph, from its database).
pub const LISTING: &str = "query Listing($first: Int!, $sort: ProductSort!, $min: Int!) {
  products(first: $first, sort: $sort, filter: {minPrice: $min}) {
    edges { node { id name sku price { amount currency } availableQuantity category { name } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Scenario 2: a customer's last 10 orders with items, products and payments
/// (users, orders, products and payments).
pub const CUSTOMER_PAGE: &str = "query CustomerPage {
  me {
    name
    orders(first: 10) { edges { node {
      number status total { amount currency }
      items { quantity product { name price { amount } } }
      payment { status card { brand last4 } }
    } } }
  }
}";

/// Scenario 5: full-text search.
pub const SEARCH: &str = "query Search($q: String!, $first: Int!) {
  products(first: $first, filter: {search: $q}) {
    edges { node { id name price { amount } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Scenario 5: a page deep in the list (keyset: after a cursor).
pub const DEEP_PAGE: &str = "query DeepPage($first: Int!, $after: String!) {
  products(first: $first, sort: PRICE_ASC, after: $after) {
    edges { node { id name price { amount } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// Signs up one customer (the memory scenario's burst).
pub const REGISTER: &str = "mutation Register($e: String!) {
  register(input: {email: $e, password: \"correct horse 1\", name: \"Burst\"}) { accessToken }
}";

fn body(query: &str, operation: &str, variables: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"query": query, "operationName": operation, "variables": variables}))
        .unwrap_or_default()
}

const SORTS: [&str; 4] = ["NEWEST", "PRICE_ASC", "PRICE_DESC", "NAME_ASC"];

/// Listing pages of 10 to 30 products, in any order, above a random price.
pub fn listing(url: &str) -> Gen {
    let url: Arc<str> = url.into();
    Arc::new(move |rng| Req {
        url: url.clone(),
        body: body(
            LISTING,
            "Listing",
            json!({
                "first": rng.gen_range(10..=30),
                "sort": SORTS[rng.gen_range(0..SORTS.len())],
                "min": rng.gen_range(0..50_000),
            }),
        ),
        token: None,
    })
}

/// The same listing page from every client.
pub fn identical(url: &str) -> Gen {
    let url: Arc<str> = url.into();
    let body = body(
        LISTING,
        "Listing",
        json!({"first": 20, "sort": "NEWEST", "min": 0}),
    );
    Arc::new(move |_| Req {
        url: url.clone(),
        body: body.clone(),
        token: None,
    })
}

/// A random customer's page.
pub fn customer_page(url: &str, tokens: Arc<Vec<Arc<str>>>) -> Gen {
    let url: Arc<str> = url.into();
    let body = body(CUSTOMER_PAGE, "CustomerPage", json!({}));
    Arc::new(move |rng| Req {
        url: url.clone(),
        body: body.clone(),
        token: tokens.choose(rng).cloned(),
    })
}

/// Searches for one or two words of the catalogue.
pub fn search(url: &str, words: Arc<Vec<&'static str>>) -> Gen {
    let url: Arc<str> = url.into();
    Arc::new(move |rng| {
        let first = words.choose(rng).copied().unwrap_or("lamp");
        let q = if rng.gen_bool(0.5) {
            first.to_string()
        } else {
            format!("{first} {}", words.choose(rng).copied().unwrap_or("oak"))
        };
        Req {
            url: url.clone(),
            body: body(
                SEARCH,
                "Search",
                json!({"q": q, "first": rng.gen_range(10..=30)}),
            ),
            token: None,
        }
    })
}

/// A page of 10 to 30 after a cursor from the second half of the list.
pub fn deep_page(url: &str, cursors: Arc<Vec<String>>) -> Gen {
    let url: Arc<str> = url.into();
    Arc::new(move |rng| {
        let deep = &cursors[cursors.len() / 2..];
        let after = deep.choose(rng).cloned().unwrap_or_default();
        Req {
            url: url.clone(),
            body: body(
                DEEP_PAGE,
                "DeepPage",
                json!({"first": rng.gen_range(10..=30), "after": after}),
            ),
            token: None,
        }
    })
}

/// The `endCursor` of every page of 100 through the list sorted by price.
pub async fn cursors(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<String>> {
    let mut cursors = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = "query Walk($after: String) { products(first: 100, sort: PRICE_ASC, after: $after) { pageInfo { hasNextPage endCursor } } }";
        let res: serde_json::Value = http
            .post(url)
            .json(&json!({"query": query, "variables": {"after": after}}))
            .send()
            .await?
            .json()
            .await?;
        let info = &res["data"]["products"]["pageInfo"];
        let Some(end) = info["endCursor"].as_str() else {
            anyhow::bail!("walking the catalogue: {res}");
        };
        cursors.push(end.to_string());
        if info["hasNextPage"] != true {
            return Ok(cursors);
        }
        after = Some(end.to_string());
    }
}
