//! The subgraph's SDL equals the committed `schema/payments.graphql`.

use async_graphql::SDLExportOptions;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_schema_matches_the_committed_sdl() {
    let app = spawn_app().await;
    let schema = payments::graphql::build_schema(
        app.payments.clone(),
        platform::config::Profile::Development,
    );
    let sdl = schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive());
    assert!(sdl.contains("type Payment @key(fields: \"id\")"), "{sdl}");
    testkit::assert_schema("payments", &sdl);
}
