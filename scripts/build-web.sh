#!/usr/bin/env bash
# Build the demo page's wasm module into web/pkg (release, wasm32-unknown-unknown), with the
# wasm-bindgen-cli whose version is the wasm-bindgen in Cargo.lock (the two must match):
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version "$(scripts/build-web.sh --wasm-bindgen-version)"
# Then serve web/ (python3 -m http.server -d web 8000) and open http://localhost:8000/ in a
# browser with WebGPU; scripts/check-web.py checks the page in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "${1:-}" = "--wasm-bindgen-version" ]; then
    echo "$want"
    exit 0
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }') || true
if [ "$have" != "$want" ]; then
    echo "wasm-bindgen-cli ${have:-is missing}; Cargo.lock has wasm-bindgen $want:" >&2
    echo "  cargo install wasm-bindgen-cli --version $want" >&2
    exit 1
fi
cargo build --release --target wasm32-unknown-unknown -p wgpu-lstm-web
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
    target/wasm32-unknown-unknown/release/wgpu_lstm_web.wasm
echo "built web/pkg (wasm-bindgen $want); serve web/ and open index.html"
