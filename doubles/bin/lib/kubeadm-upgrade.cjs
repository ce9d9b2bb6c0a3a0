/**
 * `kubeadm upgrade plan|apply|node` and `kubeadm certs renew` for the kubeadm TEST DOUBLE (NOT
 * kubeadm). Upstream behaviours reproduced (kubernetes/kubernetes cmd/kubeadm/app/…, and the
 * "Upgrading kubeadm clusters" task page on kubernetes.io):
 *   - apply needs the version argument ("missing one or more required arguments", cmd/upgrade/apply.go);
 *   - apply and plan check the cluster's health first: the API server answers, every control-plane
 *     Node is Ready (ControlPlaneNodesReady) and this host has the static Pod manifests
 *     (StaticPodManifest); --ignore-preflight-errors skips a check (phases/upgrade/health.go);
 *   - the cluster version comes from the kubeadm-config ConfigMap: no cluster (no init) → FATAL
 *     (cmd/upgrade/common.go enforceRequirements);
 *   - the version skew policy (phases/upgrade/policy.go EnforceVersionPolicies): more than one minor
 *     up or down, a target below the minimum control-plane version, or a minor above kubeadm's own
 *     are fatal; a patch above kubeadm's, a kubeadm minor above the target's, kubelets more than
 *     MaximumAllowedMinorVersionKubeletSkew minors behind, and pre-releases without
 *     --allow-*-upgrades are errors only --force bypasses. A patch downgrade with a kubeadm of the
 *     same minor passes: kubeadm has no --allow-downgrade flag and does not refuse it (kubeseed does);
 *   - apply asks "[upgrade/confirm] Are you sure you want to proceed with the upgrade? [y/N]" unless
 *     -y/--yes, -f/--force or --dry-run; no answer → "won't proceed" (cmd/upgrade/common.go);
 *   - apply upgrades this host's static Pods to the target, renews their certificates unless
 *     --certificate-renewal=false, uploads the new ClusterConfiguration (kubernetesVersion) and
 *     prints "[upgrade/successful] SUCCESS!"; it does not touch the kubelet package;
 *   - `upgrade node` reads kubernetesVersion from the cluster (what apply uploaded): on a control
 *     plane it upgrades the static Pods to it, on any node it rewrites the kubelet configuration
 *     (phases/upgrade/node/*.go); it takes no version argument;
 *   - plan without a version looks up the latest stable release on the internet; offline it says so
 *     and falls back to kubeadm's own version (phases/upgrade/versiongetter.go); "Awesome, you're
 *     up-to-date! Enjoy!" when nothing is newer (cmd/upgrade/plan.go);
 *   - `certs renew <name>|all` renews from the local CAs; with external etcd the etcd leaves and
 *     apiserver-etcd-client are not kubeadm's (certs.GetCertsWithoutEtcd): a named one prints
 *     "MISSING! …" and exits 0, `all` skips them; a leaf whose file is absent prints "MISSING! …";
 *     `all` ends with "Done renewing certificates. You must restart the kube-apiserver, …"
 *     (cmd/certs.go, phases/certs/renewal/manager.go). kubelet.conf is never renewed (the kubelet
 *     rotates it). The double re-signs a real PEM leaf with openssl (same key and extensions, one
 *     more year), and so the client certificate a kubeconfig embeds (renewal/manager.go renews it
 *     in place in the file: kubeconfigs keep their key); it rewrites a placeholder leaf and records
 *     every renewal in the cluster state.
 * The installed kubeadm's version: <root>/.doubles/kubeadm-version (what a package install left),
 * else $KUBESEED_DOUBLE_K8S_VERSION, else v1.37.1.
 */
'use strict';
const fs = require('node:fs');
const c = require('./common.cjs');

const DEFAULT_VERSION = 'v1.37.1';
/** constants.go: kubelets may be this many minors older than the control plane (1.28+). */
const KUBELET_SKEW = 3;

function kubeadmVersion() {
  const installed = c.readHostFile('/.doubles/kubeadm-version');
  if (installed?.trim()) return installed.trim();
  return process.env.KUBESEED_DOUBLE_K8S_VERSION || DEFAULT_VERSION;
}

/** k8s.io/apimachinery version.ParseSemantic, enough for release and pre-release versions. */
function parseVersion(text) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(String(text));
  if (!m) return null;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    pre: m[4] || '',
    text: `v${m[1]}.${m[2]}.${m[3]}${m[4] ? `-${m[4]}` : ''}`,
  };
}

