/**
 * Where the TEST DOUBLES live and how to put them on a child's PATH. The doubles stand in for
 * kubeadm, kubectl, systemctl, containerd, kubelet and cloud-init: they enforce what the real tools
 * enforce on kubeseed's calls, never act on the real machine (everything below KUBESEED_TEST_ROOT)
 * and record each call as a JSON line in KUBESEED_DOUBLE_LOG.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../generator/util/package-root.ts';

/** The directory to put first on PATH. */
export const DOUBLES_DIR = join(packageRoot(import.meta.dirname), 'test', 'doubles', 'bin');
export const DOUBLE_NAMES = ['kubeadm', 'kubectl', 'systemctl', 'containerd', 'kubelet', 'cloud-init', 'etcd-gateway'] as const;

export interface DoubleEnvOptions {
  root: string;
  log: string;
  clusterState?: string;
  fail?: string;
  timeScale?: number;
  sleepMs?: string;
  active?: string[];
  kubernetesVersion?: string;
  containerdVersion?: string;
}

/**
 * Environment for a process whose PATH finds the doubles first. The rest of PATH is the system
 * directories only, so a real cloud-init/kubeadm on the test machine is never reached.
 */
export function doubleEnv(o: DoubleEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: `${DOUBLES_DIR}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`,
    KUBESEED_TEST_ROOT: o.root,
    KUBESEED_DOUBLE_LOG: o.log,
  };
  if (o.clusterState) env.KUBESEED_DOUBLE_CLUSTER_STATE = o.clusterState;
  if (o.fail) env.KUBESEED_DOUBLE_FAIL = o.fail;
  if (o.timeScale !== undefined) env.KUBESEED_DOUBLE_TIME_SCALE = String(o.timeScale);
  if (o.sleepMs) env.KUBESEED_DOUBLE_SLEEP_MS = o.sleepMs;
  if (o.active) env.KUBESEED_DOUBLE_ACTIVE = o.active.join(',');
  if (o.kubernetesVersion) env.KUBESEED_DOUBLE_K8S_VERSION = o.kubernetesVersion;
  if (o.containerdVersion) env.KUBESEED_DOUBLE_CONTAINERD_VERSION = o.containerdVersion;
  return env;
}

export interface DoubleCall {
  time: string;
  ms: number;
  tool: string;
  argv: string[];
  exit: number;
  root?: string;
  error?: string;
  configMode?: number | null;
  [key: string]: unknown;
}

/** The recorded calls, in order. */
export function readDoubleLog(path: string): DoubleCall[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as DoubleCall);
}

export function doublePath(name: (typeof DOUBLE_NAMES)[number]): string {
  return join(DOUBLES_DIR, name);
}
