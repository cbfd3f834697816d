//! The context of the request (or event) being handled — its correlation id
//! and W3C trace context — available anywhere in its task, so the events it
//! causes carry the same ids without every use case passing them along.

use std::future::Future;

/// The header that carries the correlation id across Kong, the router and services.
pub const CORRELATION_ID: &str = "x-correlation-id";

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The ids that tie together everything one client request set in motion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The `X-Correlation-ID` of the request (from Kong, the router, or made here).
    pub correlation_id: Option<String>,
    /// The W3C `traceparent` of the request.
    pub traceparent: Option<String>,
    /// The client's address: the last `X-Forwarded-For` hop (the one the edge,
    /// Kong, appended; earlier hops are the client's own claims), else the
    /// peer of the connection.
    pub client_address: Option<String>,
}

impl RequestContext {
    /// The context of the current task (empty outside any).
    pub fn current() -> RequestContext {
        CURRENT.try_with(Clone::clone).unwrap_or_default()
    }

    /// Runs `future` with this context.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The context of an HTTP request's headers.
    pub fn from_headers(headers: &http::HeaderMap) -> RequestContext {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|hop| hop.trim().parse::<std::net::IpAddr>().ok())
            .map(|ip| ip.to_string());
        RequestContext {
            correlation_id: get(CORRELATION_ID),
            traceparent: get("traceparent"),
            client_address: forwarded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_context_is_visible_inside_its_scope_only() {
        let ctx = RequestContext {
            correlation_id: Some("c-1".into()),
            ..Default::default()
        };
        let inside = ctx.clone().scope(async { RequestContext::current() }).await;
        assert_eq!(inside, ctx);
        assert_eq!(RequestContext::current(), RequestContext::default());
    }
}
