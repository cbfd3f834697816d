//! MongoDB transactions for the ledger: how one starts, commits and aborts,
//! how driver errors split into worth retrying or not, and how work that
//! loses a write conflict is run again after a short random pause.
//!
//! Unlike PostgreSQL, where the second writer of a row waits for the first,
//! MongoDB fails it at once (`WriteConflict`, labelled
//! `TransientTransactionError`), so concurrent orders for one product would
//! otherwise spend the consumer's few attempts in a burst and be
//! dead-lettered.

use std::future::Future;
use std::time::Duration;

use events::consumer::HandlerError;
use mongodb::error::{
    ErrorKind, RETRYABLE_WRITE_ERROR, TRANSIENT_TRANSACTION_ERROR,
    UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::options::{ReadConcern, WriteConcern};
use mongodb::ClientSession;
use uuid::Uuid;

use super::documents::server_code;

/// `WriteConflict`: another transaction wrote the document first.
const WRITE_CONFLICT: i32 = 112;
/// Server error codes that say the request itself is wrong (retrying cannot
/// help): BadValue, FailedToParse, TypeMismatch, PathNotViable,
/// ConflictingUpdateOperators, DollarPrefixedFieldName, ImmutableField,
/// DocumentValidationFailure, BSONObjectTooLarge.
const PERMANENT_CODES: [i32; 9] = [2, 9, 14, 28, 40, 52, 66, 121, 10334];
/// The first pause before applying an event again after a write conflict
/// (doubling, randomised, up to [`CONFLICT_MAX_DELAY`]).
const CONFLICT_FIRST_DELAY: Duration = Duration::from_millis(5);
/// The longest pause between two applications after write conflicts.
const CONFLICT_MAX_DELAY: Duration = Duration::from_millis(250);
/// How long one call keeps applying an event that loses write conflicts.
const CONFLICT_BUDGET: Duration = Duration::from_secs(5);
/// How often a commit whose result is unknown is sent again before giving up
/// (the consumer then retries the whole event; the inbox makes that safe).
const COMMIT_ATTEMPTS: usize = 3;

/// Runs `work` (one transaction) until it does not lose a write conflict, with
/// a pause between runs; after [`CONFLICT_BUDGET`] the conflict is returned
/// ([`HandlerError::Transient`]) for the consumer to retry. `what` names the
/// work in logs.
pub(super) async fn retrying_conflicts<T, F, Fut>(
    what: &(dyn std::fmt::Display + Sync),
    mut work: F,
) -> Result<T, HandlerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, HandlerError>>,
{
    let started = tokio::time::Instant::now();
    let mut delay = CONFLICT_FIRST_DELAY;
    loop {
        match work().await {
            Err(HandlerError::Transient(cause))
                if is_write_conflict(&cause) && started.elapsed() < CONFLICT_BUDGET =>
            {
                tracing::debug!(work = %what, error = %cause, "write conflict; running again");
                tokio::time::sleep(jitter(delay)).await;
                delay = (delay * 2).min(CONFLICT_MAX_DELAY);
            }
            other => return other,
        }
    }
}

/// Starts a transaction on `session`: snapshot reads (every read sees one
/// majority-committed point in time, and a write to a document changed since
/// is a `WriteConflict`) and majority writes.
pub(super) async fn begin(session: &mut ClientSession) -> Result<(), HandlerError> {
    session
        .start_transaction()
        .read_concern(ReadConcern::snapshot())
        .write_concern(WriteConcern::majority())
        .await
        .map_err(driver)
}

/// Commits, sending the commit again while its result is unknown.
pub(super) async fn commit(session: &mut ClientSession) -> Result<(), HandlerError> {
    let mut attempt = 1;
    loop {
        match session.commit_transaction().await {
            Ok(()) => return Ok(()),
            Err(e)
                if attempt < COMMIT_ATTEMPTS
                    && e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) =>
            {
                tracing::debug!(error = %e, "commit result unknown; committing again");
                attempt += 1;
            }
            Err(e) => return Err(driver(e)),
        }
    }
}

/// Aborts the transaction in progress, if any (the server may have aborted it
/// already, after a failed operation: that is not an error).
pub(super) async fn abort(session: &mut ClientSession) {
    if let Err(e) = session.abort_transaction().await {
        tracing::debug!(error = %e, "abort_transaction");
    }
}

/// Classifies a driver error: bad data and malformed requests are permanent,
/// everything else (write conflicts, `TransientTransactionError`,
/// `UnknownTransactionCommitResult`, network and server-selection errors, a
/// primary stepping down, ...) is worth retrying.
pub(super) fn driver(e: mongodb::error::Error) -> HandlerError {
    if is_transient(&e) {
        return HandlerError::Transient(e.into());
    }
    let permanent = match e.kind.as_ref() {
        ErrorKind::BsonDeserialization(_)
        | ErrorKind::BsonSerialization(_)
        | ErrorKind::InvalidArgument { .. } => true,
        _ => server_code(&e).is_some_and(|c| PERMANENT_CODES.contains(&c)),
    };
    if permanent {
        HandlerError::Permanent(e.into())
    } else {
        HandlerError::Transient(e.into())
    }
}

pub(super) fn is_transient(e: &mongodb::error::Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
        || e.contains_label(RETRYABLE_WRITE_ERROR)
        || server_code(e) == Some(WRITE_CONFLICT)
        || matches!(
            e.kind.as_ref(),
            ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. }
                | ErrorKind::ServerSelection { .. }
        )
}

/// Between half and all of `delay`, at random, so that transactions that
/// collided do not collide again.
pub(super) fn jitter(delay: Duration) -> Duration {
    let half = delay / 2;
    let span = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    // A v4 UUID is 122 random bits: enough randomness without another crate.
    let random = Uuid::new_v4().as_u64_pair().1;
    half + Duration::from_nanos(random % span)
}

/// Whether a transient handler error is a write conflict (another
/// transaction changed the same document) or otherwise aborted the
/// transaction in a way that running it again may cure.
pub(super) fn is_write_conflict(e: &anyhow::Error) -> bool {
    e.downcast_ref::<mongodb::error::Error>().is_some_and(|e| {
        server_code(e) == Some(WRITE_CONFLICT) || e.contains_label(TRANSIENT_TRANSACTION_ERROR)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn pauses_after_conflicts_are_random_within_bounds() {
        let delay = Duration::from_millis(40);
        let pauses: Vec<Duration> = (0..50).map(|_| jitter(delay)).collect();
        assert!(pauses.iter().all(|p| *p >= delay / 2 && *p <= delay));
        assert!(pauses.iter().any(|p| *p != pauses[0]));
    }

    #[test]
    fn network_errors_are_transient_and_bad_data_permanent() {
        let io = mongodb::error::Error::from(ErrorKind::Io(Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))));
        assert!(driver(io).is_transient());
        let bad: mongodb::bson::de::Error = serde::de::Error::custom("nope");
        let bad = mongodb::error::Error::from(ErrorKind::BsonDeserialization(bad));
        assert!(!driver(bad).is_transient());
    }

    #[tokio::test]
    async fn only_write_conflicts_are_run_again() {
        let mut runs = 0;
        let failed: Result<(), _> = retrying_conflicts(&"work", || {
            runs += 1;
            async { Err(HandlerError::Transient(anyhow::anyhow!("broker away"))) }
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(
            runs, 1,
            "a transient error that is no conflict goes to the consumer"
        );
    }
}
