//! The REST fallback (`/api/v1/...`), thin handlers over the same use cases as
//! GraphQL. Errors are RFC 9457 problem details (`application/problem+json`)
//! with the same `code` GraphQL puts in `extensions.code`.
//!
//! - `GET /api/v1/products?category_id=&search=&min_price=&max_price=&in_stock=&sort=&first=&after=`
//!   → `200 {"items": [Product], "next_cursor": "…" | null}`; `sort` is one of
//!   `newest` (default), `price_asc`, `price_desc`, `name_asc`; `first` is 1..=100
//!   (default 20); `after` is a previous `next_cursor`.
//! - `GET /api/v1/products/{id}` → `200 Product` (archived ones too) or 404.
//! - `GET /api/v1/categories` → `200 {"items": [Category]}`.
//! - `POST /api/v1/products/quote` → see [`quote`].
//! - `PUT /api/v1/products/{id}/stock` `{"quantity", "expected_stock_on_hand"?}`
//!   and `POST /api/v1/products/{id}/stock/adjustments` `{"delta"}` (administrators,
//!   Bearer token) → `200 Stock`; see [`admin_routes`].
//!
//! A `Product` is `{"id", "sku", "name", "description", "price": {"amount",
//! "currency"}, "category_id", "images": [url], "attributes": [{"name",
//! "value"}], "available_quantity", "archived", "created_at", "updated_at"}`; a
//! `Category` is `{"id", "name", "slug", "description"}`.

use platform::money::MoneyJson;
use platform::openapi::BearerAuth;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Path, Query, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use platform::auth::{AdminOnly, JwtVerifier};
use platform::http::JsonBody;
use platform::pagination::encode_cursor;
use platform::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::{Catalog, QuoteLine, QuoteRequestLine};
use crate::domain::{Attribute, Category, Product, ProductFilterDraft, ProductSort};

/// The REST routes, ready to merge into the service's router.
pub fn routes(catalog: Catalog) -> Router {
    Router::new()
        .route("/api/v1/products", get(list_products))
        .route("/api/v1/products/quote", post(quote))
        .route("/api/v1/products/{id}", get(get_product))
        .route("/api/v1/categories", get(list_categories))
        .with_state(catalog)
        .merge(platform::http::openapi_router(
            <ApiDoc as utoipa::OpenApi>::openapi(),
        ))
}

/// A product as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductJson {
    /// Id.
    pub id: Uuid,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit price.
    pub price: MoneyJson,
    /// Category id.
    pub category_id: Uuid,
    /// Image URLs.
    pub images: Vec<String>,
    /// Named properties.
    #[schema(value_type = Vec<Object>)]
    pub attributes: Vec<Attribute>,
    /// Units that can be ordered now.
    pub available_quantity: i32,
    /// Whether it is off sale.
    pub archived: bool,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
}

impl From<&Product> for ProductJson {
    fn from(p: &Product) -> Self {
        ProductJson {
            id: p.id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            price: p.price.into(),
            category_id: p.category_id,
            images: p.images.clone(),
            attributes: p.attributes.clone(),
            available_quantity: p.available_quantity(),
            archived: p.archived,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A page of products.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductList {
    /// The products.
    pub items: Vec<ProductJson>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A category as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryJson {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// Description.
    pub description: String,
}

impl From<Category> for CategoryJson {
    fn from(c: Category) -> Self {
        CategoryJson {
            id: c.id,
            name: c.name,
            slug: c.slug,
            description: c.description,
        }
    }
}

/// Every category.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryList {
    /// The categories, by name.
    pub items: Vec<CategoryJson>,
}

/// The query string of `GET /api/v1/products`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this category (its UUID).
    #[param(
        format = "uuid",
        pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    pub category_id: Option<String>,
    /// Full-text search: up to 200 characters once trimmed (blank: no search).
    #[param(
        max_length = 10000,
        pattern = r"^[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000](?:[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]{0,198}[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?)?[\t\n\r \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub search: Option<String>,
    /// Lowest price in minor units (above `max_price`, nothing matches).
    #[param(minimum = 0)]
    pub min_price: Option<i64>,
    /// Highest price in minor units.
    #[param(minimum = 0)]
    pub max_price: Option<i64>,
    /// Only available (`true`) or sold-out (`false`) products.
    pub in_stock: Option<bool>,
    /// `newest` (default), `price_asc`, `price_desc` or `name_asc`, in any case.
    #[param(
        pattern = r"^(?:[Nn][Ee][Ww][Ee][Ss][Tt]|[Pp][Rr][Ii][Cc][Ee]_(?:[Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])|[Nn][Aa][Mm][Ee]_[Aa][Ss][Cc])$"
    )]
    pub sort: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub first: Option<i32>,
    /// The `next_cursor` of the previous page, with the same `sort`.
    #[param(
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub after: Option<String>,
}

