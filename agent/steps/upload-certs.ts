/**
 * upload-certs: on a joined control plane, `kubeadm init phase upload-certs --upload-certs
 * --config F --skip-certificate-key-print` (the config carries certificateKey and, for external
 * etcd, the etcd files), opening a fresh two-hour kubeadm-certs window.
 */
import type { StepResults } from '../../protocol/wire.ts';
import { buildKubeadmArgv } from '../kubeadm-argv.ts';
import { ADMIN_CONF, kubeadmConfigPath, StepFailure, type StepRun } from './step-run.ts';

export async function runUploadCerts(run: StepRun<'upload-certs'>): Promise<StepResults> {
  const configPath = kubeadmConfigPath(run.step);
  if (!(await run.fs.exists(ADMIN_CONF)))
    throw new StepFailure('admin-conf-missing', `${ADMIN_CONF} is missing: upload-certs runs on a joined control plane`);
  await run.writeFiles();
  await run.mustRun(
    buildKubeadmArgv('upload-certs', {
      config: configPath,
      uploadCerts: true,
      skipCertificateKeyPrint: true,
      verbosity: run.step.params.verbosity,
    }),
  );
  return {};
}
