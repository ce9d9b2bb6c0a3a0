/**
 * What the Kubernetes packages (pkgs.k8s.io, built from kubernetes/release) put on a host, for the
 * TEST DOUBLES' hosts: unit tests install it below their test root, the e2e harness into a
 * preinstalled image, and the local apt mirror can ship the same files in its dummy packages.
 * Sources (kubernetes/release, cmd/krel/templates/latest/):
 *   - kubelet/kubelet.spec: /usr/bin/kubelet, the kubelet.service unit in %{_unitdir},
 *     /etc/default/kubelet (debs; /etc/sysconfig/kubelet on rpm), and — because dpkg-deb does not
 *     keep empty directories — /var/lib/kubelet/.kubelet-keep and /etc/kubernetes/manifests/.kubelet-keep
 *     (debs only); `Requires: iptables >= 1.4.21` (debbuild turns it into Depends; no revision of the
 *     spec has a Recommends), `Requires: mount` (debs), util-linux, and kubernetes-cni >= 1.2.0
 *     (metadata.yaml, kubelet >= 1.28);
 *   - kubeadm/kubeadm.spec: /usr/bin/kubeadm and the kubelet drop-in %{_unitdir}/kubelet.service.d/10-kubeadm.conf,
 *     which replaces the unit's bare ExecStart with one taking kubeadm's kubeconfig, config file
 *     and flag files (/var/lib/kubelet/kubeadm-flags.env, /etc/default/kubelet).
 * The unit texts below are written for the doubles; they carry the settings that matter to
 * systemd's handling (ExecStart, Environment, EnvironmentFile, Restart), not upstream's wording.
 */
'use strict';

const UNIT_DIR = '/usr/lib/systemd/system';

const KUBELET_UNIT = `# kubelet.service as the kubelet package installs it (TEST DOUBLE payload)
[Unit]
Description=kubelet: the Kubernetes node agent
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
RestartSec=10
StartLimitInterval=0

[Install]
WantedBy=multi-user.target
`;

const KUBEADM_DROPIN = `# 10-kubeadm.conf as the kubeadm package installs it (TEST DOUBLE payload)
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** Package name → { path: [content, mode] } (the binaries are added by the installer: they are the doubles). */
const PACKAGES = {
  kubelet: {
    [`${UNIT_DIR}/kubelet.service`]: [KUBELET_UNIT, 0o644],
    '/etc/default/kubelet': ['KUBELET_EXTRA_ARGS=\n', 0o644],
    '/var/lib/kubelet/.kubelet-keep': ['', 0o644],
    '/etc/kubernetes/manifests/.kubelet-keep': ['', 0o644],
  },
  kubeadm: {
    [`${UNIT_DIR}/kubelet.service.d/10-kubeadm.conf`]: [KUBEADM_DROPIN, 0o644],
  },
};

/** Binaries each package ships in /usr/bin, by the name of the TEST DOUBLE that plays them. */
const BINARIES = { kubelet: ['kubelet'], kubeadm: ['kubeadm'], kubectl: ['kubectl'] };

module.exports = { PACKAGES, BINARIES, UNIT_DIR };
