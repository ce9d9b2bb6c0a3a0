#!/usr/bin/env bash
# kubeseed e2e: builds the Debian 12 disk image that test/e2e/vm-boot.test.ts boots under qemu (TCG).
#
# A real Debian 12 — kernel, systemd, cloud-init 22.4 from Debian's archive (debootstrap) — plus the
# few TEST DOUBLE pieces a preinstalled Kubernetes image would have (kubeadm and kubelet cannot be
# installed here), each named as a double:
#   /usr/local/bin/{kubeadm,kubectl,kubelet,containerd,runc,node}  links into /opt/kubeseed-test-doubles,
#        a read-only disk labelled `ks-doubles` that the test makes from doubles/ at every run
#        (so the image does not change when the doubles do)
#   containerd.service, kubelet.service     TEST DOUBLE units (`sleep infinity`): prepare-host enables them
#   /run/ks-shared                          the harness's shared directory (doubles' call log and cluster
#        state, as in every namespace host), over virtio-9p
#   {cloud-final,kubeseed-agent}.service.d/50-test-doubles.conf   the doubles' environment (which the
#        generated units do not carry); the agent's output on the serial console as well as the journal
# Everything kubeseed generates (user-data, network-config, meta-data, the agent unit) comes from the
# NoCloud seed at boot, unchanged.
#
# Output in $KUBESEED_VM_CACHE (default /var/cache/kubeseed-vm): debian12.raw (sparse ext4 filesystem
# on the whole disk, label ks-root: the test copies it per boot and reads files back with debugfs),
# debian12.vmlinuz, debian12.initrd, debian12.stamp. Skipped while the stamp (SHA-256 of this script)
# matches; FORCE=1 rebuilds. One builder at a time (flock). About 3 minutes from scratch.
set -Eeuo pipefail

CACHE=${KUBESEED_VM_CACHE:-/var/cache/kubeseed-vm}
NAME=debian12
SIZE=3G
PACKAGES=linux-image-amd64,initramfs-tools,systemd-sysv,udev,kmod,dbus,netbase,procps,e2fsprogs,cloud-init,python3-cffi-backend,iproute2,curl,ca-certificates,openssl

log() { printf '[%s build-image] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap)"
for cmd in debootstrap mkfs.ext4 flock; do
  command -v "$cmd" >/dev/null || die "$cmd is missing: apt-get install -y debootstrap e2fsprogs util-linux"
done
mkdir -p "$CACHE"
STAMP=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-32)
up_to_date() {
  [[ -z ${FORCE:-} && -s $CACHE/$NAME.raw && -s $CACHE/$NAME.vmlinuz && -s $CACHE/$NAME.initrd ]] &&
    [[ $(cat "$CACHE/$NAME.stamp" 2>/dev/null) == "$STAMP" ]]
}
up_to_date && {
  log "$CACHE/$NAME.raw is up to date"
  exit 0
}
exec 9>"$CACHE/$NAME.lock"
flock 9
up_to_date && {
  log "$CACHE/$NAME.raw was built meanwhile"
  exit 0
}

START=$SECONDS
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
R=$WORK/rootfs
# debootstrap mounts proc/sys below the tree; never delete through a mount.
unmount_tree() {
  awk -v p="$R" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" || true; done
}
trap 'unmount_tree; rm -rf --one-file-system "$WORK"' EXIT

log "debootstrap bookworm (minbase) with $PACKAGES"
mkdir -p "$CACHE/debs"
if ! debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE/debs" bookworm "$R" >"$WORK/debootstrap.log" 2>&1; then
  tail -n 40 "$WORK/debootstrap.log" >&2
  die "debootstrap failed"
fi
unmount_tree
log "debootstrap done after $((SECONDS - START)) s"

# --- the guest ---
echo 'LABEL=ks-root / ext4 defaults 0 1' >"$R/etc/fstab"
echo 'LABEL=ks-doubles /opt/kubeseed-test-doubles ext4 ro,nofail 0 0' >>"$R/etc/fstab"
echo 'ks-shared /run/ks-shared 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0' >>"$R/etc/fstab"
echo debian >"$R/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
: >"$R/etc/resolv.conf"
echo 'LANG=C.UTF-8' >"$R/etc/default/locale"
: >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"

