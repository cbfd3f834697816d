//! Prices from the products service: the [`PriceQuotes`] port and its HTTP adapter,
//! which calls `POST /api/v1/products/quote` with a timeout and retries
//! transient failures (connection errors, timeouts, 5xx) with backoff. A 4xx is
//! the caller's mistake and is never retried.

use platform::money::MoneyJson;
use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use platform::{Error, Money};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::OrderLineRequest;
use crate::error::{OrderError, OrderResult};

/// A priced line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotedLine {
    /// The product.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// The current unit price.
    pub unit_price: Money,
    /// How many were asked for.
    pub quantity: i32,
    /// How many could be sold now.
    pub available_quantity: i64,
}

/// Where prices come from.
#[async_trait]
pub trait PriceQuotes: Send + Sync {
    /// Prices `lines` (one quoted line per line, same order). An unknown or
    /// archived product is [`OrderError::NotSold`] (in the catalogue's words,
    /// which name it); the catalogue being unreachable is
    /// [`OrderError::CatalogUnavailable`].
    async fn quote(&self, lines: &[OrderLineRequest]) -> OrderResult<Vec<QuotedLine>>;
}

/// The products service over HTTP.
#[derive(Debug, Clone)]
pub struct ProductsClient {
    http: reqwest::Client,
    url: String,
    retries: usize,
}

impl ProductsClient {
    /// A client for the products service at `base_url`.
    pub fn new(base_url: &str, timeout: Duration, retries: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(ProductsClient {
            http,
            url: format!("{}/api/v1/products/quote", base_url.trim_end_matches('/')),
            retries,
        })
    }
}

#[derive(Serialize)]
struct QuoteRequest<'a> {
    items: Vec<QuoteItem<'a>>,
}

#[derive(Serialize)]
struct QuoteItem<'a> {
    product_id: &'a Uuid,
    quantity: i32,
}

#[derive(Deserialize)]
struct QuoteResponse {
    lines: Vec<QuoteLineJson>,
}

#[derive(Deserialize)]
struct QuoteLineJson {
    product_id: Uuid,
    sku: String,
    name: String,
    unit_price: MoneyJson,
    quantity: i32,
    available_quantity: i64,
}

#[derive(Deserialize)]
struct Problem {
    detail: Option<String>,
}

/// Why one attempt failed.
enum Attempt {
    /// Worth another try.
    Transient(String),
    /// Final.
    Final(OrderError),
}

#[async_trait]
impl PriceQuotes for ProductsClient {
    async fn quote(&self, lines: &[OrderLineRequest]) -> OrderResult<Vec<QuotedLine>> {
        let body = QuoteRequest {
            items: lines
                .iter()
                .map(|l| QuoteItem {
                    product_id: &l.product_id,
                    quantity: l.quantity,
                })
                .collect(),
        };
        let attempt = || async {
            let response = self
                .http
                .post(&self.url)
                .headers(platform::telemetry::outgoing_headers())
                .json(&body)
                .send()
                .await
                .map_err(|e| Attempt::Transient(format!("products unreachable: {e}")))?;
            let status = response.status();
            if status.is_server_error() {
                return Err(Attempt::Transient(format!("products answered {status}")));
            }
            if status.is_client_error() {
                let detail = response
                    .json::<Problem>()
                    .await
                    .ok()
                    .and_then(|p| p.detail)
                    .unwrap_or_else(|| status.to_string());
                return Err(Attempt::Final(match status.as_u16() {
                    404 => OrderError::NotSold(detail),
                    _ => Error::invalid(detail).into(),
                }));
            }
            response.json::<QuoteResponse>().await.map_err(|e| {
                Attempt::Final(
                    Error::Internal(anyhow::Error::new(e).context("unreadable quote")).into(),
                )
            })
        };
        let quoted = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(50))
                    .with_max_delay(Duration::from_millis(500))
                    .with_max_times(self.retries),
            )
            .when(|e| matches!(e, Attempt::Transient(_)))
            .notify(|e, after| {
                if let Attempt::Transient(why) = e {
                    tracing::warn!(%why, retry_in = ?after, "quote failed; retrying");
                }
            })
            .await
            .map_err(|e| match e {
                Attempt::Transient(why) => {
                    // The cause (addresses, library messages) is for the log only.
                    tracing::error!(%why, "the catalogue is unavailable");
                    OrderError::CatalogUnavailable
                }
                Attempt::Final(e) => e,
            })?;
        if quoted.lines.len() != lines.len() {
            return Err(Error::Internal(anyhow::anyhow!(
                "the quote has {} lines for {}",
                quoted.lines.len(),
                lines.len()
            ))
            .into());
        }
        quoted
            .lines
            .into_iter()
            .map(|l| {
                Ok(QuotedLine {
                    product_id: l.product_id,
                    sku: l.sku,
                    name: l.name,
                    unit_price: Money::try_from(l.unit_price)?,
                    quantity: l.quantity,
                    available_quantity: l.available_quantity,
                })
            })
            .collect()
    }
}
