/**
 * Kernel arguments shared by the cloud-init families' PXE boot: DHCP and the NoCloud seed URL
 * (`ds=nocloud;s=…/`, one iPXE token that needs no escaping).
 *
 * Runtime contract: pure.
 */
import type { IpxeArgChecks, IpxeBootInput } from './types.ts';

/** `ip=dhcp`, then `between` (the family's installer arguments), then the seed. */
export function noCloudKernelArgs(input: IpxeBootInput, check: IpxeArgChecks, between: string[] = []): string[] {
  if (!input.seedUrl) throw new Error(`${input.family} PXE boot needs seedUrl (the NoCloud base URL)`);
  check.httpUrl(input.seedUrl, 'seedUrl');
  if (!input.seedUrl.endsWith('/')) throw new Error(`seedUrl must end with "/" (cloud-init appends user-data/meta-data): ${input.seedUrl}`);
  return ['ip=dhcp', ...between, `ds=nocloud;s=${input.seedUrl}`];
}