function compare(a, b) {
  for (const k of ['major', 'minor', 'patch']) if (a[k] !== b[k]) return a[k] - b[k];
  if (a.pre === b.pre) return 0;
  if (!a.pre) return 1;
  if (!b.pre) return -1;
  return a.pre < b.pre ? -1 : 1;
}

/** phases/upgrade/policy.go EnforceVersionPolicies: { mandatory, skippable } messages. */
function versionPolicies(target, cluster, kubeadm, kubelets, allow) {
  const mandatory = [];
  const skippable = [];
  const minimum = { ...kubeadm, minor: kubeadm.minor - 1, patch: 0, pre: '' };
  if (compare(target, minimum) < 0)
    mandatory.push(
      `Specified version to upgrade to "${target.text}" is equal to or lower than the minimum supported version "${cluster.text}". Please specify a higher version to upgrade to`,
    );
  const pushByStability = (msg) => (target.pre ? skippable : mandatory).push(msg);
  if (target.minor > cluster.minor + 1)
    pushByStability(`Specified version to upgrade to "${target.text}" is too high; kubeadm can upgrade only 1 minor version at a time`);
  if (target.minor < cluster.minor - 1)
    pushByStability(`Specified version to downgrade to "${target.text}" is too low; kubeadm can downgrade only 1 minor version at a time`);
  if (compare(kubeadm, target) < 0) {
    if (target.minor > kubeadm.minor)
      pushByStability(
        `Specified version to upgrade to "${target.text}" is at least one minor release higher than the kubeadm minor release (${target.minor} > ${kubeadm.minor}). Such an upgrade is not supported`,
      );
    else
      skippable.push(
        `Specified version to upgrade to "${target.text}" is higher than the kubeadm version "${kubeadm.text}". Upgrade kubeadm first using the tool you used to install kubeadm`,
      );
  }
  if (kubeadm.major > target.major || kubeadm.minor > target.minor)
    skippable.push(`Kubeadm version ${kubeadm.text} can only be used to upgrade to Kubernetes version ${kubeadm.major}.${kubeadm.minor}`);
  if (target.pre && !allow.experimental && !(target.pre.startsWith('rc') && allow.rc))
    skippable.push(
      `Specified version to upgrade to "${target.text}" is an unstable version and such upgrades weren't allowed via setting the --allow-*-upgrades flags`,
    );
  const old = kubelets.filter((v) => target.minor > v.minor + KUBELET_SKEW).map((v) => v.text);
  if (old.length > 0)
    skippable.push(`There are kubelets in this cluster that are too old that have these versions [${[...new Set(old)].join(' ')}]`);
  return { mandatory, skippable };
}

const formatErrors = (list) => list.map((e) => `\t- ${e}`).join('\n');

/**
 * Runs one of the upgrade/renew subcommands. `ctx` carries the double's helpers:
 * { name, positional, flags, out, err, fail, finish, ignoredCheck, nodeName }.
 */
