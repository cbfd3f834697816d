//! Errors a client can act on, and nothing else: see [`ClientErrors`].

use hive_router::executor::plugins::hooks::on_graphql_error::{
    OnGraphQLErrorHookPayload, OnGraphQLErrorHookResult,
};
use hive_router::executor::plugins::hooks::on_graphql_params::{
    OnGraphQLParamsStartHookPayload, OnGraphQLParamsStartHookResult,
};
use hive_router::executor::plugins::hooks::on_plugin_init::{
    OnPluginInitPayload, OnPluginInitResult,
};
use hive_router::executor::plugins::plugin_trait::{RouterPlugin, StartHookPayload};
use hive_router::{async_trait, http, tracing, GraphQLError};

/// Codes whose errors the caller caused and can act on: their messages and
/// their [`DETAILS`] reach the client. The subgraphs' own client codes, then
/// the router's request, document, limit and trusted-document codes.
const CLIENT_CODES: &[&str] = &[
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "CONFLICT",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
    "BAD_REQUEST",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "MAX_DEPTH_EXCEEDED",
    "MAX_ALIASES_EXCEEDED",
    "MAX_DIRECTIVES_EXCEEDED",
    "TOKEN_LIMIT_EXCEEDED",
    "COST_ESTIMATED_TOO_EXPENSIVE",
    "COST_INVALID_SLICING_ARGUMENTS",
    "PERSISTED_DOCUMENT_NOT_FOUND",
    "PERSISTED_DOCUMENT_ID_REQUIRED",
    "PERSISTED_DOCUMENT_EXTRACTION_FAILED",
    "CSRF_PREVENTION_FAILED",
    "INTROSPECTION_DISABLED",
    "MUTATION_NOT_ALLOWED_OVER_HTTP_GET",
    "METHOD_NOT_ALLOWED",
    "MISSING_CONTENT_TYPE_HEADER",
    "UNSUPPORTED_CONTENT_TYPE",
    "UNPROCESSABLE_QUERY_PARAMS",
    "MISSING_QUERY_PARAM",
    "SUBSCRIPTIONS_TRANSPORT_NOT_SUPPORTED",
];

/// The machine-readable details a client error may carry besides its code:
/// the input path of a bad value, the lines of a stock conflict, the broken
/// validation rule.
const DETAILS: &[&str] = &["field", "lines", "rule"];

/// What an internal error says (the details are in the logs, under the
/// request's correlation id, which the response carries in `x-correlation-id`).
const OPAQUE: &str = "internal error; if it persists, report the x-correlation-id of the response";

/// The router's error policy, in place of its all-or-nothing masking (which
/// hides every subgraph message, the useful ones too): a client error keeps
/// its message and details; a validation error, whatever rule it broke, is
/// `GRAPHQL_VALIDATION_FAILED` (the rule in `extensions.rule`); anything else
/// (a subgraph that failed, a plan that could not run) is opaque and logged.
/// A batch (a JSON array of operations) is refused, saying so.
#[derive(Default)]
pub struct ClientErrors;

/// Applies the policy to one error.
fn policy(error: &mut GraphQLError) {
    let code = error.extensions.code.clone().unwrap_or_default();
    // The validation rules' own codes are in PascalCase (FieldsOnCorrectType).
    if code.chars().any(|c| c.is_ascii_lowercase()) {
        error
            .extensions
            .extensions
            .insert("rule".into(), code.as_str().into());
        error.extensions.code = Some("GRAPHQL_VALIDATION_FAILED".into());
    } else if !CLIENT_CODES.contains(&code.as_str()) {
        tracing::warn!(code = %code, message = %error.message, "internal error, answered opaquely");
        error.message = OPAQUE.into();
        if code.is_empty() {
            error.extensions.code = Some("INTERNAL_SERVER_ERROR".into());
        }
        error.extensions.extensions.clear();
    }
    // Which subgraph answered is the router's business, not the client's.
    error.extensions.service_name = None;
    error.extensions.affected_path = None;
    error
        .extensions
        .extensions
        .retain(|key, _| DETAILS.contains(&key.as_str()));
}

#[async_trait]
impl RouterPlugin for ClientErrors {
    type Config = ();

    fn plugin_name() -> &'static str {
        "client_errors"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        payload.initialize_plugin_with_defaults()
    }

    async fn on_graphql_params<'exec>(
        &'exec self,
        payload: OnGraphQLParamsStartHookPayload<'exec>,
    ) -> OnGraphQLParamsStartHookResult<'exec> {
        let batch = payload
            .body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'[');
        if batch {
            return payload.end_with_graphql_error(
                GraphQLError::from_message_and_code(
                    "batched requests (a JSON array of operations) are not supported; send one operation per request",
                    "BAD_REQUEST",
                ),
                http::StatusCode::BAD_REQUEST,
            );
        }
        payload.proceed()
    }

    fn on_graphql_error<'req>(
        &'req self,
        mut payload: OnGraphQLErrorHookPayload<'req>,
    ) -> OnGraphQLErrorHookResult<'req> {
        policy(&mut payload.error);
        payload.proceed()
    }
}
