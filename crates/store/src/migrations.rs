//! Migration sets: every crate that owns tables keeps its migrations beside it
//! (`<crate>/migrations/{sqlite,postgres}/NNNN_name.sql`) and exports them as one
//! [`MigrationSet`]; [`compose`] merges the platform's set with the services' sets into the one
//! numbered sequence sqlx records in its single `_sqlx_migrations` table.
//!
//! Invariants:
//! - versions are global: one version belongs to one crate; two sets claiming the same version is
//!   an error naming both files ([`StoreError::MigrationLayout`]), raised before anything runs;
//! - a set has the same versions in its SQLite and PostgreSQL directories;
//! - the composed list is ordered by version across crates, so a database already migrated by an
//!   earlier layout (same versions, same file contents, same checksums) applies nothing new.

use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, Migrator};

use crate::{Backend, StoreError, StoreResult};

/// The migrations one crate owns, one directory per backend, embedded with `sqlx::migrate!`:
///
/// ```ignore
/// pub static MIGRATIONS: nsl_store::MigrationSet = nsl_store::MigrationSet {
///     owner: "nsl-chain",
///     sqlite: sqlx::migrate!("./migrations/sqlite"),
///     postgres: sqlx::migrate!("./migrations/postgres"),
/// };
/// ```
#[derive(Debug)]
pub struct MigrationSet {
    /// The owning crate (named in layout errors).
    pub owner: &'static str,
    /// `migrations/sqlite/`.
    pub sqlite: Migrator,
    /// `migrations/postgres/`.
    pub postgres: Migrator,
}

impl MigrationSet {
    /// The migrations of `backend`.
    pub fn for_backend(&self, backend: Backend) -> &Migrator {
        match backend {
            Backend::Sqlite => &self.sqlite,
            Backend::Postgres => &self.postgres,
        }
    }
}

/// The platform's own tables (accounts, API keys, login, audit, registered contracts):
/// `crates/store/migrations/`. Always part of a composition.
pub static PLATFORM_MIGRATIONS: MigrationSet = MigrationSet {
    owner: "nsl-store",
    sqlite: sqlx::migrate!("./migrations/sqlite"),
    postgres: sqlx::migrate!("./migrations/postgres"),
};

/// The platform's set followed by `services` (a set listed twice counts once), merged into one
/// list ordered by version for `backend`.
///
/// # Errors
/// [`StoreError::MigrationLayout`] when two sets claim the same version or a set's SQLite and
/// PostgreSQL directories hold different versions.
pub fn compose(services: &[&MigrationSet], backend: Backend) -> StoreResult<Vec<Migration>> {
    let mut sets: Vec<&MigrationSet> = vec![&PLATFORM_MIGRATIONS];
    for set in services {
        if !sets.iter().any(|known| known.owner == set.owner) {
            sets.push(set);
        }
    }
    let mut all: Vec<(&str, &Migration)> = Vec::new();
    for set in &sets {
        let lite: Vec<i64> = set.sqlite.iter().map(|m| m.version).collect();
        let pg: Vec<i64> = set.postgres.iter().map(|m| m.version).collect();
        if lite != pg {
            return Err(StoreError::MigrationLayout(format!(
                "{} has different migrations for SQLite {lite:?} and PostgreSQL {pg:?}: \
                 add every migration to both directories",
                set.owner
            )));
        }
        all.extend(set.for_backend(backend).iter().map(|m| (set.owner, m)));
    }
    all.sort_by_key(|(_, m)| m.version);
    for pair in all.windows(2) {
        if let [(a_owner, a), (b_owner, b)] = pair
            && a.version == b.version
        {
            return Err(StoreError::MigrationLayout(format!(
                "migration version {v} is claimed twice: {a_owner} ({v:04}_{}.sql) and \
                 {b_owner} ({v:04}_{}.sql); give the newer one the next free version ({next:04})",
                a.description.replace(' ', "_"),
                b.description.replace(' ', "_"),
                v = a.version,
                next = all.last().map_or(1, |(_, m)| m.version + 1),
            )));
        }
    }
    Ok(all.into_iter().map(|(_, m)| m.clone()).collect())
}

/// A migrator running `migrations` (already composed) in the given order.
pub(crate) async fn migrator(migrations: Vec<Migration>) -> StoreResult<Migrator> {
    Ok(Migrator::new(Composed(migrations)).await?)
}

/// A composed list as a sqlx [`MigrationSource`].
#[derive(Debug)]
struct Composed(Vec<Migration>);

impl<'s> MigrationSource<'s> for Composed {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move { Ok(self.0) })
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::migrate::MigrationType;

    use super::*;

    fn migration(version: i64, name: &'static str) -> Migration {
        Migration::new(
            version,
            Cow::Borrowed(name),
            MigrationType::Simple,
            Cow::Borrowed("SELECT 1;"),
            false,
        )
    }

    async fn set(
        owner: &'static str,
        lite: &[(i64, &'static str)],
        pg: &[(i64, &'static str)],
    ) -> MigrationSet {
        let m = |list: &[(i64, &'static str)]| {
            Composed(list.iter().map(|&(v, n)| migration(v, n)).collect())
        };
        MigrationSet {
            owner,
            sqlite: Migrator::new(m(lite)).await.unwrap(),
            postgres: Migrator::new(m(pg)).await.unwrap(),
        }
    }

    #[tokio::test]
    async fn sets_are_merged_in_version_order_after_the_platform() {
        let a = set(
            "nsl-a",
            &[(104, "a2"), (101, "a1")],
            &[(104, "a2"), (101, "a1")],
        )
        .await;
        let b = set("nsl-b", &[(102, "b1")], &[(102, "b1")]).await;
        let versions: Vec<i64> = compose(&[&a, &b, &a], Backend::Sqlite)
            .unwrap()
            .iter()
            .map(|m| m.version)
            .collect();
        let platform: Vec<i64> = PLATFORM_MIGRATIONS
            .sqlite
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, [platform, vec![101, 102, 104]].concat());
    }

    #[tokio::test]
    async fn two_crates_claiming_one_version_is_an_error_naming_both() {
        let a = set("nsl-a", &[(101, "feeds")], &[(101, "feeds")]).await;
        let b = set(
            "nsl-b",
            &[(101, "vrf randomness")],
            &[(101, "vrf randomness")],
        )
        .await;
        let err = compose(&[&a, &b], Backend::Postgres)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("migration version 101 is claimed twice")
                && err.contains("nsl-a (0101_feeds.sql)")
                && err.contains("nsl-b (0101_vrf_randomness.sql)")
                && err.contains("next free version (0102)"),
            "{err}"
        );
        // A service reusing a platform version is refused the same way.
        let c = set("nsl-c", &[(1, "mine")], &[(1, "mine")]).await;
        let err = compose(&[&c], Backend::Sqlite).unwrap_err().to_string();
        assert!(err.contains("nsl-store (0001_platform.sql)"), "{err}");
    }

    #[tokio::test]
    async fn a_set_missing_a_backend_file_is_an_error() {
        let a = set("nsl-a", &[(101, "x"), (102, "y")], &[(101, "x")]).await;
        let err = compose(&[&a], Backend::Sqlite).unwrap_err().to_string();
        assert!(
            err.contains(
                "nsl-a has different migrations for SQLite [101, 102] and PostgreSQL [101]"
            ),
            "{err}"
        );
    }
}
