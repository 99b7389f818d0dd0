//! Finds libswitchyard: `SWITCHYARD_LIB_DIR` (a build tree's `core/` or an
//! install's libdir) first, else `pkg-config --libs-only-L switchyard`, else
//! the linker's default search path.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SWITCHYARD_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-changed=build.rs");

    if let Some(dir) = env::var_os("SWITCHYARD_LIB_DIR").filter(|d| !d.is_empty()) {
        let dir = dir.to_string_lossy().into_owned();
        println!("cargo:rustc-link-search=native={dir}");
        // So tests and examples run against the same tree without LD_LIBRARY_PATH.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        println!("cargo:lib_dir={dir}");
    } else {
        match Command::new("pkg-config").args(["--libs-only-L", "switchyard"]).output() {
            Ok(out) if out.status.success() => {
                for tok in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Some(dir) = tok.strip_prefix("-L") {
                        println!("cargo:rustc-link-search=native={dir}");
                        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
                        println!("cargo:lib_dir={dir}");
                    }
                }
            }
            Ok(out) => println!(
                "cargo:warning=pkg-config cannot find switchyard ({}); set SWITCHYARD_LIB_DIR to the directory holding libswitchyard.so",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => println!(
                "cargo:warning=pkg-config not runnable ({e}); set SWITCHYARD_LIB_DIR to the directory holding libswitchyard.so"
            ),
        }
    }
    println!("cargo:rustc-link-lib=dylib=switchyard");
}
