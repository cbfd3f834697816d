//! Schema settings every subgraph shares.

use async_graphql::SchemaBuilder;

/// Whether the process runs in production (`SHOP_ENV=production`).
pub fn is_production() -> bool {
    std::env::var("SHOP_ENV").is_ok_and(|v| v.eq_ignore_ascii_case("production"))
}

/// In production, no introspection and no "did you mean" suggestions: both
/// reveal the schema to anyone. (Composition reads the committed SDL files and
/// `_service { sdl }`, which stays available.)
pub fn harden<Q, M, S>(
    builder: SchemaBuilder<Q, M, S>,
    production: bool,
) -> SchemaBuilder<Q, M, S> {
    if production {
        builder.disable_introspection().disable_suggestions()
    } else {
        builder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    struct Query;

    #[Object]
    impl Query {
        async fn ping(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn production_schemas_refuse_introspection_and_suggestions() {
        let schema = harden(Schema::build(Query, EmptyMutation, EmptySubscription), true).finish();
        let res = schema.execute("{ __schema { types { name } } }").await;
        let data = res.data.clone().into_json().unwrap_or_default();
        assert!(
            !res.errors.is_empty() || data["__schema"].is_null(),
            "introspection refused: {data}"
        );
        let res = schema.execute("{ pong }").await;
        assert!(
            !res.errors[0].message.contains("Did you mean"),
            "{}",
            res.errors[0].message
        );
        let dev = harden(
            Schema::build(Query, EmptyMutation, EmptySubscription),
            false,
        )
        .finish();
        let res = dev.execute("{ __schema { types { name } } }").await;
        let data = res.data.into_json().unwrap_or_default();
        assert!(
            data["__schema"]["types"].is_array(),
            "development keeps introspection: {data}"
        );
    }
}
