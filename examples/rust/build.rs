//! Runs against the build tree named by SWITCHYARD_LIB_DIR without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=SWITCHYARD_LIB_DIR");
    if let Some(dir) = std::env::var_os("SWITCHYARD_LIB_DIR").filter(|d| !d.is_empty()) {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.to_string_lossy());
    }
}
