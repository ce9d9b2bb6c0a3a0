#!/bin/bash
# Sourced by test scripts running inside `unshare --mount` (as root): overlay_root DIR makes an
# overlay of this machine's / at $R whose writes land in a tmpfs mounted at DIR (the machine's files
# never change), with /proc, /dev, /sys and fresh /run and /tmp inside, ready for `chroot "$R"`.
# Everything goes with the mount namespace.
overlay_root() {
    local t=$1
    mount --make-rprivate /
    mount -t tmpfs tmpfs "$t"
    mkdir -p "$t/upper" "$t/work" "$t/merged"
    mount -t overlay overlay -o lowerdir=/,upperdir="$t/upper",workdir="$t/work" "$t/merged"
    R="$t/merged"
    mount -t proc proc "$R/proc"
    mount --rbind /dev "$R/dev"
    mount --rbind /sys "$R/sys"
    mount -t tmpfs tmpfs "$R/run"
    mount -t tmpfs tmpfs "$R/tmp"
}
