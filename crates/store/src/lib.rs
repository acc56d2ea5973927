//! Storage traits and their sqlx implementations for SQLite and PostgreSQL.
