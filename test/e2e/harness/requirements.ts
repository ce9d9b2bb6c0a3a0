/** What the e2e tier needs on the machine (root plus these commands; see docs/e2e.md). */
export const E2E_COMMANDS = [
  'ip',
  'unshare',
  'nsenter',
  'chroot',
  'cloud-init',
  'haproxy',
  'keepalived',
  'etcd',
  'etcdctl',
  'curl',
  'openssl',
];
