//! End-to-end tests of the nsl node against a real neo-go privnet and PostgreSQL.
