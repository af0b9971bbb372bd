#!/usr/bin/env bash
# Debian's chromium for the report.html browser tests (tests/test_report_html_browser.py drives it
# through Playwright's executable_path: no browser is ever downloaded by Playwright).
# Does nothing when a chromium is on PATH (or $HARNESS_CHROMIUM is set). Otherwise installs the Debian
# package with apt-get, as root or through passwordless sudo; fails, saying how to fix it, when neither
# works. Measured on this project's machine (Debian 12, 2 cores): 40 s for the first install (apt's log;
# that one also took the recommended packages, which this script skips), 22 s to reinstall chromium and
# chromium-common alone (~110 MB of packages), 2 s for `apt-get update` when the package lists are missing.
# fonts-liberation (a recommended package) is installed on purpose: without any font the page's text
# would not render in the screenshot the tests check.
set -euo pipefail
if [ -n "${HARNESS_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_chromium.sh: no chromium on PATH and no apt-get to install it: install a Chromium-family" \
         "browser and set HARNESS_CHROMIUM=/path/to/it (the report.html browser tests need one)." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "install_chromium.sh: no chromium on PATH, and installing it needs root: run" \
         "'sudo apt-get install -y --no-install-recommends chromium fonts-liberation' (or set HARNESS_CHROMIUM=/path/to/chromium)." >&2
    exit 1
fi
start=$(date +%s)
# A fresh image has no package lists: fetch them only then (1-2 s).
if ! apt-cache show chromium >/dev/null 2>&1; then
    "${as_root[@]}" apt-get update -qq
fi
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
echo "install_chromium.sh: installed $(chromium --version 2>/dev/null) in $(( $(date +%s) - start )) s."
