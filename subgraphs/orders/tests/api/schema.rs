//! The subgraph's SDL equals the committed `schema/orders.graphql`.

use async_graphql::SDLExportOptions;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_schema_matches_the_committed_sdl() {
    let app = spawn_app().await;
    let schema =
        orders::graphql::build_schema(app.orders.clone(), platform::config::Profile::Development);
    let sdl = schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive());
    assert!(sdl.contains("type Order @key(fields: \"id\")"), "{sdl}");
    assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
    testkit::assert_schema("orders", &sdl);
}
