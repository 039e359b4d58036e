//! kq's benchmarks. See the binaries under `src/bin/`.