function runUpgrade(ctx) {
  const { name, positional, flags, out, fail, finish } = ctx;
  const state = c.readClusterState();
  const boolFlag = (f) => flags.has(f) && flags.get(f) !== 'false';
  const kubeadm = parseVersion(kubeadmVersion());
  const nodeName = ctx.nodeName();
  const isControlPlane = c.hostExists('/etc/kubernetes/manifests/kube-apiserver.yaml');

  if (name === 'certs-renew') return renewCerts(ctx, state, nodeName);

  if (name === 'upgrade-apply' && positional.length === 0) fail(1, 'missing one or more required arguments. Required arguments: [version]');
  if (!state.apiServer)
    fail(
      1,
      `[upgrade/health] FATAL: couldn't create a Kubernetes client from file "/etc/kubernetes/admin.conf": Get "https://${state.endpoint || 'api'}/version": dial tcp: connect: connection refused`,
    );
  if (name !== 'upgrade-node') {
    out('[preflight] Running pre-flight checks.');
    const checks = [];
    const notReady = Object.entries(state.nodes || {})
      .filter(([, n]) => n.role === 'control-plane' && !state.cniApplied)
      .map(([n]) => n);
    if (notReady.length > 0)
      checks.push(['ControlPlaneNodesReady', `there are NotReady control-planes in the cluster: [${notReady.join(' ')}]`]);
    const missing = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].filter(
      (m) => !c.hostExists(`/etc/kubernetes/manifests/${m}.yaml`),
    );
    if (missing.length > 0)
      checks.push([
        'StaticPodManifest',
        missing.map((m) => `the manifest for component ${m} does not exist: /etc/kubernetes/manifests/${m}.yaml`).join(', '),
      ]);
    const fatal = [];
    for (const [check, message] of checks) {
      if (ctx.ignoredCheck(check)) ctx.err(`\t[WARNING ${check}]: ${message}`);
      else fatal.push(`\t[ERROR ${check}]: ${message}`);
    }
    if (fatal.length > 0)
      fail(
        1,
        `[upgrade/health] FATAL: [preflight] Some fatal errors occurred:\n${fatal.join('\n')}\n[preflight] If you know what you are doing, you can make a check non-fatal with \`--ignore-preflight-errors=...\``,
        { preflight: true },
      );
  }
  out('[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...');
  const cluster = parseVersion(state.kubernetesVersion || '');
  if (!cluster)
    fail(
      1,
      '[upgrade/config] FATAL: the ConfigMap "kubeadm-config" in the kube-system namespace used for getting configuration information was not found',
    );

  if (name === 'upgrade-node') {
    if (c.shouldFail('kubeadm', 'upgrade-node'))
      fail(1, '[upgrade/staticpods] TEST DOUBLE: injected failure: timed out waiting for the condition', { injected: true });
    if (isControlPlane) {
      out(`[upgrade/staticpods] Upgrading the control plane instance of this node to "${cluster.text}"`);
      writeManifests(cluster.text, boolFlag('dry-run'));
      out('[upgrade] The control plane instance for this node was successfully upgraded!');
    } else {
      out('[upgrade] Skipping phase. Not a control plane node.');
    }
    out('[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!');
    c.sleepFor('kubeadm', 'upgrade-node', 20_000);
    if (!boolFlag('dry-run'))
      recordNode(nodeName, { controlPlaneVersion: isControlPlane ? cluster.text : undefined, kubeletConfigVersion: cluster.text });
    out('[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager.');
    finish(0, { nodeName, version: cluster.text });
  }

  out(`[upgrade/versions] Cluster version: ${cluster.text}`);
  out(`[upgrade/versions] kubeadm version: ${kubeadm.text}`);
  if (name === 'upgrade-plan') {
    let target = positional[0] ? parseVersion(positional[0]) : null;
    if (positional[0] && !target) fail(1, `[upgrade/versions] FATAL: unable to parse version "${positional[0]}"`);
    if (!target) {
      out(
        '[upgrade/versions] WARNING: Couldn\'t fetch latest stable version from the internet: unable to get URL "https://dl.k8s.io/release/stable.txt": TEST DOUBLE: no network',
      );
      out('[upgrade/versions] WARNING: Falling back to current kubeadm version as latest stable version');
      target = kubeadm;
    }
    if (compare(target, cluster) <= 0) {
      out("Awesome, you're up-to-date! Enjoy!");
      finish(0, { plan: null });
    }
    out(
      `\nUpgrade to the latest stable version:\n\nCOMPONENT                 NODE   CURRENT   TARGET\nkube-apiserver            ${nodeName}   ${cluster.text}   ${target.text}\n`,
    );
    out(`You can now apply the upgrade by executing the following command:\n\n\tkubeadm upgrade apply ${target.text}\n`);
    finish(0, { plan: target.text });
  }

  // upgrade apply
  const target = parseVersion(positional[0]);
  if (!target) fail(1, `[upgrade/version] FATAL: unable to parse normalized version "${positional[0]}" as a semantic version`);
  out(`[upgrade/version] You have chosen to change the cluster version to "${target.text}"`);
  const kubelets = Object.values(state.nodes || {})
    .map((n) => parseVersion(n.kubeletVersion || ''))
    .filter(Boolean);
  const skew = versionPolicies(target, cluster, kubeadm, kubelets, {
    experimental: boolFlag('allow-experimental-upgrades'),
    rc: boolFlag('allow-release-candidate-upgrades'),
  });
  const force = boolFlag('force') || boolFlag('f');
  if (skew.mandatory.length > 0)
    fail(
      1,
      `[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:\n\n${formatErrors(skew.mandatory)}\n\nPlease fix the misalignments highlighted above and try upgrading again`,
      { policy: 'mandatory' },
    );
  if (skew.skippable.length > 0) {
    if (!force)
      fail(
        1,
        `[upgrade/version] FATAL: the --version argument is invalid due to these errors:\n\n${formatErrors(skew.skippable)}\n\nCan be bypassed if you pass the --force flag`,
        { policy: 'skippable' },
      );
    out(
      `[upgrade/version] Found ${skew.skippable.length} potential version compatibility errors but skipping since the --force flag is set: \n\n${formatErrors(skew.skippable)}`,
    );
  }
  if (!(boolFlag('yes') || boolFlag('y') || force || boolFlag('dry-run'))) {
    process.stdout.write('[upgrade/confirm] Are you sure you want to proceed with the upgrade? [y/N]: ');
    fail(1, "won't proceed; the user didn't answer (Y|y) in order to continue");
  }
  if (c.shouldFail('kubeadm', 'upgrade-apply'))
    fail(
      1,
      "[upgrade/apply] FATAL: TEST DOUBLE: injected failure: couldn't upgrade control plane. kubeadm has tried to recover everything into the earlier state",
      { injected: true },
    );
  out(`[upgrade/apply] Upgrading your Static Pod-hosted control plane to version "${target.text}"...`);
  if (boolFlag('dry-run')) {
    out('[dryrun] Finished dryrunning successfully!');
    finish(0, { dryRun: true });
  }
  writeManifests(target.text, false);
  c.sleepFor('kubeadm', 'upgrade-apply', 60_000);
  const renewed = flags.get('certificate-renewal') !== 'false';
  c.withClusterState((s) => {
    s.kubernetesVersion = target.text;
    s.upgrades = [
      ...(s.upgrades || []),
      { node: nodeName, from: cluster.text, to: target.text, at: Date.now(), certificateRenewal: renewed },
    ];
  });
  recordNode(nodeName, { controlPlaneVersion: target.text, kubeletConfigVersion: target.text });
  out(`\n[upgrade/successful] SUCCESS! Your cluster was upgraded to "${target.text}". Enjoy!\n`);
  out(
    "[upgrade/kubelet] Now that your control plane is upgraded, please proceed with upgrading your kubelets if you haven't already done so.",
  );
  finish(0, { nodeName, version: target.text });
}

