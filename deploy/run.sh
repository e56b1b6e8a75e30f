#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what is missing, build in release
# mode, and run the transport benchmark (Swift against raw C over the same NNG).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
swift build -c release
.build/release/agentic bench transport "$@"
