/** Public surface of the coordinator (`kubeseed serve` and the operator commands). */

export {
  type AdminConnection,
  AdminError,
  approveHost,
  closeAdminClients,
  fetchStatus,
  type HostListing,
  listHosts,
  rebindHost,
  removeHost,
  retryHost,
} from './admin-client.ts';
export { AGENT_ARCHES } from './agent-binaries.ts';
export { type AppOptions, BODY_LIMIT, buildApp, STATUS_RESPONSE_SCHEMA } from './app.ts';
export { startBootListener } from './boot-listener.ts';
export {
  type BuildStepFn,
  type Clock,
  Coordinator,
  type CoordinatorEvent,
  type CoordinatorInputs,
  type CoordinatorOptions,
  type EnrollmentMatch,
  type EnrollmentVerifier,
  type HostStatus,
  type RolloutStatus,
  type StepStatus,
} from './coordinator.ts';
export { ApiError } from './errors.ts';
export { type FleetMatch, matchFleetHost } from './fleet-match.ts';
export {
  type ApiServerAccess,
  type BootstrapTokenSpec,
  bootstrapTokenSecret,
  type ClientCredentials,
  createKubernetesApi,
  type KubernetesApi,
  KubernetesApiError,
} from './kubernetes-api.ts';
export { loadCoordinatorState } from './load-state.ts';
export type { AuditEntry } from './rollout/audit.ts';
export {
  applyReport,
  createSchedulerConfig,
  type Decision,
  decide,
  isHostDone,
  planRemoval,
  type Schedule,
  type SchedulerConfig,
} from './scheduler.ts';
export {
  type ListenAddress,
  type LoadedState,
  parseListen,
  type RunningCoordinator,
  runServe,
  type ServeHandle,
  type ServeOptions,
  startCoordinator,
} from './serve.ts';
export { JournalStore, MemoryStore, openStore, type Store, StoreError } from './store/index.ts';