/// Products for sale, filtered, sorted and paged by cursor.
#[utoipa::path(get, path = "/api/v1/products", params(ListParams),
    responses((status = 200, body = ProductList),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),))]
async fn list_products(
    State(catalog): State<Catalog>,
    params: std::result::Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ProductList>> {
    let Query(params) = params.map_err(|e| Error::invalid(e.body_text()))?;
    // A price range whose bounds are the wrong way round holds no product:
    // each bound on its own is valid, so this is an empty page, not an error.
    if let (Some(min), Some(max)) = (params.min_price, params.max_price) {
        if min > max && max >= 0 {
            return Ok(Json(ProductList {
                items: Vec::new(),
                next_cursor: None,
            }));
        }
    }
    let sort = params
        .sort
        .as_deref()
        .map(ProductSort::parse)
        .transpose()?
        .unwrap_or_default();
    let filter = ProductFilterDraft {
        category_id: params.category_id,
        search: params.search,
        min_price: params.min_price,
        max_price: params.max_price,
        in_stock: params.in_stock,
    };
    let page = catalog
        .list_products(filter, sort, params.first, params.after)
        .await?;
    Ok(Json(ProductList {
        items: page.items().iter().map(ProductJson::from).collect(),
        next_cursor: page.next_cursor().map(encode_cursor),
    }))
}

/// One product (archived ones too).
#[utoipa::path(get, path = "/api/v1/products/{id}", params(("id" = String, Path, format = "uuid", pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "Product id")),
    responses((status = 200, body = ProductJson),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),))]
async fn get_product(
    State(catalog): State<Catalog>,
    Path(id): Path<String>,
) -> Result<Json<ProductJson>> {
    match catalog.product(&id).await? {
        Some(p) => Ok(Json(ProductJson::from(&p))),
        None => Err(Error::not_found("product", id)),
    }
}

/// Every category.
#[utoipa::path(get, path = "/api/v1/categories", responses((status = 200, body = CategoryList)))]
async fn list_categories(State(catalog): State<Catalog>) -> Result<Json<CategoryList>> {
    let categories = catalog.categories().await?;
    Ok(Json(CategoryList {
        items: categories.into_iter().map(CategoryJson::from).collect(),
    }))
}

/// The body of `POST /api/v1/products/quote`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// The items to price, 1 to 100.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<QuoteItem>,
}

/// One item to price.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteItem {
    /// The product's UUID.
    #[schema(
        format = "uuid",
        pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
    )]
    pub product_id: String,
    /// Units, 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i64,
}

/// The answer of `POST /api/v1/products/quote`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuoteResponse {
    /// One line per requested item, in the request's order.
    pub lines: Vec<QuoteLineJson>,
}

/// A priced line.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuoteLineJson {
    /// The product's UUID.
    pub product_id: Uuid,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// The current unit price.
    pub unit_price: MoneyJson,
    /// The quantity asked for.
    pub quantity: i64,
    /// Units that can be ordered now (may be less than `quantity`; reserving is
    /// a separate step).
    pub available_quantity: i32,
}