function writeManifests(version, dryRun) {
  if (dryRun) return;
  const state = c.readClusterState();
  const components = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', ...(state.etcd === 'stacked' ? ['etcd'] : [])];
  for (const m of components) {
    c.writeHostFile(
      `/etc/kubernetes/manifests/${m}.yaml`,
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${m}, namespace: kube-system}\nspec: {containers: [{name: ${m}, image: "registry.k8s.io/${m}:${version}"}]}\n# written by the kubeadm TEST DOUBLE (upgrade)\n`,
    );
  }
}

function recordNode(nodeName, fields) {
  c.withClusterState((s) => {
    const node = s.nodes[nodeName] || {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) node[k] = v;
    s.nodes[nodeName] = node;
  });
}

/** cmd/certs.go + renewal/manager.go: name → [long name, file]; kubeconfig certificates last. */
const LEAVES = {
  apiserver: ['certificate for serving the Kubernetes API', 'pki/apiserver.crt'],
  'apiserver-etcd-client': ['certificate the apiserver uses to access etcd', 'pki/apiserver-etcd-client.crt'],
  'apiserver-kubelet-client': ['certificate for the API server to connect to kubelet', 'pki/apiserver-kubelet-client.crt'],
  'etcd-healthcheck-client': ['certificate for liveness probes to healthcheck etcd', 'pki/etcd/healthcheck-client.crt'],
  'etcd-peer': ['certificate for etcd nodes to communicate with each other', 'pki/etcd/peer.crt'],
  'etcd-server': ['certificate for serving etcd', 'pki/etcd/server.crt'],
  'front-proxy-client': ['certificate for the front proxy client', 'pki/front-proxy-client.crt'],
  'admin.conf': ['certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself', 'admin.conf'],
  'controller-manager.conf': ['certificate embedded in the kubeconfig file for the controller manager to use', 'controller-manager.conf'],
  'scheduler.conf': ['certificate embedded in the kubeconfig file for the scheduler manager to use', 'scheduler.conf'],
  'super-admin.conf': ['certificate embedded in the kubeconfig file for the super-admin', 'super-admin.conf'],
};
const ETCD_OWNED = new Set(['apiserver-etcd-client', 'etcd-healthcheck-client', 'etcd-peer', 'etcd-server']);

