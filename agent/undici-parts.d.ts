/**
 * Types for the two undici modules the agent imports directly (instead of the package index,
 * which loads every dispatcher, mock, cache and fetch module: ~7 MB more resident memory).
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';

  const UndiciAgent: typeof Agent;
  export default UndiciAgent;
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici';

  /** Called with the dispatcher as `this` (undici mixes it into Dispatcher.prototype). */
  function request(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  export default request;
}
