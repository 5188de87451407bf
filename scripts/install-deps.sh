#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build and the tests need and this machine
# lacks. Needs root (or sudo) only when something is missing.
set -euo pipefail
packages=(build-essential cmake ninja-build ccache clang libclang-rt-14-dev
          libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev nlohmann-json3-dev doctest-dev
          libsqlite3-dev sqlite3 libssl-dev openssl curl python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
