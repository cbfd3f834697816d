//! The one error type every service's use cases return, mapped once to a GraphQL
//! error with `extensions.code` and once to an RFC 9457 problem details response.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A result whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is invalid. GraphQL `BAD_USER_INPUT`, HTTP 400.
    #[error("{0}")]
    BadUserInput(String),
    /// One input value is invalid: `BAD_USER_INPUT` naming its path
    /// (`extensions.field` / the problem's `field`, e.g. `input.email`), so a
    /// form can show the message beside the field.
    #[error("{message}")]
    InvalidField {
        /// The path of the value in the request (`input.shippingAddress.city`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Stock that is not there: `CONFLICT` naming the short lines
    /// (`extensions.lines` / the problem's `lines`).
    #[error("{message}")]
    ShortLines {
        /// What happened.
        message: String,
        /// Each short line: the product, and how many were asked for and are left.
        lines: Vec<ShortLine>,
    },
    /// No valid credentials were presented. GraphQL `UNAUTHENTICATED`, HTTP 401.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this. GraphQL `FORBIDDEN`, HTTP 403.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist (or is not visible to the caller).
    /// GraphQL `NOT_FOUND`, HTTP 404.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a duplicate, a forbidden
    /// state transition, a stale version). GraphQL `CONFLICT`, HTTP 409.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts from this caller right now (sign-ups from one
    /// address, ...). GraphQL `RATE_LIMITED`, HTTP 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// A dependency (another service, the broker) is unavailable right now.
    /// GraphQL `SERVICE_UNAVAILABLE`, HTTP 503.
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected: logged with its cause chain, shown to clients only as
    /// "internal error". GraphQL `INTERNAL_SERVER_ERROR`, HTTP 500.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadUserInput(_) | Error::InvalidField { .. } => "BAD_USER_INPUT",
            Error::ShortLines { .. } => "CONFLICT",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Conflict(_) => "CONFLICT",
            Error::TooManyRequests(_) => "RATE_LIMITED",
            Error::Unavailable(_) => "SERVICE_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadUserInput(_) | Error::InvalidField { .. } => StatusCode::BAD_REQUEST,
            Error::ShortLines { .. } => StatusCode::CONFLICT,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Shorthand for [`Error::BadUserInput`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::BadUserInput(msg.into())
    }

    /// An invalid value at `field` (see [`Error::InvalidField`]).
    pub fn invalid_field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            message: msg.into(),
        }
    }

    /// This error, if it is about the input, as about the value at `field`
    /// (inside which an already named field nests: `input` + `email` is
    /// `input.email`). Other errors are unchanged.
    pub fn at(self, field: &str) -> Self {
        match self {
            Error::BadUserInput(message) => Error::InvalidField {
                field: field.to_string(),
                message,
            },
            Error::InvalidField {
                field: inner,
                message,
            } => Error::InvalidField {
                field: format!("{field}.{inner}"),
                message,
            },
            other => other,
        }
    }

    /// The input path this error names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// Shorthand for [`Error::NotFound`] naming the kind and id.
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        Error::NotFound(format!("{kind} {id} not found"))
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }

    fn log_if_internal(&self) {
        if let Error::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(e.into())
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Internal(e)
    }
}

/// Returns the name of the unique constraint a database error violated, if any,
/// so a store can turn it into a precise [`Error::Conflict`].
pub fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => db.constraint(),
        _ => None,
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        self.log_if_internal();
        let code = self.code();
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| {
            ext.set("code", code);
            match self {
                Error::InvalidField { field, .. } => ext.set("field", field.as_str()),
                Error::ShortLines { lines, .. } => {
                    let lines = async_graphql::to_value(lines).unwrap_or_default();
                    ext.set("lines", lines)
                }
                _ => {}
            }
        })
    }
}

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened in this occurrence.
    pub detail: String,
    /// The same code GraphQL puts in `extensions.code`.
    pub code: &'static str,
    /// The input the problem is about (`BAD_USER_INPUT` of one value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The short lines of a stock conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<ShortLine>>,
}

/// A line of an order that the stock cannot fill.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShortLine {
    /// The product.
    pub product_id: String,
    /// How many were asked for.
    pub requested: i64,
    /// How many can be had now.
    pub available: i64,
}

impl Problem {
    /// The problem details for an error.
    pub fn from_error(e: &Error) -> Self {
        let mut problem = Problem::new(e.status(), e.code(), e.to_string());
        problem.field = e.field().map(str::to_string);
        if let Error::ShortLines { lines, .. } = e {
            problem.lines = Some(lines.clone());
        }
        problem
    }

    /// A problem of HTTP `status` with the GraphQL `code` and what happened.
    /// A request body refused before it is read (too large, not JSON) is
    /// `BAD_USER_INPUT` with the status of its refusal (413, 415, 400).
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!(
                "https://errors.shop.example/{}",
                code.to_lowercase().replace('_', "-")
            ),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            field: None,
            lines: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log_if_internal();
        Problem::from_error(&self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_errors_carry_their_code() {
        let e = Error::not_found("Product", "42").extend();
        assert_eq!(e.message, "Product 42 not found");
        let ext = e.extensions.expect("extensions set");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("NOT_FOUND"))
        );
    }

    #[test]
    fn an_invalid_value_names_its_path_in_graphql_and_in_the_problem() {
        let e = Error::invalid("must be an email").at("email").at("input");
        assert_eq!(e.field(), Some("input.email"));
        let graphql = e.extend();
        let ext = graphql.extensions.expect("extensions set");
        assert_eq!(
            ext.get("field"),
            Some(&async_graphql::Value::from("input.email"))
        );
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("BAD_USER_INPUT"))
        );
        let problem = Problem::from_error(&e);
        assert_eq!(
            (problem.status, problem.field.as_deref()),
            (400, Some("input.email"))
        );
        assert_eq!(Error::conflict("taken").at("email").field(), None);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = Error::Internal(anyhow::anyhow!("password=hunter2 connection refused"));
        assert_eq!(e.extend().message, "internal error");
        assert_eq!(Problem::from_error(&e).detail, "internal error");
        assert_eq!(Problem::from_error(&e).status, 500);
    }

    #[test]
    fn problems_use_4xx_for_client_mistakes() {
        assert_eq!(Problem::from_error(&Error::invalid("bad")).status, 400);
        assert_eq!(Problem::from_error(&Error::conflict("dup")).status, 409);
        assert_eq!(
            Problem::from_error(&Error::Unauthenticated("no".into())).status,
            401
        );
    }
}
