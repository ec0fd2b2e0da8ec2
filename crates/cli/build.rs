//! Link settings of the `hitstream` binary in optimized builds: a smaller file, no
//! difference in the code that runs.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HITSTREAM_PACK_RELOCS");
    let profile = std::env::var("PROFILE").unwrap_or_default();
    // `PROFILE` is "release" for every profile that inherits it (dist, bench) too.
    let optimized = profile == "release";
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if optimized && linux {
        // Identical functions (the many equal monomorphized copies in the DataFusion tree)
        // are kept once: 7 MB less code, and no demand on the C library.
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
        // Packed relative relocations (RELR) make the file 8 MB smaller, but the binary then
        // needs glibc 2.36 or later (`GLIBC_ABI_DT_RELR`): it would not start on Ubuntu
        // 22.04 (glibc 2.35). Only for a build that runs where it is built:
        // HITSTREAM_PACK_RELOCS=1 cargo build --release. The packages are built without it.
        if std::env::var("HITSTREAM_PACK_RELOCS").is_ok_and(|v| v == "1") {
            println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        }
    }
}