function renewCerts(ctx, state, nodeName) {
  const { positional, out, fail, finish } = ctx;
  const which = positional[0];
  if (!which)
    fail(
      1,
      'TEST DOUBLE: kubeadm certs renew needs "all" or a certificate name (cobra prints the help and exits 0; kubeseed never does that)',
    );
  if (positional.length > 1) fail(1, `accepts 0 arg(s), received ${positional.length - 1}`);
  if (which !== 'all' && !LEAVES[which]) fail(1, `unknown command "${which}" for "kubeadm certs renew"`);
  if (state.apiServer) out('[renew] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n');
  else out('[renew] Error reading configuration from the Cluster. Falling back to default configuration\n');
  if (c.shouldFail('kubeadm', 'certs-renew')) fail(1, 'TEST DOUBLE: injected failure: failed to renew certificate', { injected: true });
  const external = state.etcd === 'external';
  const names = (which === 'all' ? Object.keys(LEAVES).sort() : [which]).filter((n) => which !== 'all' || !(external && ETCD_OWNED.has(n)));
  const renewed = [];
  for (const n of names) {
    const [long, file] = LEAVES[n];
    const full = `/etc/kubernetes/${file}`;
    if ((external && ETCD_OWNED.has(n)) || !c.hostExists(full)) {
      out(`MISSING! ${long}`);
      continue;
    }
    renewFile(full, ETCD_OWNED.has(n) ? '/etc/kubernetes/pki/etcd/ca' : '/etc/kubernetes/pki/ca');
    out(`${long} renewed`);
    renewed.push(n);
  }
  c.withClusterState((s) => {
    s.renewals = [...(s.renewals || []), { node: nodeName, names: renewed, at: Date.now() }];
  });
  if (which === 'all')
    out(
      '\nDone renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates.',
    );
  finish(0, { renewed });
}

/**
 * A real PEM leaf is re-signed by its CA (same key, same extensions, 365 days), and so is the client
 * certificate a kubeconfig embeds (client-certificate-data, with its client-key-data); a placeholder
 * is rewritten.
 */
function renewFile(full, ca) {
  const text = c.readHostFile(full) || '';
  const keyFile = full.replace(/\.crt$/, '.key');
  const pem = (p) => (c.readHostFile(p) || '').includes('-----BEGIN');
  if (full.endsWith('.crt') && text.includes('-----BEGIN CERTIFICATE') && pem(keyFile) && pem(`${ca}.key`)) {
    c.writeHostFile(full, resign(text, c.readHostFile(keyFile), ca), 0o644);
    return;
  }
  const embedded = (field) => {
    const data = new RegExp(`^\\s*${field}:\\s*(\\S+)\\s*$`, 'm').exec(text)?.[1];
    const decoded = data ? Buffer.from(data, 'base64').toString('utf8') : '';
    return decoded.includes('-----BEGIN') ? { data, decoded } : null;
  };
  const cert = embedded('client-certificate-data');
  const key = embedded('client-key-data');
  if (full.endsWith('.conf') && cert && key && pem(`${ca}.key`)) {
    const renewed = Buffer.from(resign(cert.decoded, key.decoded, ca)).toString('base64');
    c.writeHostFile(full, text.replace(cert.data, renewed), 0o600);
    return;
  }
  const base = text.replace(/\n# renewed by the kubeadm TEST DOUBLE at \d+\n$/, '\n');
  c.writeHostFile(
    full,
    `${base.endsWith('\n') ? base : `${base}\n`}# renewed by the kubeadm TEST DOUBLE at ${Date.now()}\n`,
    full.endsWith('.crt') ? 0o644 : 0o600,
  );
}

/** `certPem` re-signed by the CA at `${ca}.{crt,key}` (host paths) with its own key and extensions, for 365 days. */
function resign(certPem, keyPem, ca) {
  const { execFileSync } = require('node:child_process');
  const os = require('node:os');
  const path = require('node:path');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-double-renew-'));
  try {
    const [leaf, key, csr, crt] = ['leaf.pem', 'leaf.key', 'leaf.csr', 'leaf.crt'].map((f) => path.join(tmp, f));
    fs.writeFileSync(leaf, certPem);
    fs.writeFileSync(key, keyPem, { mode: 0o600 });
    execFileSync('openssl', ['x509', '-x509toreq', '-in', leaf, '-signkey', key, '-copy_extensions', 'copyall', '-out', csr], {
      stdio: 'ignore',
    });
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        c.hostPath(`${ca}.crt`),
        '-CAkey',
        c.hostPath(`${ca}.key`),
        '-CAcreateserial',
        '-CAserial',
        path.join(tmp, 'ca.srl'),
        '-copy_extensions',
        'copyall',
        '-days',
        '365',
        '-out',
        crt,
      ],
      { stdio: 'ignore' },
    );
    return fs.readFileSync(crt, 'utf8');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { runUpgrade, kubeadmVersion, parseVersion };
