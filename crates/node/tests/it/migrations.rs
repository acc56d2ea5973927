//! The migration layout: every crate's migrations beside it, composed by the node into the one
//! numbered sequence of sqlx's `_sqlx_migrations` table. Databases migrated before the files
//! moved (all twelve in `crates/store/migrations/`) must keep working: same versions, same
//! descriptions, same file contents (checksums), nothing re-run.

use nsl_store::test_utils::{TestDb, assert_same_schema};
use nsl_store::{Backend, Store, StoreError};
use sqlx::Row;

/// Version, description (sqlx's: the file name's `_` as spaces) and SHA-384 (what sqlx records as the checksum) of the SQLite and the
/// PostgreSQL file of every migration as shipped in `crates/store/migrations/` before the move
/// (computed from those files with `sha384sum`).
const SHIPPED: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "platform",
        "f04bf550998238758ce1f3d197f184dd1f06bd9c5c2d7eebf51c439aae4f9117db2d3ab957eec710c25bcef3b572df17",
        "9d4413f3a46fdb75670ffb2d93760ad4b72bcc47c186231c874e187e6c43b9c6b1c9bfca2183fceed00d4af0defea2e0",
    ),
    (
        2,
        "secrets",
        "8645771ca0524402eb0832736102e79c3384adc6ca358863f01ae45f3d1b0d6485923f8f7f32efa07e04641923101fd2",
        "15f1bd307e3bd468a00b9dae335956af5afd6ae77dae08d17fa525ff36193b4006b9111d2089b532a5943546b0ca3056",
    ),
    (
        3,
        "functions",
        "8c7a8bb48e0d72ac3769ddb5f7f13c6bdfbafbdc6e524d73ef4c095b7d6af0980f44e34f494f58d6f89ac8708eacd497",
        "3d0989dcbb26d570cb8aed2bb6ebbfa070d8696496c3c8e2cc6a9a916e7ab5efb0abb1f643e254c716e9d4279de26ce0",
    ),
    (
        4,
        "oracle",
        "dd092fc33814a7daca1ddbdb37b0a61e337990c1ad2ab826cba4333fc9cbd68c7b8b96bd777a0150e2270f7b6c120208",
        "c598beb327641246072218a3ad6381f675d7f3ddaef6025fa73942948ae01f087fcd29e7a11c556c07ca49aa8dfe4ad4",
    ),
    (
        5,
        "account contracts",
        "4a2b3fc70b7f70ae6d42f028adc66a2a3b24a9accfbcaf0fa0f1133da21a6fdeb941248b6125f7d4c8ecb65fc3469c5e",
        "87d4620c6af0c973b2071f85506f46b520f1a96cc5d7ab143acb85927d65b2f9765cc283d4f7696a021a30fbd5552b58",
    ),
    (
        6,
        "gateway services",
        "7866f5873edac84f3184196f54ab6ce482f2f5b03f924c4de8a46be4c3532bf111a9cbe7d66be8405d621bbcd9f6ef49",
        "d156e0ec854f03b00943bb636f00c93a3e9c8089566813fa0f4bf6b440dafc0b709ee50ef2a7d0f10c5bb10d8547ead3",
    ),
    (
        7,
        "functions onchain",
        "62b64b14880bfaafcd49782fa3667eafdaec40e60ff38fe66e754cdb8df4b4ad1c0cc33b26751ee4416191e1287c7681",
        "e5c34ce5971cd7a30778737409ac349c2b12ea04bfdc1c916aed9fbd2b9c55e5f75b961da4493881871aee73f68ce527",
    ),
    (
        8,
        "oracle gas budget",
        "7bd32adcbe084fc4fd5f6d43f602b41842cb168b7f95534bc54175e113bc93497f710fa40cf3162c469a488f9f638a08",
        "7bd32adcbe084fc4fd5f6d43f602b41842cb168b7f95534bc54175e113bc93497f710fa40cf3162c469a488f9f638a08",
    ),
    (
        9,
        "oracle attempts",
        "ee2c6dc7cdbf1208ec684c6dbb27fc68e37b5a6f957e19884328f831dfbd3d17de47a860ce28c0d61f8ce09aa3036b0e",
        "ee2c6dc7cdbf1208ec684c6dbb27fc68e37b5a6f957e19884328f831dfbd3d17de47a860ce28c0d61f8ce09aa3036b0e",
    ),
    (
        10,
        "audit keyed",
        "ebdab42a14421ad4289f8628a0dcda24f4dcd65e374e8d4df089c9f81eefbf0169c8d54bc2d625fa670c609094d81af2",
        "a063bdecc0fa25aacbc9229b0c34326464105815215c68dcf0425d004a532f2c34f5a6c991091f18167135272d0644c6",
    ),
    (
        11,
        "oracle chain identity",
        "9bac7fed7eeaacde6da9c99421928e40cdc9c08adbab2352dbae769313674e4ef5a618da0f1cdb13e5686b4ae4d67fca",
        "9bac7fed7eeaacde6da9c99421928e40cdc9c08adbab2352dbae769313674e4ef5a618da0f1cdb13e5686b4ae4d67fca",
    ),
    (
        12,
        "chain runtime",
        "dc0394f1b9862567eace16c845a44c7d4bcab1bec7c3aaa52cbf3c710a87f7a7383f038d88aff811976af41d0ca35322",
        "64085e52e6774cf441cc955145f76b3d6d92162079b3d3f3058906aadb80dfa93acebb26bb895d7bca305bb54b06b7c2",
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_composition_is_the_shipped_sequence_with_the_shipped_checksums() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let composed = nsl_store::compose(nsl_node::MIGRATIONS, backend).unwrap();
        let got: Vec<(i64, String, String)> = composed
            .iter()
            .map(|m| (m.version, m.description.to_string(), hex(&m.checksum)))
            .collect();
        let want: Vec<(i64, String, String)> = SHIPPED
            .iter()
            .map(|&(v, d, lite, pg)| {
                let sum = if backend == Backend::Sqlite { lite } else { pg };
                (v, d.to_string(), sum.to_string())
            })
            .collect();
        // Versions after the shipped ones are new migrations; the shipped prefix never changes.
        assert_eq!(got.get(..want.len()), Some(&want[..]), "{backend:?}");
        let versions: Vec<i64> = composed.iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_build_the_same_schema_on_sqlite_and_postgres() {
    let tables = assert_same_schema(nsl_node::MIGRATIONS).await;
    for table in [
        "accounts",
        "audit_head",
        "secret_versions",
        "functions",
        "function_executions",
        "chain_requests",
        "chain_outbox",
        "oracle_request_fields",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing: {tables:?}"
        );
    }
}

