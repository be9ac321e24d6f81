//! `embed_migrations!` reads `migrations/` at compile time, and cargo does not know to watch
//! that directory: without this, a new or edited migration would leave test binaries and the
//! server with the old set built in (and PostgreSQL test templates made from it).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
