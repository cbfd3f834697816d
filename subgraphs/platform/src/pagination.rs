//! Relay cursor pagination over keyset queries.
//!
//! A store fetches `first + 1` rows after a decoded cursor; [`connection`] turns
//! them into a Relay connection whose cursors are opaque (base64url JSON, via
//! async-graphql's `OpaqueCursor`), so clients never see or forge raw keys.

use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};
use async_graphql::OutputType;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Error;

/// Page size when `first` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// A validated page request: how many, after which key.
#[derive(Debug, Clone)]
pub struct PageRequest<C> {
    /// How many items to return (1..=[`MAX_PAGE_SIZE`]).
    pub first: usize,
    /// The key of the last item of the previous page.
    pub after: Option<C>,
}

impl<C: Serialize + DeserializeOwned> PageRequest<C> {
    /// Validates `first` and decodes `after`; both failures are `BAD_USER_INPUT`.
    pub fn parse(first: Option<i32>, after: Option<String>) -> Result<Self, Error> {
        let first = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n >= 1 && n as usize <= MAX_PAGE_SIZE => n as usize,
            Some(n) => {
                return Err(Error::invalid_field(
                    "first",
                    format!("`first` must be between 1 and {MAX_PAGE_SIZE}, got {n}"),
                ))
            }
        };
        let after = match after {
            None => None,
            Some(s) => Some(
                OpaqueCursor::<C>::decode_cursor(&s)
                    .map_err(|_| {
                        Error::invalid_field("after", "`after` is not a cursor this API issued")
                    })?
                    .0,
            ),
        };
        Ok(PageRequest { first, after })
    }

    /// How many rows a store should fetch: one more than asked, to learn whether
    /// there is a next page.
    pub fn fetch_limit(&self) -> i64 {
        self.first as i64 + 1
    }
}

/// Encodes a key as the opaque cursor string clients see.
pub fn encode_cursor<C: Serialize + DeserializeOwned>(key: C) -> String {
    OpaqueCursor(key).encode_cursor()
}

/// Builds a connection from up to `first + 1` rows fetched after `request.after`.
pub fn connection<C, T, N>(
    request: &PageRequest<C>,
    mut rows: Vec<T>,
    key_of: impl Fn(&T) -> C,
    node_of: impl Fn(T) -> N,
) -> Connection<OpaqueCursor<C>, N>
where
    C: Serialize + DeserializeOwned + Send + Sync,
    N: OutputType,
{
    let has_next = rows.len() > request.first;
    rows.truncate(request.first);
    let mut conn = Connection::new(request.after.is_some(), has_next);
    conn.edges.extend(rows.into_iter().map(|row| {
        let key = key_of(&row);
        Edge::new(OpaqueCursor(key), node_of(row))
    }));
    conn
}

/// The complexity of a page of `first` items (the default page size when
/// absent, bounded like [`PageRequest::parse`]) whose items cost `child`
/// each: GraphQL complexity multiplies by the page size, so nested pages
/// cannot multiply the work unseen. Use as
/// `#[graphql(complexity = "platform::pagination::page_cost(first, child_complexity)")]`.
pub fn page_cost(first: Option<i32>, child: usize) -> usize {
    let size = first.unwrap_or(20).clamp(1, 100) as usize;
    size.saturating_mul(child).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_is_bounded() {
        assert!(PageRequest::<i64>::parse(Some(0), None).is_err());
        assert!(PageRequest::<i64>::parse(Some(101), None).is_err());
        assert_eq!(
            PageRequest::<i64>::parse(None, None).map(|p| p.first).ok(),
            Some(20)
        );
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let cursor = encode_cursor((5_i64, "abc".to_string()));
        let page = PageRequest::<(i64, String)>::parse(Some(3), Some(cursor)).expect("valid");
        assert_eq!(page.after, Some((5, "abc".to_string())));
        let err = PageRequest::<(i64, String)>::parse(None, Some("%%%".into())).expect_err("bad");
        assert_eq!(err.code(), "BAD_USER_INPUT");
    }
}
