//! Generates the C header into OUT_DIR (never into the source tree);
//! `make header` copies it to include/imconv.h, and `make test` checks that
//! the committed copy is current. Also gives the shared library its SONAME,
//! and compiles the SQLite it stores in (see [`compile_sqlite`]).

use std::env;
use std::path::PathBuf;

/// What the header needs before its declarations: the standard types (C89
/// has no `bool`: there, the ABI's one-byte bool is an `unsigned char`) and
/// the export macro every function is declared with.
const PRELUDE: &str = r#"#include <stddef.h>
#include <stdint.h>
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#include <stdbool.h>
#elif !defined(bool)
typedef unsigned char bool;
#define true 1
#define false 0
#endif

/* IMCONV_API marks the library's functions: exported from a Windows DLL
   (define IMCONV_BUILDING_DLL when building it, IMCONV_STATIC when linking
   the static library), default visibility elsewhere. */
#if defined(_WIN32)
#  if defined(IMCONV_STATIC)
#    define IMCONV_API
#  elif defined(IMCONV_BUILDING_DLL)
#    define IMCONV_API __declspec(dllexport)
#  else
#    define IMCONV_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define IMCONV_API __attribute__((visibility("default")))
#else
#  define IMCONV_API
#endif
"#;

/// The SQLite the store runs on: SQLite3 Multiple Ciphers, SQLite with page
/// encryption built in (the amalgamation from the `sqlite3mc-src` crate,
/// byte for byte as released). rusqlite's `libsqlite3-sys` is told to link
/// nothing (its `in_gecko` feature): this archive is the one SQLite.
///
/// Compiling it takes half a minute, and this script reruns whenever `src`
/// changes (for the header); so it is compiled once per build folder and
/// flag set, recorded in a stamp beside the archive.
fn compile_sqlite(out_dir: &std::path::Path) {
    // Options as libsqlite3-sys's bundled build had them (those this
    // library relies on), minus extensions it never uses, plus: temporary
    // tables and files only ever in memory (so nothing of an encrypted store
    // reaches a plain temporary file), no loading of extensions, the
    // `sha3()` function (the key check, see store/keying.rs), the cipher
    // scheme new encrypted stores get (AEGIS-256, chosen by measurement:
    // README, "Encryption at rest"), and the allocator that can wipe what
    // SQLite frees (turned on when a store is keyed).
    const FLAGS: &[&str] = &[
        "SQLITE_CORE",
        "SQLITE_THREADSAFE=1",
        "SQLITE_DEFAULT_FOREIGN_KEYS=1",
        "SQLITE_ENABLE_API_ARMOR",
        "SQLITE_USE_URI",
        "SQLITE_TEMP_STORE=3",
        "SQLITE_OMIT_LOAD_EXTENSION",
        "SQLITE_ENABLE_SHA3",
        "HAVE_USLEEP=1",
        "HAVE_ISNAN",
        "HAVE_LOCALTIME_R",
        "CODEC_TYPE=CODEC_TYPE_AEGIS",
        "SQLITE3MC_SECURE_MEMORY=1",
    ];
    let dir = sqlite3mc_src::source_dir();
    let source = dir.join(sqlite3mc_src::SOURCE_FILE);
    let stamp = out_dir.join("sqlite3mc.stamp");
    let want = format!(
        "{} {} {:?}",
        sqlite3mc_src::SQLITE3MC_VERSION,
        env::var("PROFILE").unwrap_or_default(),
        FLAGS
    );
    let archive = out_dir.join("libsqlite3mc.a");
    if !archive.exists() || std::fs::read_to_string(&stamp).ok().as_deref() != Some(&want) {
        let mut build = cc::Build::new();
        build.file(&source).warnings(false).cargo_metadata(false);
        for flag in FLAGS {
            build.flag(format!("-D{flag}"));
        }
        build.compile("sqlite3mc");
        std::fs::write(&stamp, &want).expect("writing the SQLite stamp");
    }
    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static=sqlite3mc");
    println!("cargo:rerun-if-changed={}", source.display());
}

fn main() {
    let crate_dir = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    compile_sqlite(&out_dir);
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let mut config = cbindgen::Config::from_file(PathBuf::from(&crate_dir).join("cbindgen.toml"))
        .expect("reading cbindgen.toml");
    // The version macros come from Cargo.toml, so header and library agree.
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version");
    config.after_includes = Some(format!(
        "{}\n#define IMCONV_VERSION_MAJOR {}\n#define IMCONV_VERSION_MINOR {}\n#define IMCONV_VERSION_PATCH {}\n",
        PRELUDE,
        version("MAJOR"),
        version("MINOR"),
        version("PATCH")
    ));
    let path = out_dir.join("imconv.h");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("generating the C header")
        .write_to_file(&path);
    // C89 has no `//` comments: cbindgen writes two after its guards.
    let header = std::fs::read_to_string(&path).expect("reading the header");
    let header = header
        .replace("#endif // __cplusplus", "#endif /* __cplusplus */")
        .replace("#endif  // __cplusplus", "#endif  /* __cplusplus */")
        .replace("}  // extern \"C\"", "}  /* extern \"C\" */");
    std::fs::write(&path, header).expect("writing the header");

    // The name programs record to find the library at run time:
    // libimconv.so.<major> (Linux, Android), libimconv.<major>.dylib found
    // through the rpath (macOS).
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("version");
    match env::var("CARGO_CFG_TARGET_OS").as_deref() {
        Ok("linux") | Ok("android") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libimconv.so.{major}")
        }
        Ok("macos") | Ok("ios") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libimconv.{major}.dylib")
        }
        _ => {}
    }
}