/// A database at the shipped version 12 records exactly the shipped checksums; opening it with the
/// node's composition applies nothing; a node that leaves a crate's set out refuses to start.
pub(crate) async fn a_shipped_database_reopens_without_rerun(db: &TestDb) {
    let backend = db.backend();
    let recorded: Vec<(i64, String)> =
        sqlx::query("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(db.store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<i64, _>(0), hex(&r.get::<Vec<u8>, _>(1))))
            .collect();
    let shipped: Vec<(i64, String)> = SHIPPED
        .iter()
        .map(|&(v, _, lite, pg)| {
            (
                v,
                if backend == Backend::Sqlite { lite } else { pg }.to_string(),
            )
        })
        .collect();
    assert_eq!(recorded.get(..shipped.len()), Some(&shipped[..]));

    let cfg = db.config();
    let reopened = Store::open(&cfg, nsl_node::MIGRATIONS).await.unwrap();
    let again = reopened.migrate(nsl_node::MIGRATIONS).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert!(again.current_version >= 12, "{again:?}");

    // Without the functions' set, versions 3 and 7 are unknown to the migrator: refused, and
    // nothing is applied or rolled back.
    let partial = [&nsl_chain::MIGRATIONS, &nsl_secrets::MIGRATIONS];
    let err = reopened.migrate(&partial).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Migrate(sqlx::migrate::MigrateError::VersionMissing(3))
        ),
        "{err:?}"
    );
    reopened.close().await;
}
