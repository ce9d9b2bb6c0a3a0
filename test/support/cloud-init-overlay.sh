#!/bin/bash
# Runs the real cloud-init's `init --local` and `init` stages against the host's / as a throwaway
# overlay root, inside private mount/UTS/net/pid namespaces (call through `unshare`), with no seed
# directory: the NoCloud datasource must find its seed on a block device labelled `cidata`.
# Only write_files and set_hostname run (no growpart/resizefs: they would touch the real disk).
# Usage: unshare --mount --uts --net --pid --ipc --fork cloud-init-overlay.sh OUTDIR [SEEDDIR]
# With SEEDDIR, its files become /var/lib/cloud/seed/nocloud/ (for kernels that cannot mount the ISO).
set -euo pipefail
OUT=$(realpath -m "$1")
SEED=${2:+$(realpath "$2")}
T=$(mktemp -d)
# The mounts below go with this mount namespace; the directory they sit on is the real /tmp's.
trap 'umount -l "$T" 2>/dev/null; rmdir "$T"' EXIT
mount --make-rprivate /
mount -t tmpfs tmpfs "$T"
mkdir -p "$T/upper" "$T/work" "$T/merged"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/merged"
R="$T/merged"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t sysfs sysfs "$R/sys"
rm -rf "$R/var/lib/cloud/instances" "$R/var/lib/cloud/instance" "$R/var/lib/cloud/data" "$R/var/lib/cloud/seed"
if [ -n "$SEED" ]; then mkdir -p "$R/var/lib/cloud/seed/nocloud" && cp "$SEED"/* "$R/var/lib/cloud/seed/nocloud/"; fi
cat > "$R/etc/cloud/cloud.cfg.d/99-kubeseed-test.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
growpart: {mode: 'off'}
resize_rootfs: false
cloud_init_modules: [write-files, set_hostname]
cloud_config_modules: []
cloud_final_modules: []
CFG
chroot "$R" /bin/sh -c 'cloud-init init --local && cloud-init init' > "$T/upper/cloud-init-stages.log" 2>&1 || echo "cloud-init stages failed" >> "$T/upper/cloud-init-stages.log"
mkdir -p "$OUT"
cp -a "$T/upper/." "$OUT/"
