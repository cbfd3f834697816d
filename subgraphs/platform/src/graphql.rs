//! Schema settings every subgraph shares.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, SchemaBuilder, ServerResult};
use lru::LruCache;

use crate::config::Profile;

/// How deep and how complex an operation a subgraph accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest selection accepted.
    pub depth: usize,
    /// Highest complexity accepted (async-graphql's count, page sizes included
    /// where a field declares them).
    pub complexity: usize,
}

/// The settings of a subgraph's schema that come from its configuration: the
/// profile, and limits that override the service's own (`None`: keep them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchemaSettings {
    /// Development or production.
    pub profile: Profile,
    /// Overrides the service's depth limit.
    pub max_depth: Option<usize>,
    /// Overrides the service's complexity limit.
    pub max_complexity: Option<usize>,
}

impl From<Profile> for SchemaSettings {
    fn from(profile: Profile) -> Self {
        SchemaSettings {
            profile,
            ..SchemaSettings::default()
        }
    }
}

impl SchemaSettings {
    /// The limits in force: the service's `own`, unless overridden.
    pub fn limits(&self, own: Limits) -> Limits {
        Limits {
            depth: self.max_depth.unwrap_or(own.depth),
            complexity: self.max_complexity.unwrap_or(own.complexity),
        }
    }
}

/// What every subgraph's schema gets: the [`ParseCache`]; the limits (the
/// service's `own`, unless `settings` override them); and in production no
/// introspection and no "did you mean" suggestions, both of which reveal the
/// schema to anyone. (Composition reads the committed SDL files and
/// `_service { sdl }`, which stays available.)
pub fn configure<Q, M, S>(
    builder: SchemaBuilder<Q, M, S>,
    settings: impl Into<SchemaSettings>,
    own: Limits,
) -> SchemaBuilder<Q, M, S> {
    let settings = settings.into();
    let limits = settings.limits(own);
    let builder = builder
        .extension(ParseCache::default())
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity);
    if settings.profile.is_production() {
        builder.disable_introspection().disable_suggestions()
    } else {
        builder
    }
}

/// Keeps the parsed form of recently seen operation documents. A subgraph
/// behind the router receives the same few documents over and over (only the
/// variables differ), and parsing one was a tenth of a subgraph's CPU per
/// request (README "Performance"). Bounded in entries and document size, so
/// distinct documents only evict each other; every check, extension and
/// validation still runs on every request.
#[derive(Clone)]
pub struct ParseCache {
    documents: Arc<Mutex<LruCache<String, ExecutableDocument>>>,
}

impl ParseCache {
    /// Documents kept.
    pub const ENTRIES: usize = 256;
    /// Longer documents are not kept.
    pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;

    fn cached(&self, query: &str) -> Option<ExecutableDocument> {
        let mut documents = self.documents.lock().ok()?;
        documents.get(query).cloned()
    }

    fn keep(&self, query: &str, document: ExecutableDocument) {
        if let Ok(mut documents) = self.documents.lock() {
            documents.put(query.to_string(), document);
        }
    }
}

impl Default for ParseCache {
    fn default() -> Self {
        let entries = NonZeroUsize::new(Self::ENTRIES).unwrap_or(NonZeroUsize::MIN);
        ParseCache {
            documents: Arc::new(Mutex::new(LruCache::new(entries))),
        }
    }
}

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Extension for ParseCache {
    /// Hands the request its parsed document, so only the text-to-tree step
    /// is skipped: every check, extension and validation still runs on it.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Longer documents are never kept: the usual path parses them.
        if request.query.len() <= Self::MAX_DOCUMENT_BYTES {
            match self.cached(&request.query) {
                Some(document) => request.set_parsed_query(document),
                // A document that does not parse is left to the usual path,
                // which reports the error.
                None => {
                    if let Ok(document) = request.parsed_query().cloned() {
                        self.keep(&request.query, document);
                    }
                }
            }
        }
        next.run(ctx, request).await
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

    const LIMITS: Limits = Limits {
        depth: 10,
        complexity: 100,
    };

    #[tokio::test]
    async fn the_configuration_overrides_a_services_own_limits() {
        let own = configure(
            Schema::build(Query, EmptyMutation, EmptySubscription),
            Profile::Development,
            LIMITS,
        )
        .finish();
        assert!(own.execute("{ ping }").await.errors.is_empty());
        let tight = configure(
            Schema::build(Query, EmptyMutation, EmptySubscription),
            SchemaSettings {
                max_complexity: Some(0),
                ..SchemaSettings::default()
            },
            LIMITS,
        )
        .finish();
        let refused = tight.execute("{ ping }").await;
        assert!(
            refused.errors[0].message.contains("too complex"),
            "{:?}",
            refused.errors
        );
    }

    #[tokio::test]
    async fn production_schemas_refuse_introspection_and_suggestions() {
        let schema = configure(
            Schema::build(Query, EmptyMutation, EmptySubscription),
            Profile::Production,
            LIMITS,
        )
        .finish();
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
        let dev = configure(
            Schema::build(Query, EmptyMutation, EmptySubscription),
            Profile::Development,
            LIMITS,
        )
        .finish();
        let res = dev.execute("{ __schema { types { name } } }").await;
        let data = res.data.into_json().unwrap_or_default();
        assert!(
            data["__schema"]["types"].is_array(),
            "development keeps introspection: {data}"
        );
    }

    #[tokio::test]
    async fn a_cached_document_answers_like_a_fresh_one_and_bad_ones_stay_refused() {
        let cache = ParseCache::default();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(cache.clone())
            .finish();
        for _ in 0..2 {
            let res = schema.execute("query Ping { ping }").await;
            assert!(res.errors.is_empty(), "{:?}", res.errors);
            assert_eq!(res.data.into_json().unwrap_or_default()["ping"], true);
        }
        assert!(cache.cached("query Ping { ping }").is_some(), "kept");
        for _ in 0..2 {
            let res = schema.execute("{ ping ").await;
            assert!(!res.errors.is_empty(), "a syntax error every time");
            let res = schema.execute("{ pong }").await;
            assert!(!res.errors.is_empty(), "validated every time");
        }
        assert!(cache.cached("{ ping ").is_none(), "errors are not kept");
        let long = format!("{{ ping {} }}", " ".repeat(ParseCache::MAX_DOCUMENT_BYTES));
        let res = schema.execute(long.as_str()).await;
        assert!(res.errors.is_empty(), "{:?}", res.errors);
        assert!(cache.cached(&long).is_none(), "long documents are not kept");
    }
}
