#!/usr/bin/env bash
# A local stand-in for the Neuron DLC base image, so the image test builds the real Dockerfile here.
#
#   standin-base.sh TAG TORCH_WHEEL      (as root; BUILDAH_ROOT and BUILDAH_RUNROOT name the store)
#
# It copies what the Dockerfile relies on in the real base: Debian bookworm (Python 3.11) with a
# Python prefix at /opt/conda whose bin is first on PATH, torch (2.13.0 CPU here, 2.8 + Neuron
# there) and numpy 1.26.4 already installed, a Neuron SDK distribution for the pins to keep, curl,
# TEMP=/home/model-server/tmp, and the DLC's own ENTRYPOINT, CMD, EXPOSE 8080 8081 and HEALTHCHECK,
# which the image must replace. The base's entrypoint here fails loudly if it is ever run.
set -euo pipefail

tag=${1:?usage: standin-base.sh TAG TORCH_WHEEL}
wheel=${2:?usage: standin-base.sh TAG TORCH_WHEEL}
: "${BUILDAH_ROOT:?}" "${BUILDAH_RUNROOT:?}"

b() { buildah --root "$BUILDAH_ROOT" --runroot "$BUILDAH_RUNROOT" --storage-driver vfs "$@"; }

ctr=$(b from scratch)
log=$(mktemp)
cleanup() {
    b umount "$ctr" >/dev/null 2>&1 || true
    b rm "$ctr" >/dev/null 2>&1 || true
    rm -f "$log"
}
trap cleanup EXIT
root=$(b mount "$ctr")

# Run a command inside the new root with a clean environment (none of the host's pip settings).
in_root() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 chroot "$root" "$@"; }

echo "standin-base: debootstrap bookworm (minbase) into $root"
# No mirror argument: debootstrap's default Debian mirror, unless DEBIAN_MIRROR names another.
debootstrap --variant=minbase \
    --include=python3.11,python3.11-venv,python3-distutils,python3-pip-whl,python3-setuptools-whl,ca-certificates,curl \
    bookworm "$root" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"} >"$log" 2>&1 || {
    tail -n 30 "$log" "$root/debootstrap/debootstrap.log" 2>/dev/null
    exit 1
}

# The host's extra CA certificates (a TLS-inspecting proxy on some networks), so pip inside the
# stand-in trusts what the host trusts, as the real base trusts its own network.
shopt -s nullglob
extra_cas=(/usr/local/share/ca-certificates/*.crt)
if ((${#extra_cas[@]})); then
    cp "${extra_cas[@]}" "$root/usr/local/share/ca-certificates/"
    in_root update-ca-certificates >/dev/null 2>&1
fi

echo "standin-base: /opt/conda with $(basename "$wheel") and numpy 1.26.4"
cp "$wheel" "$root/tmp/"
in_root python3.11 -m venv /opt/conda
in_root /opt/conda/bin/python -m pip install --quiet --no-cache-dir --disable-pip-version-check \
    "/tmp/$(basename "$wheel")" numpy==1.26.4
rm -f "$root/tmp/$(basename "$wheel")"

# A Neuron SDK distribution (metadata only) so the pins have a neuron* package to keep.
site=$(in_root /opt/conda/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
meta="$root$site/neuronx_cc-2.21.33363.0.dist-info"
mkdir -p "$meta"
printf 'Metadata-Version: 2.1\nName: neuronx-cc\nVersion: 2.21.33363.0\n' >"$meta/METADATA"
printf 'pip\n' >"$meta/INSTALLER"
: >"$meta/RECORD"

# The DLC's TorchServe entrypoint, which the sdxl-inf2 image must replace.
mkdir -p "$root/home/model-server/tmp" "$root/opt/ml/model" "$root/opt/aws/neuron/bin"
cat >"$root/usr/local/bin/dockerd-entrypoint.py" <<'PY'
import sys
sys.exit("stand-in base entrypoint ran: the sdxl-inf2 image must replace the base's ENTRYPOINT")
PY
printf '#!/bin/sh\necho "stand-in base CMD ran" >&2\nexit 3\n' >"$root/usr/local/bin/entrypoint.sh"
chmod 755 "$root/usr/local/bin/entrypoint.sh"

rm -rf "$root/debootstrap" "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb
b umount "$ctr" >/dev/null

b config \
    --env LANG=C.UTF-8 \
    --env PATH=/opt/conda/bin:/opt/aws/neuron/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LD_LIBRARY_PATH=/opt/aws/neuron/lib:/opt/conda/lib \
    --env TEMP=/home/model-server/tmp \
    --label com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
    --label org.sdxl-inf2.standin-base=true \
    --port 8080 --port 8081 \
    --entrypoint '["python", "/usr/local/bin/dockerd-entrypoint.py"]' \
    --cmd '["/usr/local/bin/entrypoint.sh"]' \
    --healthcheck 'CMD-SHELL curl --fail http://localhost:8080/ping || exit 1' \
    "$ctr"
b commit --quiet --format docker --rm "$ctr" "$tag" >/dev/null
echo "standin-base: committed $tag"
