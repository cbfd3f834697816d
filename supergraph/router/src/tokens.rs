//! Bad tokens end at the edge: see [`RefuseBadTokens`].

use hive_router::executor::plugins::hooks::on_execute::{
    OnExecuteStartHookPayload, OnExecuteStartHookResult,
};
use hive_router::executor::plugins::hooks::on_plugin_init::{
    OnPluginInitPayload, OnPluginInitResult,
};
use hive_router::executor::plugins::plugin_trait::{RouterPlugin, StartHookPayload};
use hive_router::{async_trait, http, GraphQLError};

/// Refuses a request that carries an access token the router's JWT check did
/// not accept (forged, expired, of an unknown key), before any subgraph is
/// called. hive-router 0.2.19 can only refuse such tokens together with
/// requests that carry none (`require_authentication`), and the shop serves
/// anonymous callers: this plugin keeps anonymous requests and refuses bad
/// tokens, with the code the subgraphs use (`UNAUTHENTICATED`, HTTP 401) so a
/// client refreshes its token on one code, wherever it was refused.
#[derive(Default)]
pub struct RefuseBadTokens;

#[async_trait]
impl RouterPlugin for RefuseBadTokens {
    type Config = ();

    fn plugin_name() -> &'static str {
        "refuse_bad_tokens"
    }

    fn on_plugin_init(payload: OnPluginInitPayload<Self>) -> OnPluginInitResult<Self> {
        payload.initialize_plugin_with_defaults()
    }

    async fn on_execute<'exec>(
        &'exec self,
        payload: OnExecuteStartHookPayload<'exec>,
    ) -> OnExecuteStartHookResult<'exec> {
        let carries_token = payload
            .router_http_request
            .headers
            .contains_key(http::header::AUTHORIZATION);
        let verified = payload
            .request_context
            .read()
            .map(|context| context.authentication().jwt_status() == Some(&true))
            .unwrap_or(false);
        if carries_token && !verified {
            return payload.end_with_graphql_error(
                GraphQLError::from_message_and_code(
                    "the access token is invalid or expired; sign in again or refresh it",
                    "UNAUTHENTICATED",
                ),
                http::StatusCode::UNAUTHORIZED,
            );
        }
        payload.proceed()
    }
}
