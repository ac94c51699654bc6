//! Generates the C header into OUT_DIR (never into the source tree);
//! `make header` copies it to include/imconv.h, and `make test` checks that
//! the committed copy is current. Also gives the shared library its SONAME.

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

fn main() {
    let crate_dir = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
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
