//! `rustc-link-arg` of switchyard-sys reaches only that crate's own targets:
//! repeat the rpath for this crate's tests and examples, from the directory
//! switchyard-sys found (`DEP_SWITCHYARD_LIB_DIR`).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_SWITCHYARD_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_SWITCHYARD_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
