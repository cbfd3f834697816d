//! The subgraph's SDL equals the committed `schema/users.graphql`.

use async_graphql::SDLExportOptions;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_schema_matches_the_committed_sdl() {
    let app = spawn_app().await;
    let schema =
        users::graphql::build_schema(app.accounts.clone(), platform::config::Profile::Development);
    let sdl = schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive());
    assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
    testkit::assert_schema("users", &sdl);
}
