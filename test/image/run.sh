#!/usr/bin/env bash
# `npm run test:image`: builds the image with podman on a Node 24 base made here, then runs
# the whole pipeline from it against the local broker and PostgreSQL (pipeline.test.ts).
# Needs root: it installs podman and debootstrap, and mounts cgroup controllers. Not part of
# `npm test`; `.ci/run` runs it after. The base and the image stay as a cache (about 260 MB
# and 360 MB); containers, volumes, topics, groups and databases are removed.
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=localhost/cellstream:test
NODE_BIN=node_modules/node/bin/node
[ -x "$NODE_BIN" ] || { echo "run 'npm ci' first: the image's base takes its Node 24 from node_modules/node" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "the image test needs root (podman, debootstrap, cgroup mounts)" >&2; exit 1; }

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d)
cleanup () {
  # A debootstrap that failed midway may leave /proc or /sys mounted in its root.
  for mount in proc sys dev/pts; do
    if mountpoint -q "$work/rootfs/$mount"; then umount -l "$work/rootfs/$mount"; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Containers may not raise their limits above this machine's hard ones.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
CONF
export CONTAINERS_CONF="$work/containers.conf"

# On a hybrid cgroup host the OCI runtime refuses controllers bound to the unified (v2)
# hierarchy: give each of them a v1 hierarchy of its own. (cgroup files report a size of 0,
# so their content is read rather than tested with -s.)
if mountpoint -q /sys/fs/cgroup/unified; then
  for controller in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    mkdir -p "/sys/fs/cgroup/$controller"
    mountpoint -q "/sys/fs/cgroup/$controller" || mount -t cgroup -o "$controller" cgroup "/sys/fs/cgroup/$controller"
  done
fi

# The base: what the public node:24-bookworm-slim provides (Debian bookworm, Node 24 and npm
# in /usr/local), made from Debian's packages and the Node 24 that npm installed here.
node_version=$("$NODE_BIN" --version)
node_version=${node_version#v}
[ "${node_version%%.*}" = 24 ] || { echo "node_modules/node is Node $node_version, not 24" >&2; exit 1; }
BASE=localhost/node:${node_version}-bookworm-slim
if ! podman image exists "$BASE"; then
  echo "making $BASE (debootstrap, a few minutes)"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  install -D -m 755 "$NODE_BIN" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$(npm root -g)/npm" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # An imported image has no configuration of its own: PATH and the command as the public image has them.
  tar -C "$rootfs" -c . | podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]' - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi

# HTTPS from inside the build goes through this machine's proxy, which re-signs it with the
# local CA certificates that update-ca-certificates adds to Debian's defaults.
secret=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cat /usr/local/share/ca-certificates/*.crt > "$work/ca-certificates.pem"
  secret=(--secret "id=ca-certificates,src=$work/ca-certificates.pem")
fi
echo "building $IMAGE on $BASE"
# Docker's image format: OCI's has no HEALTHCHECK.
podman build --quiet --format docker --isolation chroot --network host "${secret[@]}" --build-arg "BASE=$BASE" -t "$IMAGE" . >/dev/null
# Earlier builds' layers: only the base and the newest image stay.
podman image prune --force >/dev/null

CELLSTREAM_IMAGE=$IMAGE npx ava --config test/image/ava.config.js
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' --filter reference=localhost/cellstream --filter reference=localhost/node
