//! Other subgraphs (orders, through the router) resolving `Product` and
//! `Category` references with `_entities`.

use serde_json::json;

use crate::helpers::{product_input, spawn_app};

const ENTITIES: &str = "query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Product { id sku name price { amount currency } availableQuantity archived category { slug } }
    ... on Category { id slug name }
  }
}";

#[tokio::test]
async fn other_subgraphs_resolve_products_and_categories_by_reference() {
    let app = spawn_app().await;
    let lamps = app.create_category("lamps").await;
    let first = app
        .create_product(product_input("LAMP-0001", "Oak Desk Lamp", 4999, &lamps, 5))
        .await;
    let second = app
        .create_product(product_input("LAMP-0002", "Brass Lamp", 6999, &lamps, 0))
        .await;
    // Archived products still resolve: past orders reference them.
    let archived = app
        .as_admin(
            "mutation($id: ID!) { archiveProduct(id: $id) { id } }",
            json!({"id": second}),
        )
        .await;
    assert!(archived["errors"].is_null(), "{archived}");
    let unknown = uuid::Uuid::now_v7().to_string();

    let res = app
        .anonymous(
            ENTITIES,
            json!({"representations": [
                {"__typename": "Product", "id": second},
                {"__typename": "Category", "id": lamps},
                {"__typename": "Product", "id": first},
                {"__typename": "Product", "id": unknown},
            ]}),
        )
        .await;
    assert!(res["errors"].is_null(), "{res}");
    let entities = &res["data"]["_entities"];
    assert_eq!(entities[0]["sku"], "LAMP-0002");
    assert_eq!(entities[0]["archived"], true);
    assert_eq!(entities[0]["category"]["slug"], "lamps");
    assert_eq!(
        entities[1],
        json!({"__typename": "Category", "id": lamps, "slug": "lamps", "name": "LAMPS"})
    );
    assert_eq!(entities[2]["sku"], "LAMP-0001");
    assert_eq!(
        entities[2]["price"],
        json!({"amount": 4999, "currency": "EUR"})
    );
    assert_eq!(entities[2]["availableQuantity"], 5);
    assert_eq!(entities[3], json!(null));
}

#[tokio::test]
async fn the_subgraph_announces_its_entities_to_the_router() {
    let app = spawn_app().await;
    let res = app.anonymous("{ _service { sdl } }", json!({})).await;
    let sdl = res["data"]["_service"]["sdl"].as_str().unwrap();
    assert!(sdl.contains(r#"type Product @key(fields: "id")"#), "{sdl}");
    assert!(sdl.contains(r#"type Category @key(fields: "id")"#), "{sdl}");
}
