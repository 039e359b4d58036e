//! Defines kq's target groups once, so no `target_os` list is ever repeated:
//! `kq_bsd` (every platform whose kernel has kqueue: FreeBSD, OpenBSD, NetBSD, DragonFly and
//! Apple's) and `kq_apple` (Apple's, a subset of `kq_bsd`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(kq_bsd, kq_apple)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let apple = matches!(
        os.as_str(),
        "macos" | "ios" | "tvos" | "watchos" | "visionos"
    );
    let bsd = apple || matches!(os.as_str(), "freebsd" | "openbsd" | "netbsd" | "dragonfly");
    if bsd {
        println!("cargo::rustc-cfg=kq_bsd");
    }
    if apple {
        println!("cargo::rustc-cfg=kq_apple");
    }
}
