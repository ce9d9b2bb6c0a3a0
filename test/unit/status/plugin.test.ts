/**
 * statusPagePlugin through `inject`: the shell and assets need no token and carry no data, are
 * self-contained (nothing loaded from another origin), and are served with a strict CSP; the
 * status API next to them still needs the operator token and refuses agent credentials.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleStatusPage, renderShell, STATUS_PAGE_CSP } from '../../../server/status-page/index.ts';
import { signedHeaders } from '../server/support.ts';
import { credentialOf, OPERATOR_TOKEN, type SimulatedRollout, startSimulation } from './rollout-sim.ts';

let sim: SimulatedRollout;
beforeAll(async () => {
  sim = await startSimulation();
});
afterAll(async () => {
  await sim.close();
});

describe('statusPagePlugin', () => {
  it('serves the shell at / without a token, with no data and a strict CSP', async () => {
    const res = await sim.app.inject({ url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(STATUS_PAGE_CSP);
    expect(STATUS_PAGE_CSP).toContain("connect-src 'self'");
    expect(STATUS_PAGE_CSP).not.toContain('unsafe-inline');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const { version } = await bundleStatusPage();
    expect(res.body).toBe(renderShell(version));
    expect(res.body).toContain(`/status/app.js?v=${version}`);
    // No host, step or token in the shell.
    for (const name of sim.hosts) expect(res.body).not.toContain(`>${name}<`);
    expect(res.body).not.toContain(OPERATOR_TOKEN);
    expect(res.body).not.toMatch(/<script>|style=/);
  });

  it('serves the bundled script and stylesheet, cacheable for good under their version', async () => {
    const { version } = await bundleStatusPage();
    const js = await sim.app.inject({ url: `/status/app.js?v=${version}` });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.body).toContain('/v1/events');
    expect(js.body).toContain('operator token required');
    const css = await sim.app.inject({ url: '/status/app.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('no-cache');
    expect(css.body).toContain('@media');
    // Self-contained: no URL of another origin, no @import, no web font.
    for (const body of [js.body, css.body]) {
      expect(body).not.toMatch(/https?:\/\//);
      expect(body).not.toMatch(/@import|@font-face|\/\/cdn/);
    }
  });

  it('refuses query strings it does not know (a token belongs in the fragment, not the URL)', async () => {
    expect((await sim.app.inject({ url: `/?token=${OPERATOR_TOKEN}` })).statusCode).toBe(400);
    expect((await sim.app.inject({ url: '/status/app.js?v=../../x' })).statusCode).toBe(400);
    expect((await sim.app.inject({ url: '/status/other.js' })).statusCode).toBe(404);
  });

  it('leaves the status API to the operator token: none, an agent credential, or a wrong one get 401', async () => {
    await sim.enroll('cp1');
    for (const headers of [{}, { authorization: `Bearer ${credentialOf('cp1')}` }, { authorization: 'Bearer nope' }]) {
      expect((await sim.app.inject({ url: '/v1/status', headers })).statusCode).toBe(401);
    }
    // A correctly signed request of an enrolled agent does not open it either.
    const agent = sim.agents.get('cp1')!;
    const next = await sim.app.inject({ url: '/v1/next?wait=0', headers: signedHeaders(agent, 'GET', '/v1/next?wait=0', '', Date.now()) });
    expect([200, 204], 'the same signing works on an agent route').toContain(next.statusCode);
    for (const url of ['/v1/status', '/v1/events']) {
      const signed = await sim.app.inject({ url, headers: signedHeaders(agent, 'GET', url, '', Date.now()) });
      expect(signed.statusCode, url).toBe(401);
    }
    const ok = await sim.app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().hosts.map((h: { name: string }) => h.name)).toEqual(sim.hosts);
  });
});
