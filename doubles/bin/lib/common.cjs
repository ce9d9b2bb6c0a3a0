/**
 * Shared plumbing of kubeseed's TEST DOUBLES (stand-ins for kubeadm, kubectl, systemctl, ...).
 * They never touch the real machine: every host path is resolved below $KUBESEED_TEST_ROOT, and a
 * double refuses to run without it. Environment:
 *   KUBESEED_TEST_ROOT            host root for this machine (required)
 *   KUBESEED_DOUBLE_LOG           JSON-lines call log (one line per call: time, tool, argv, exit, ...)
 *   KUBESEED_DOUBLE_CLUSTER_STATE shared "cluster" state file (default <root>/.doubles/cluster.json)
 *   KUBESEED_DOUBLE_FAIL          fail the first N matching calls: "kubeadm join=1,kubectl apply=2"
 *   KUBESEED_DOUBLE_TIME_SCALE    multiply built-in durations of kubeadm phases (default 0: no sleep)
 *   KUBESEED_DOUBLE_SLEEP_MS      explicit sleeps: "kubeadm init=1500,kubeadm join=800"
 *   KUBESEED_DOUBLE_NODE_GRACE_MS how long a Node whose kubelet stopped still reads Ready (default 40000)
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function testRoot() {
  const root = process.env.KUBESEED_TEST_ROOT;
  if (!root || !path.isAbsolute(root) || root === '/') {
    process.stderr.write('TEST DOUBLE: KUBESEED_TEST_ROOT must name a temporary root directory; refusing to run\n');
    process.exit(97);
  }
  return root;
}

/** Host path → path below the test root. */
function hostPath(p) {
  if (!p.startsWith('/')) p = path.resolve('/', p);
  return path.join(testRoot(), p);
}

function doublesDir() {
  const dir = path.join(testRoot(), '.doubles');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function clusterStatePath() {
  return process.env.KUBESEED_DOUBLE_CLUSTER_STATE || path.join(doublesDir(), 'cluster.json');
}

/** Read-modify-write of the shared cluster state under a crude lock file (several hosts may share it). */
function withClusterState(fn) {
  const file = clusterStatePath();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
  try {
    let state = { nodes: {}, applied: [], tokens: [], apiServer: false, etcd: null, certs: null, etcdMembers: [] };
    try {
      state = { ...state, ...JSON.parse(fs.readFileSync(file, 'utf8')) };
    } catch {}
    const result = fn(state);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2));
    fs.renameSync(`${file}.tmp`, file);
    return result;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function readClusterState() {
  try {
    return JSON.parse(fs.readFileSync(clusterStatePath(), 'utf8'));
  } catch {
    return { nodes: {}, applied: [], tokens: [], apiServer: false, etcd: null, certs: null, etcdMembers: [] };
  }
}

function recordCall(tool, argv, exit, extra = {}) {
  const log = process.env.KUBESEED_DOUBLE_LOG;
  if (!log) return;
  const line = JSON.stringify({
    time: new Date().toISOString(),
    ms: Date.now(),
    tool,
    argv,
    exit,
    root: process.env.KUBESEED_TEST_ROOT,
    ...extra,
  });
  fs.appendFileSync(log, `${line}\n`);
}

function parseList(value) {
  const out = new Map();
  for (const part of (value || '').split(',')) {
    const [k, v] = part.split('=');
    if (k && v) out.set(k.trim(), Number(v));
  }
  return out;
}

/** true when this call must fail (KUBESEED_DOUBLE_FAIL "tool sub=N": the first N calls fail). */
function shouldFail(tool, sub) {
  const wanted = parseList(process.env.KUBESEED_DOUBLE_FAIL).get(`${tool} ${sub}`);
  if (!wanted) return false;
  const file = path.join(doublesDir(), 'fail-counts.json');
  let counts = {};
  try {
    counts = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {}
  const key = `${tool} ${sub}`;
  const n = counts[key] || 0;
  if (n >= wanted) return false;
  counts[key] = n + 1;
  fs.writeFileSync(file, JSON.stringify(counts));
  return true;
}

/** Sleeps for a phase: explicit KUBESEED_DOUBLE_SLEEP_MS, else builtin × KUBESEED_DOUBLE_TIME_SCALE. */
function sleepFor(tool, sub, builtinMs) {
  const explicit = parseList(process.env.KUBESEED_DOUBLE_SLEEP_MS).get(`${tool} ${sub}`);
  const scale = Number(process.env.KUBESEED_DOUBLE_TIME_SCALE || 0);
  const ms = explicit ?? Math.round(builtinMs * scale);
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function writeHostFile(p, content, mode = 0o600) {
  const full = hostPath(p);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, content, { mode });
  fs.chmodSync(full, mode);
}

function hostExists(p) {
  return fs.existsSync(hostPath(p));
}

function hostList(p) {
  try {
    return fs.readdirSync(hostPath(p));
  } catch {
    return [];
  }
}

function readHostFile(p) {
  try {
    return fs.readFileSync(hostPath(p), 'utf8');
  } catch {
    return null;
  }
}

/**
 * Where a PATH entry lives on this host: an entry already below the test root (unit tests put the
 * installed doubles in <root>/usr/local/bin) is taken as is, any other entry is a host path.
 */
function pathEntryOnHost(dir) {
  const root = testRoot();
  return dir === root || dir.startsWith(`${root}/`) ? dir : hostPath(dir);
}

/**
 * Go's exec.LookPath as kubeadm's InPathCheck uses it: the first PATH entry holding an executable
 * regular file of that name, or null. Resolved on this host (below the test root).
 */
function lookPath(name) {
  for (const dir of (process.env.PATH || '').split(':')) {
    if (!dir) continue;
    const file = path.join(pathEntryOnHost(dir), name);
    try {
      const st = fs.statSync(file);
      if (st.isFile() && (st.mode & 0o111) !== 0) return file;
    } catch {}
  }
  return null;
}

/**
 * The Ready condition the API server shows for a registered Node. Its kubelet posts Ready once the
 * pod network is up (here: once a CNI manifest was applied). A kubelet that stopped (kubeadm reset
 * stops it) posts nothing more, and its Node stays as it was until the node lifecycle controller's
 * --node-monitor-grace-period has passed (40 s: pkg/controller/nodelifecycle/config/v1alpha1/
 * defaults.go; KUBESEED_DOUBLE_NODE_GRACE_MS here), then reads Unknown, "Kubelet stopped posting
 * node status." (pkg/controller/nodelifecycle/node_lifecycle_controller.go).
 */
function nodeReadyCondition(state, node, now = Date.now()) {
  const grace = Number(process.env.KUBESEED_DOUBLE_NODE_GRACE_MS || 40_000);
  if (node.kubeletStoppedAt !== undefined && now - node.kubeletStoppedAt >= grace)
    return { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' };
  return state.cniApplied
    ? { type: 'Ready', status: 'True', reason: 'KubeletReady' }
    : { type: 'Ready', status: 'False', reason: 'KubeletNotReady' };
}

module.exports = {
  testRoot,
  hostPath,
  withClusterState,
  readClusterState,
  recordCall,
  shouldFail,
  sleepFor,
  writeHostFile,
  hostExists,
  hostList,
  readHostFile,
  lookPath,
  nodeReadyCondition,
};
