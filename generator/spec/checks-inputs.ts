/**
 * Spec checks for values that templates and renderers write into host files, which a field
 * pattern in schema.ts cannot express alone: map keys, non-empty lists, port ranges. Each refuses,
 * located, what a template's last-line assertion would otherwise refuse late during `generate`
 * (test/unit/spec/template-inputs.test.ts pairs each with that assertion). Pure.
 */
import { isIPv4, isIPv6 } from '../util/ip.ts';
import type { SpecReader } from './reader.ts';
import type { ClusterSpec } from './types.ts';

/** A registry containerd keeps a hosts.toml for (templates/containerd.ts assertRegistry). */
const REGISTRY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i;
/** `host:port` or `[v6]:port`, as generator/render/pxe.ts reads coordinator.httpListen. */
const LISTEN = /^(?:\[[^\]]*\]|[^:]*):(\d{1,5})$/;

/** A DNS-1123 subdomain, optionally behind `*.`: what kubeadm's ValidateCertSANs accepts besides IPs. */
const SAN_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkTemplateInputs(spec: ClusterSpec, r: SpecReader): void {
  for (const [i, san] of spec.certificates.extraSANs.entries()) {
    if (isIPv4(san) || isIPv6(san) || (san.length <= 253 && SAN_NAME.test(san))) continue;
    r.error(
      ['spec', 'certificates', 'extraSANs', i],
      `"${san}" is not an IP address or a DNS name (lower-case letters, digits, "-" and "."; a leading "*." is allowed): kubeadm refuses it in the API server certificate's names`,
    );
  }
  for (const [registry, mirrors] of Object.entries(spec.mirrors.registryMirrors)) {
    const at = ['spec', 'mirrors', 'registryMirrors', registry];
    if (registry !== '_default' && !REGISTRY.test(registry))
      r.error(at, `"${registry}" is not a registry host[:port] (like docker.io or registry.lan:5000) or _default`, 'key');
    else if (mirrors.length === 0) r.error(at, `lists no mirror; name at least one, like ${registry}: [https://mirror.lan]`);
  }
  const seen = new Set([spec.coordinator.url]);
  for (const [i, url] of spec.coordinator.replicaUrls.entries()) {
    if (seen.has(url))
      r.error(
        ['spec', 'coordinator', 'replicaUrls', i],
        `"${url}" is listed twice (or is coordinator.url); name each other replica of kubeseed serve once`,
      );
    seen.add(url);
  }
  const listen = spec.coordinator.httpListen;
  if (listen) {
    const port = Number(LISTEN.exec(listen)?.[1] ?? 0);
    if (port < 1 || port > 65535)
      r.error(['spec', 'coordinator', 'httpListen'], `"${listen}" is not host:port with a port 1–65535; write it like 0.0.0.0:8080`);
  }
}
