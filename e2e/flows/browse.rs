//! Browsing the catalogue through the router.

use e2e::Shop;
use serde_json::json;

#[tokio::test]
async fn a_visitor_browses_a_category_page_by_page_and_searches() {
    let shop = Shop::start().await;
    let admin = shop.admin_token();
    let res = shop
        .query(
            "mutation { createCategory(input: {name: \"Lamps\", slug: \"lamps\"}) { id } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let lamps = res["data"]["createCategory"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..5 {
        shop.create_product_in(
            &admin,
            &lamps,
            &format!("LAMP-{i:03}"),
            &format!("Desk lamp {i}"),
            1000 + i,
            5,
        )
        .await;
    }
    shop.create_product(&admin, "RUG-001", "Woollen rug", 9900, 2)
        .await;

    let page = "query($c: ID!, $after: String) { products(filter: {categoryId: $c}, sort: PRICE_ASC, first: 2, after: $after) {
        edges { node { name price { amount currency } category { name } } } pageInfo { hasNextPage endCursor } } }";
    let mut names = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let res = shop
            .query(page, json!({"c": lamps, "after": after}), None)
            .await;
        let conn = &res["data"]["products"];
        for e in conn["edges"].as_array().unwrap_or_else(|| panic!("{res}")) {
            assert_eq!(e["node"]["category"]["name"], "Lamps");
            names.push(e["node"]["name"].as_str().unwrap().to_string());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        names,
        (0..5).map(|i| format!("Desk lamp {i}")).collect::<Vec<_>>()
    );

    let res = shop
        .query(
            "{ products(filter: {search: \"rug\"}) { edges { node { sku } } } }",
            json!({}),
            None,
        )
        .await;
    assert_eq!(
        res["data"]["products"]["edges"],
        json!([{"node": {"sku": "RUG-001"}}]),
        "{res}"
    );
    shop.stop().await;
}
