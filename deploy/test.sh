#!/usr/bin/env bash
# The test command: installs what is missing, builds everything (the tests start the
# real `agentic` executable as a separate process), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
# The data tests (split P1 equals shared/eval's) need MovieLens; fetched once, checked by SHA-256.
./deploy/fetch-data.sh
swift build --build-tests
# At most six tests at once: the suites start real clusters, and on two cores a free-for-all
# of every suite at once starves the in-process ones of CPU for tens of seconds. The total
# time is the same (the cluster suites are the critical path); set the variable to override.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-6}"
swift test --skip-build "$@"
# The HTTP API against its description (deploy/openapi.yaml), by schemathesis from PyPI.
./deploy/api-check.sh
# Coverage-guided fuzzing of the decoders, 60 s per target (AGENTIC_FUZZ_SECONDS to change).
./deploy/fuzz.sh --seconds "${AGENTIC_FUZZ_SECONDS:-60}"
# The transport's tests under AddressSanitizer (a build of their own in .build/asan).
./deploy/sanitize.sh