impl From<QuoteLine> for QuoteLineJson {
    fn from(l: QuoteLine) -> Self {
        QuoteLineJson {
            product_id: l.product_id,
            sku: l.sku,
            name: l.name,
            unit_price: l.unit_price.into(),
            quantity: l.quantity,
            available_quantity: l.available_quantity,
        }
    }
}

/// `POST /api/v1/products/quote` — the internal price quote the orders service
/// takes when an order is placed.
///
/// Request (`Content-Type: application/json`):
/// ```json
/// {"items": [{"product_id": "0190f5b8-1b4e-7c4a-9b8e-3f6f4c2a1d00", "quantity": 2}]}
/// ```
/// Response `200`, one line per requested item in the same order (a product
/// asked for twice gets two lines):
/// ```json
/// {"lines": [{"product_id": "0190f5b8-1b4e-7c4a-9b8e-3f6f4c2a1d00", "sku": "LAMP-0001",
///   "name": "Nordic Oak Lamp", "unit_price": {"amount": 1999, "currency": "EUR"},
///   "quantity": 2, "available_quantity": 10}]}
/// ```
/// Errors, as `application/problem+json` `{"type", "title", "status", "detail", "code"}`:
/// - `404` `NOT_FOUND` when a product is unknown or archived; `detail` is
///   `"product <id> not found"` for the first such item;
/// - `400` `BAD_USER_INPUT` for an empty `items` list, more than 100 items, a
///   quantity below 1 or above 1000, a `product_id` that is not a UUID, or a
///   body that is not JSON (a JSON body of the wrong shape is `422`, a missing
///   JSON content type `415`).
#[utoipa::path(post, path = "/api/v1/products/quote", tag = "internal", request_body = QuoteRequest,
    responses((status = 200, body = QuoteResponse),
        (status = 400, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 413, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 415, body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, body = platform::error::Problem, content_type = "application/problem+json"),))]
pub async fn quote(
    State(catalog): State<Catalog>,
    JsonBody(request): JsonBody<QuoteRequest>,
) -> Result<Json<QuoteResponse>> {
    let items = request
        .items
        .into_iter()
        .map(|i| QuoteRequestLine {
            product_id: i.product_id,
            quantity: i.quantity,
        })
        .collect();
    let lines = catalog.quote(items).await?;
    Ok(Json(QuoteResponse {
        lines: lines.into_iter().map(QuoteLineJson::from).collect(),
    }))
}

/// The products REST API (OpenAPI 3.1). Operations tagged `internal` serve
/// other services and are not exposed through Kong.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Shop products", description = "The catalogue"),
    paths(
        list_products,
        get_product,
        list_categories,
        quote,
        set_stock,
        adjust_stock
    ),
    components(schemas(
        ProductJson,
        StockJson,
        SetStockBody,
        AdjustStockBody,
        ProductList,
        CategoryJson,
        CategoryList,
        MoneyJson,
        QuoteRequest,
        QuoteItem,
        QuoteResponse,
        QuoteLineJson,
        platform::error::Problem
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

#[derive(Clone, FromRef)]
struct AdminState {
    catalog: Catalog,
    verifier: Arc<JwtVerifier>,
}

/// The administrators' REST routes (Bearer token of an admin): stock changes.
pub fn admin_routes(catalog: Catalog, verifier: Arc<JwtVerifier>) -> Router {
    Router::new()
        .route("/api/v1/products/{id}/stock", put(set_stock))
        .route(
            "/api/v1/products/{id}/stock/adjustments",
            post(adjust_stock),
        )
        .with_state(AdminState { catalog, verifier })
}

/// A product's stock.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct StockJson {
    /// The product.
    pub product_id: Uuid,
    /// Units in the warehouse, reserved ones included.
    pub stock_on_hand: i32,
    /// Units held for unpaid orders.
    pub reserved: i32,
    /// Units that can be ordered now.
    pub available_quantity: i32,
}

impl From<&Product> for StockJson {
    fn from(p: &Product) -> Self {
        StockJson {
            product_id: p.id,
            stock_on_hand: p.stock_on_hand,
            reserved: p.reserved,
            available_quantity: p.available_quantity(),
        }
    }
}

/// The body of `PUT /api/v1/products/{id}/stock`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetStockBody {
    /// The new units on hand.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub quantity: i64,
    /// Set only if the units on hand are this now (else `409`).
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub expected_stock_on_hand: Option<i64>,
}

