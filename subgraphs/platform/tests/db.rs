//! The database helpers against the real PostgreSQL.

use sqlx::migrate::Migrator;
use testkit::{fresh_database_url, QueryCounter};

#[tokio::test]
async fn a_missing_database_is_created_and_its_statements_are_counted() {
    let url = fresh_database_url("platform");
    let pool = platform::db::connect(&url, &Migrator::DEFAULT, 2)
        .await
        .expect("connect");
    // Creating it again (a second replica starting) is harmless.
    platform::db::ensure_database(&url)
        .await
        .expect("idempotent");

    let (counter, _guard) = QueryCounter::install();
    for _ in 0..3 {
        sqlx::query("SELECT 1")
            .execute(&pool)
            .await
            .expect("select");
    }
    assert_eq!(counter.get(), 3);
}

#[tokio::test]
async fn a_database_name_that_could_inject_sql_is_refused() {
    let err = platform::db::ensure_database("postgres://postgres@127.0.0.1:5432/x\";DROP")
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("database name"), "{err}");
}
