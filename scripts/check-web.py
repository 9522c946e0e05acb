#!/usr/bin/env python3
"""Load the demo page (web/, built by scripts/build-web.sh) in headless Chromium on WebGPU, wait
for it to finish, read the input it ran and the whole y its GPU computed, run the same model on
the same input natively (`wgpu-lstm run --device cpu`, the float64-accumulating reference), and
exit 0 only if every value the page's GPU computed lies within the error model's bound of the
native result (docs/conformance.md), computed here from the model's sizes. The page's own verdict
is not the check; a page whose verdict disagrees with the native comparison fails too.

    scripts/check-web.py [--cell lstm|gru|rnn] [--precision f32|f16|int8] [--screenshot docs/web-demo.png] [--seq 200 --batch 4] [--bin target/debug/wgpu-lstm]

With --precision the page stores the weights at that precision and the native reference rounds
them the same way (`run --weights-precision`).

Serves web/ on a free local port and drives Chromium through chromedriver's WebDriver HTTP API
(Python's standard library only), with the flags of webdriver.json.
"""

import argparse
import base64
import functools
import http.server
import json
import math
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.load(response)["value"]


def write_npy(path, shape, values):
    """A little-endian float32 .npy file (format 1.0)."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{n}," for n in shape)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack(f"<{len(values)}f", *values))


def read_npy(path):
    """(shape, values) of a little-endian float32 .npy file."""
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<H", data[8:10])
    header = data[10 : 10 + length].decode()
    assert "'<f4'" in header and "'fortran_order': False" in header, header
    shape = tuple(int(n) for n in header.split("'shape': (")[1].split(")")[0].split(",") if n.strip())
    count = math.prod(shape)
    return shape, struct.unpack(f"<{count}f", data[10 + length : 10 + length + 4 * count])


def model_bound(path, seq):
    """ErrorBound::for_model from a PyTorch-convention .safetensors header: atol = 3·u·√K·L,
    rtol = 12·u·√T, K the widest gate sum (layer input + P + 2 biases, or H with a projection)."""
    data = Path(path).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    shapes = {k: v["shape"] for k, v in json.loads(data[8 : 8 + length]).items() if k != "__metadata__"}
    layers = sum(1 for k in shapes if k.startswith("weight_ih_l") and not k.endswith("_reverse"))
    # weight_hh_l0 is [G·H, P]: an LSTM with a projection (weight_hr_l0 [P, H]) has G = 4; without
    # one P = H, and G = 4, 3 or 1 (LSTM, GRU, RNN).
    rows, out = shapes["weight_hh_l0"]
    hidden = shapes["weight_hr_l0"][1] if "weight_hr_l0" in shapes else out
    k = max(shapes[f"weight_ih_l{l}"][1] + out + 2 for l in range(layers))
    if out != hidden:
        k = max(k, hidden)
    u = 2.0**-24
    return 3 * u * math.sqrt(k) * layers, 12 * u * math.sqrt(max(seq, 1))


BUNDLED = {"lstm": "model.safetensors", "gru": "model_gru.safetensors", "rnn": "model_rnn.safetensors"}


def check_natively(report, binary, cell, precision):
    """The page's GPU output against the native reference on the page's input: (passed, text)."""
    model = ROOT / "web" / BUNDLED[cell]
    with tempfile.TemporaryDirectory() as tmp:
        x = Path(tmp) / "x.npy"
        write_npy(x, report["input"]["shape"], report["input"]["data"])
        out = Path(tmp) / "out"
        native = subprocess.run([binary, "run", "--device", "cpu", "--weights-precision", precision, "--weights", model, "--input", x, "--out", out], capture_output=True, text=True)
        if native.returncode != 0:
            return False, f"native check: `{binary} run` failed: {native.stderr.strip()}"
        shape, want = read_npy(out / "y.npy")
    got = report["output"]["data"]
    if list(shape) != list(report["output"]["shape"]) or len(got) != len(want):
        return False, f"native y is {list(shape)}, the page's {report['output']['shape']}"
    atol, rtol = model_bound(model, shape[0])
    worst, where = 0.0, 0
    for index, (g, w) in enumerate(zip(got, want)):
        ratio = abs(g - w) / (atol + rtol * abs(w)) if math.isfinite(g) else math.inf
        if ratio > worst:
            worst, where = ratio, index
    text = (f"native check: {len(got)} values of y against `wgpu-lstm run --device cpu` on the page's input: "
            f"worst {worst:.3f} of the bound ({atol:.2e} + {rtol:.2e}·|ref|) at [{where}]: page {got[where]!r}, native {want[where]!r}")
    return worst <= 1.0, text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--cell", choices=sorted(BUNDLED), default="lstm", help="the bundled model the page runs")
    parser.add_argument("--precision", choices=["f32", "f16", "int8"], default="f32", help="how the page stores the weights on the GPU")
    parser.add_argument("--seq", type=int, default=200)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--without-webgpu", action="store_true", help="start Chromium without WebGPU; the page must say so (status no-webgpu)")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    parser.add_argument("--bin", default=str(ROOT / "target" / "debug" / "wgpu-lstm"), help="the native wgpu-lstm binary")
    args = parser.parse_args()
    if not (ROOT / "web" / "pkg" / "wgpu_lstm_web_bg.wasm").exists():
        sys.exit("web/pkg is missing: run scripts/build-web.sh first")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_):
            pass

    handler = functools.partial(Quiet, directory=str(ROOT / "web"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    driver = subprocess.Popen([args.chromedriver, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                call(base, "GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        options = json.loads((ROOT / "webdriver.json").read_text())["goog:chromeOptions"]
        options["args"] = options["args"] + ["--window-size=1100,900"]
        if args.without_webgpu:
            options["args"] = [a for a in options["args"] if a != "--enable-unsafe-webgpu"] + ["--disable-webgpu"]
        session = call(base, "POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
        sid = session["sessionId"]
        print(f"browser: {session['capabilities']['browserName']} {session['capabilities']['browserVersion']}")
        page = f"http://127.0.0.1:{server.server_address[1]}/index.html?cell={args.cell}"
        call(base, "POST", f"/session/{sid}/url", {"url": page})
        script = {"script": "return [document.body.dataset.status || '', document.getElementById('verdict').textContent, document.getElementById('result').textContent]", "args": []}
        # The page runs once on load with the defaults; run again with the requested shape.
        deadline = time.time() + args.timeout
        status = ""
        while time.time() < deadline:
            status, verdict, result = call(base, "POST", f"/session/{sid}/execute/sync", script)
            if status and status != "running":
                break
            time.sleep(0.5)
        if (args.seq, args.batch, args.precision) != (200, 4, "f32") and status not in ("", "running", "no-webgpu"):
            call(base, "POST", f"/session/{sid}/execute/sync", {
                "script": "document.getElementById('seq').value = arguments[0]; document.getElementById('batch').value = arguments[1]; document.getElementById('precision').value = arguments[2]; document.body.dataset.status = 'running'; document.getElementById('run').click();",
                "args": [args.seq, args.batch, args.precision],
            })
            while time.time() < deadline:
                status, verdict, result = call(base, "POST", f"/session/{sid}/execute/sync", script)
                if status and status != "running":
                    break
                time.sleep(0.5)
        print(f"page: {page}\nstatus: {status or 'did not finish'}\n{verdict}\n{result}")
        native = None
        if status in ("pass", "fail"):
            report = call(base, "POST", f"/session/{sid}/execute/sync", {"script": "return window.wgpuLstmReport", "args": []})
            if report.get("cell") != args.cell:
                print(f"the page ran a {report.get('cell')} model, not the bundled {args.cell}")
            passed, text = check_natively(report, args.bin, args.cell, args.precision)
            if report.get("weights_precision") != args.precision:
                print(f"the page stored {report.get('weights_precision')} weights, not {args.precision}")
            passed = passed and report.get("cell") == args.cell and report.get("weights_precision") == args.precision
            print(text)
            native = "pass" if passed else "fail"
            if native != status:
                print(f"the page's verdict ({status}) disagrees with the native check ({native})")
        if args.screenshot:
            png = base64.b64decode(call(base, "GET", f"/session/{sid}/screenshot"))
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            args.screenshot.write_bytes(png)
            print(f"screenshot: {args.screenshot}")
        call(base, "DELETE", f"/session/{sid}")
    finally:
        driver.terminate()
        server.shutdown()
    if args.without_webgpu:
        sys.exit(0 if status == "no-webgpu" else 1)
    sys.exit(0 if native == "pass" and status == "pass" else 1)


if __name__ == "__main__":
    main()
