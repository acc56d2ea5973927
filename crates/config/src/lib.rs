//! Typed node configuration: TOML file plus NSL_* environment overrides.
