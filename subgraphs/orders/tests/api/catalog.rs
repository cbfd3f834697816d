//! The HTTP catalogue client when the products service cannot be reached.

use std::time::{Duration, Instant};

use orders::clients::products::{PriceQuotes, ProductsClient};
use orders::domain::OrderLineRequest;
use orders::error::OrderError;
use uuid::Uuid;

#[tokio::test]
async fn an_unreachable_catalogue_is_unavailable_after_bounded_retries() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ProductsClient::new(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_millis(200),
        2,
    )
    .unwrap();
    let started = Instant::now();
    let err = client
        .quote(&[OrderLineRequest {
            product_id: Uuid::now_v7(),
            quantity: 1,
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, OrderError::CatalogUnavailable), "{err}");
    assert_eq!(platform::Error::from(err).code(), "SERVICE_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded: {:?}",
        started.elapsed()
    );
}
