/**
 * The HTML shell of the status page: no data, no inline script or style (the CSP forbids them),
 * assets referenced by content version. The operator token never appears here.
 */
export function renderShell(version: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>kubeseed rollout</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/status/app.css?v=${version}">
<script type="module" src="/status/app.js?v=${version}"></script>
</head>
<body>
<main id="app"><noscript>The rollout status page needs JavaScript. <code>kubeseed status</code> shows the same in a terminal.</noscript></main>
</body>
</html>
`;
}
