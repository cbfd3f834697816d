//! The failures of users' use cases that a caller may act on, typed, and
//! mapped once, by `From<AccountError> for platform::Error`, to the edge error
//! (GraphQL `extensions.code`, REST problem+json). Every sign-in failure has
//! the same words, so none of them tells whether an account exists.

use platform::Error;
use uuid::Uuid;

/// What went wrong with an account, a sign-in or an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `UNAUTHENTICATED`: unknown email, wrong password or a locked-out caller.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// `UNAUTHENTICATED`: the refresh token is unknown or has expired.
    #[error("invalid or expired refresh token")]
    InvalidRefreshToken,
    /// `UNAUTHENTICATED`: the refresh token was used before (its whole sign-in
    /// is revoked: a stolen token is worth nothing).
    #[error("refresh token already used; sign in again")]
    RefreshTokenReused,
    /// `UNAUTHENTICATED`: the sign-in reached its absolute lifetime.
    #[error("this sign-in has ended; sign in again")]
    SignInEnded,
    /// `CONFLICT`: an account has this email already.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// `CONFLICT`: the bootstrap administrator's email belongs to a customer,
    /// who is never promoted.
    #[error("{0} belongs to an account that is not an administrator; it is not promoted: choose another bootstrap email")]
    BootstrapEmailTaken(String),
    /// `NOT_FOUND`: no such user.
    #[error("user {0} not found")]
    UserNotFound(Uuid),
    /// `NOT_FOUND`: the account has no such address.
    #[error("address {0} not found")]
    AddressNotFound(Uuid),
    /// `BAD_USER_INPUT`: the account holds as many addresses as allowed.
    #[error("at most {0} addresses per account")]
    TooManyAddresses(i64),
    /// `RATE_LIMITED`: too many sign-ups from this address.
    #[error("too many sign-ups from this address; try again later")]
    TooManySignUps,
    /// `SERVICE_UNAVAILABLE`: every password hashing slot stayed busy.
    #[error("too many sign-ins at once; try again in a moment")]
    HashingBusy,
}

impl From<AccountError> for Error {
    fn from(e: AccountError) -> Self {
        let message = e.to_string();
        match e {
            AccountError::InvalidCredentials
            | AccountError::InvalidRefreshToken
            | AccountError::RefreshTokenReused
            | AccountError::SignInEnded => Error::Unauthenticated(message),
            AccountError::EmailTaken | AccountError::BootstrapEmailTaken(_) => {
                Error::Conflict(message)
            }
            AccountError::UserNotFound(_) | AccountError::AddressNotFound(_) => {
                Error::NotFound(message)
            }
            AccountError::TooManyAddresses(_) => Error::BadUserInput(message),
            AccountError::TooManySignUps => Error::TooManyRequests(message),
            AccountError::HashingBusy => Error::Unavailable(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code_and_its_words() {
        let cases = [
            (
                AccountError::InvalidCredentials,
                "UNAUTHENTICATED",
                "invalid email or password",
            ),
            (
                AccountError::EmailTaken,
                "CONFLICT",
                "an account with this email already exists",
            ),
            (
                AccountError::TooManyAddresses(20),
                "BAD_USER_INPUT",
                "at most 20 addresses per account",
            ),
            (
                AccountError::TooManySignUps,
                "RATE_LIMITED",
                "too many sign-ups from this address; try again later",
            ),
            (
                AccountError::HashingBusy,
                "SERVICE_UNAVAILABLE",
                "too many sign-ins at once; try again in a moment",
            ),
        ];
        for (e, code, words) in cases {
            let edge = Error::from(e);
            assert_eq!((edge.code(), edge.to_string().as_str()), (code, words));
        }
    }
}
