//! Rebuild when a migration is added or changed: `sqlx::migrate!` embeds the files at compile
//! time and does not tell Cargo about them on stable Rust.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
