#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those that are missing.
#   scripts/system-deps.sh runtime   WeasyPrint's libraries and fonts (for `make run`)
#   scripts/system-deps.sh test      the above, plus Chromium, pdftotext and wrk (for `make test`)
set -euo pipefail

runtime=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core shared-mime-info)
testing=(chromium poppler-utils wrk)

packages=("${runtime[@]}")
if [[ "${1:-runtime}" == "test" ]]; then
  packages+=("${testing[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${missing[*]}. Install them with your package manager." >&2
  exit 1
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
  sudo="sudo"
fi
echo "Installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
