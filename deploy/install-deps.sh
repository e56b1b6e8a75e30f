#!/usr/bin/env bash
# Installs the Debian packages agentic builds and tests against, when they are missing:
# NNG (libnng-dev; nng-utils gives nngcat for the interop tests), OpenBLAS/LAPACKE, and
# libcurl4 (FoundationNetworking: the gateway tests and the demo talk HTTP through URLSession),
# graphviz (`dot` draws the demo's topology pictures; the demo falls back to its own SVG), and
# chromium (the dashboard's test loads the live page in it, headless).
set -euo pipefail
packages=(libnng-dev nng-utils libsqlite3-dev libopenblas-dev liblapacke-dev libcurl4 graphviz chromium python3 python3-pip)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv); only require them from apt when absent.
if command -v python3 >/dev/null 2>&1; then missing=("${missing[@]/python3}"); fi
if python3 -m pip --version >/dev/null 2>&1; then missing=("${missing[@]/python3-pip}"); fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
    echo "swift is not on PATH: install a Swift 6 toolchain (swift.org) first" >&2
    exit 1
fi
