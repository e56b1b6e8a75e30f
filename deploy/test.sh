#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (the tests start the
# real `agentic` executable as a separate process), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