cat >"$R/etc/cloud/cloud.cfg.d/90_kubeseed_vm.cfg" <<'EOF'
# kubeseed e2e image: the seed is a NoCloud disk; the disk layout is fixed (no partition table).
datasource_list: [ NoCloud, None ]
growpart: {mode: "off"}
resize_rootfs: false
# No OpenSSH in this image: an empty map keeps cc_ssh from running the missing ssh-keygen.
ssh_keys: {}
system_info:
  network:
    renderers: [networkd]
    activators: [networkd]
EOF

systemctl --root="$R" --quiet enable serial-getty@ttyS0.service systemd-networkd.service
systemctl --root="$R" --quiet mask systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer
mkdir -p "$R/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"$R/etc/systemd/system/systemd-networkd-wait-online.service.d/10-kubeseed-vm.conf" <<'EOF'
# kubeseed e2e image: one static NIC; do not wait the default two minutes for anything else.
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60
EOF

# --- TEST DOUBLE pieces (see the header) ---
D=/opt/kubeseed-test-doubles
mkdir -p "$R$D" "$R/usr/local/bin"
for bin in kubectl kubelet containerd runc; do ln -s "$D/bin/$bin" "$R/usr/local/bin/$bin"; done
ln -s "$D/bin/kubeadm-api" "$R/usr/local/bin/kubeadm"
ln -s "$D/node" "$R/usr/local/bin/node"
# The doubles resolve host paths below KUBESEED_TEST_ROOT; on this throwaway VM that is / itself.
ln -s / "$R/.ksroot"
for unit in containerd kubelet; do
  cat >"$R/etc/systemd/system/$unit.service" <<EOF
# kubeseed e2e image: TEST DOUBLE unit for $unit — NOT $unit. It only lets prepare-host enable and
# (re)start it the way it does on a real image; the $unit double on PATH answers --version.
[Unit]
Description=TEST DOUBLE $unit (kubeseed e2e image)

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
EOF
done
# cloud-final (prepare-host runs the doubles' --version) and the agent get the doubles' environment:
# the same paths as every namespace host of the harness, /run/ks-shared being the run's shared
# directory (call log, cluster state) over virtio-9p. The agent's output also goes to the serial console.
for unit in cloud-final kubeseed-agent; do
  mkdir -p "$R/etc/systemd/system/$unit.service.d"
  cat >"$R/etc/systemd/system/$unit.service.d/50-test-doubles.conf" <<EOF
# kubeseed e2e image: the TEST DOUBLES' environment (see /etc/kubeseed-vm-image).
[Unit]
RequiresMountsFor=$D /run/ks-shared

[Service]
Environment=KUBESEED_TEST_ROOT=/.ksroot
Environment=KUBESEED_DOUBLE_LOG=/run/ks-shared/doubles.log
Environment=KUBESEED_DOUBLE_CLUSTER_STATE=/run/ks-shared/cluster.json
EOF
done
printf 'StandardOutput=journal+console\nStandardError=journal+console\n' >>"$R/etc/systemd/system/kubeseed-agent.service.d/50-test-doubles.conf"
printf 'kubeseed e2e image %s\npackages %s\n' "$STAMP" "$PACKAGES" >"$R/etc/kubeseed-vm-image"
rm -rf "$R"/var/lib/cloud/* "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/log/*.log "$R"/tmp/*

# --- kernel, initramfs, filesystem (mkfs.ext4 -d: no loop device, no mount) ---
KERNEL=$(find "$R/boot" -name 'vmlinuz-*' | sort -V | tail -n 1)
[[ -n $KERNEL ]] || die "no kernel in $R/boot"
INITRD=$R/boot/initrd.img-${KERNEL##*/vmlinuz-}
[[ -s $INITRD ]] || die "no initramfs next to $KERNEL"
cp "$KERNEL" "$WORK/$NAME.vmlinuz"
cp "$INITRD" "$WORK/$NAME.initrd"
truncate -s "$SIZE" "$WORK/$NAME.raw"
mkfs.ext4 -q -F -L ks-root -d "$R" "$WORK/$NAME.raw" || die "mkfs.ext4 -d failed"
rm -f "$CACHE/$NAME.stamp"
for f in raw vmlinuz initrd; do mv -f "$WORK/$NAME.$f" "$CACHE/$NAME.$f"; done
echo "$STAMP" >"$CACHE/$NAME.stamp"
log "built $CACHE/$NAME.raw ($(du -h "$CACHE/$NAME.raw" | cut -f1) used) in $((SECONDS - START)) s"
