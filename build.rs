//! Windows gives a program's main thread 1 MiB of stack (Linux 8 MiB), and RustPython's
//! start-up overflowed it: the repy executables ask for 16 MiB there.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    const STACK: u32 = 16 << 20;
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        match std::env::var("CARGO_CFG_TARGET_ENV").as_deref() {
            Ok("msvc") => println!("cargo:rustc-link-arg-bins=/STACK:{STACK}"),
            _ => println!("cargo:rustc-link-arg-bins=-Wl,--stack,{STACK}"),
        }
    }
}