/// The body of `POST /api/v1/products/{id}/stock/adjustments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustStockBody {
    /// Units to add (negative: remove), not 0, at most 1000000000 either way.
    #[schema(schema_with = delta_schema)]
    pub delta: i64,
}

/// A stock delta: -1000000000 to -1, or 1 to 1000000000.
fn delta_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    let range = |min: f64, max: f64| {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(min))
            .maximum(Some(max))
    };
    OneOfBuilder::new()
        .item(range(-1_000_000_000.0, -1.0))
        .item(range(1.0, 1_000_000_000.0))
        .description(Some(
            "Units to add (negative: remove), not 0, at most 1000000000 either way.",
        ))
        .build()
        .into()
}

/// Sets a product's units on hand (administrators), optionally only if they
/// are `expected_stock_on_hand` now.
#[utoipa::path(put, path = "/api/v1/products/{id}/stock", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "Product id")), request_body = SetStockBody,
    responses(StockResponses))]
async fn set_stock(
    State(state): State<AdminState>,
    AdminOnly(viewer): AdminOnly,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SetStockBody>,
) -> Result<Json<StockJson>> {
    let product = (state.catalog)
        .set_stock(&viewer, &id, body.quantity, body.expected_stock_on_hand)
        .await?;
    Ok(Json(StockJson::from(&product)))
}

/// Changes a product's units on hand by `delta` (administrators).
#[utoipa::path(post, path = "/api/v1/products/{id}/stock/adjustments", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, format = "uuid", pattern = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$", description = "Product id")), request_body = AdjustStockBody,
    responses(StockResponses))]
async fn adjust_stock(
    State(state): State<AdminState>,
    AdminOnly(viewer): AdminOnly,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AdjustStockBody>,
) -> Result<Json<StockJson>> {
    let product = state.catalog.adjust_stock(&viewer, &id, body.delta).await?;
    Ok(Json(StockJson::from(&product)))
}

/// What a stock handler answers: the stock after the change, or a problem.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documents the responses only
enum StockResponses {
    #[response(status = 200, description = "")]
    Stock(StockJson),
    #[response(
        status = 400,
        description = "",
        content_type = "application/problem+json"
    )]
    BadRequest(platform::error::Problem),
    #[response(
        status = 401,
        description = "",
        content_type = "application/problem+json"
    )]
    Unauthenticated(platform::error::Problem),
    #[response(
        status = 403,
        description = "",
        content_type = "application/problem+json"
    )]
    Forbidden(platform::error::Problem),
    #[response(
        status = 404,
        description = "",
        content_type = "application/problem+json"
    )]
    NotFound(platform::error::Problem),
    #[response(
        status = 409,
        description = "",
        content_type = "application/problem+json"
    )]
    Conflict(platform::error::Problem),
    #[response(
        status = 413,
        description = "",
        content_type = "application/problem+json"
    )]
    TooLarge(platform::error::Problem),
    #[response(
        status = 415,
        description = "",
        content_type = "application/problem+json"
    )]
    Unsupported(platform::error::Problem),
    #[response(
        status = 422,
        description = "",
        content_type = "application/problem+json"
    )]
    Unprocessable(platform::error::Problem),
}
