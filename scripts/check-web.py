#!/usr/bin/env python3
"""Load the demo page (web/, built by scripts/build-web.sh) in headless Chromium on WebGPU, wait
for it to finish, read the result off the page, and exit 0 only if the GPU-vs-CPU check passed.

    scripts/check-web.py [--screenshot docs/web-demo.png] [--seq 200 --batch 4]

Serves web/ on a free local port and drives Chromium through chromedriver's WebDriver HTTP API
(Python's standard library only), with the flags of webdriver.json.
"""

import argparse
import base64
import functools
import http.server
import json
import shutil
import socket
import subprocess
import sys
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--seq", type=int, default=200)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--without-webgpu", action="store_true", help="start Chromium without WebGPU; the page must say so (status no-webgpu)")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
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
        page = f"http://127.0.0.1:{server.server_address[1]}/index.html"
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
        if (args.seq, args.batch) != (200, 4) and status not in ("", "running", "no-webgpu"):
            call(base, "POST", f"/session/{sid}/execute/sync", {
                "script": "document.getElementById('seq').value = arguments[0]; document.getElementById('batch').value = arguments[1]; document.body.dataset.status = 'running'; document.getElementById('run').click();",
                "args": [args.seq, args.batch],
            })
            while time.time() < deadline:
                status, verdict, result = call(base, "POST", f"/session/{sid}/execute/sync", script)
                if status and status != "running":
                    break
                time.sleep(0.5)
        print(f"page: {page}\nstatus: {status or 'did not finish'}\n{verdict}\n{result}")
        if args.screenshot:
            png = base64.b64decode(call(base, "GET", f"/session/{sid}/screenshot"))
            args.screenshot.parent.mkdir(parents=True, exist_ok=True)
            args.screenshot.write_bytes(png)
            print(f"screenshot: {args.screenshot}")
        call(base, "DELETE", f"/session/{sid}")
    finally:
        driver.terminate()
        server.shutdown()
    sys.exit(0 if status == ("no-webgpu" if args.without_webgpu else "pass") else 1)


if __name__ == "__main__":
    main()
