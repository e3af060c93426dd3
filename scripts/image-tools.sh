#!/usr/bin/env bash
# Install what the image test needs: buildah (builds and runs images without a Docker engine) and
# debootstrap (the stand-in base). Debian or Ubuntu, as root.
#
#   scripts/image-tools.sh            install, or fail saying why (CI, `make image-test`)
#   scripts/image-tools.sh --optional install if possible, else say why and succeed (`make test`)
set -euo pipefail

optional=false
[[ ${1:-} == --optional ]] && optional=true
tools=(buildah debootstrap)

give_up() {
    if $optional; then
        echo "image-tools: $1; the image test will be skipped" >&2
        exit 0
    fi
    echo "image-tools: $1" >&2
    exit 1
}

missing=()
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) && exit 0

[[ $(id -u) == 0 ]] || give_up "${missing[*]} missing and installing them needs root"
command -v apt-get >/dev/null || give_up "${missing[*]} missing and there is no apt-get"

echo "image-tools: installing ${missing[*]}" >&2
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
# Try the package lists already there first; refresh them once if that fails.
install 2>/dev/null || { apt-get update -qq >/dev/null && install; } || give_up "apt-get could not install ${missing[*]}"
